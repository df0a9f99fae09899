"""The `pods/log` subresource: a container's log the way the kubelet serves it to `kubectl logs`.

Query parameters: `container`, `follow`, `previous`, `timestamps` (RFC 3339 with nine fractional digits),
`sinceTime`, `sinceSeconds`, `tailLines`, `limitBytes`. stdout and stderr come interleaved in the order
they were written. A follow stream ends when that container instance stops (a restart starts a new log),
or when the `flaky` scenario cuts the pod's streams.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Protocol

from aiohttp import web

from falcotui.falco.alerts import parse_iso8601_ns
from falcotui.sim.api.errors import StoreError, bad_request, not_found
from falcotui.sim.nodes.runtime import ContainerLog, LogCursor, LogRecord

POLL_INTERVAL = 0.05
CHUNK_BYTES = 64 * 1024


class LogSource(Protocol):
    def container_log(
        self, namespace: str, pod: str, container: str, previous: bool = False
    ) -> ContainerLog | None: ...


def rfc3339_nano(time_ns: int) -> str:
    """`2026-11-26T09:00:01.123456789Z`, the kubelet's fixed nine-digit form."""
    secs, frac = divmod(time_ns, 1_000_000_000)
    return f"{_second(secs)}.{frac:09d}Z"


@lru_cache(maxsize=64)
def _second(secs: int) -> str:
    """The whole-second part (a follower's batch has thousands of lines in a few seconds)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))


def make_log_handler(
    store, logs: LogSource, cut_generation: Callable[[str, str], int] | None = None
) -> Callable[[web.Request, str, str], object]:
    """The handler to register with `ApiServer.add_pod_subresource("log", ...)`."""

    async def handler(request: web.Request, namespace: str, pod_name: str) -> web.StreamResponse:
        if request.method != "GET":
            raise StoreError(
                405, "the server does not allow this method on the requested resource", "MethodNotAllowed"
            )
        pod = store.peek("pods", namespace, pod_name)
        if pod is None:
            raise not_found("pods", pod_name)
        q = request.query
        opts = _LogOptions.parse(q)
        container = _container_name(pod, q.get("container"))
        log = _pick_log(pod, logs, namespace, pod_name, container, opts.previous)
        generation = cut_generation(namespace, pod_name) if cut_generation else 0
        resp = web.StreamResponse(status=200, headers={"Content-Type": "text/plain"})
        await resp.prepare(request)
        writer = _Writer(resp, opts)
        cursor = log.open()  # the current file, opened before the first await (a rotation may come then)
        try:
            await writer.backlog(cursor)
            while opts.follow and not writer.full:
                if cut_generation is not None and cut_generation(namespace, pod_name) != generation:
                    break
                if not cursor.pending:
                    if log.closed:
                        break
                    await asyncio.sleep(POLL_INTERVAL)
                    continue
                await writer.write(cursor.read())
            await resp.write_eof()
        except (ConnectionResetError, ConnectionError):
            pass
        return resp

    return handler


# The kubelet words the common pull failures instead of naming the reason.
_WAITING = {"ErrImagePull": "image can't be pulled", "ImagePullBackOff": "trying and failing to pull image"}


class _LogOptions:
    __slots__ = ("follow", "limit_bytes", "previous", "since_ns", "tail", "timestamps")

    def __init__(self) -> None:
        self.follow = self.previous = self.timestamps = False
        self.since_ns: int | None = None
        self.tail: int | None = None
        self.limit_bytes: int | None = None

    @classmethod
    def parse(cls, q) -> _LogOptions:
        o = cls()
        o.follow = _bool(q, "follow")
        o.previous = _bool(q, "previous")
        o.timestamps = _bool(q, "timestamps")
        if "sinceTime" in q and "sinceSeconds" in q:
            raise _invalid(
                "sinceSeconds",
                q["sinceSeconds"],
                "at most one of `sinceTime` or `sinceSeconds` may be specified",
            )
        if "sinceTime" in q:
            try:
                o.since_ns = parse_iso8601_ns(q["sinceTime"])
            except ValueError:
                raise bad_request(
                    f'parsing time "{q["sinceTime"]}" as "2006-01-02T15:04:05Z07:00": cannot parse'
                ) from None
        if "sinceSeconds" in q:
            secs = _int(q, "sinceSeconds")
            if secs < 1:
                raise _invalid("sinceSeconds", q["sinceSeconds"], "must be greater than 0")
            o.since_ns = time.time_ns() - secs * 1_000_000_000
        if "tailLines" in q:
            o.tail = _int(q, "tailLines")
            if o.tail < 0:
                raise _invalid("tailLines", q["tailLines"], "must be greater than or equal to 0")
        if "limitBytes" in q:
            o.limit_bytes = _int(q, "limitBytes")
            if o.limit_bytes < 1:
                raise _invalid("limitBytes", q["limitBytes"], "must be greater than 0")
        return o


def _bool(q, name: str) -> bool:
    return q.get(name, "false").lower() in ("true", "1")


def _int(q, name: str) -> int:
    try:
        return int(q[name])
    except ValueError:
        raise bad_request(f'strconv.ParseInt: parsing "{q[name]}": invalid syntax') from None


def _invalid(field: str, value: str, message: str) -> StoreError:
    return StoreError(
        422,
        f'PodLogOptions "" is invalid: {field}: Invalid value: {value}: {message}',
        "Invalid",
        {
            "kind": "PodLogOptions",
            "causes": [{"reason": "FieldValueInvalid", "message": message, "field": field}],
        },
    )


def _container_name(pod: dict, requested: str | None) -> str:
    name = pod["metadata"]["name"]
    names = [c["name"] for c in (pod.get("spec") or {}).get("containers") or []]
    if requested:
        if requested not in names:
            raise bad_request(f"container {requested} is not valid for pod {name}")
        return requested
    if len(names) == 1:
        return names[0]
    raise bad_request(
        f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]"
    )


def _status(pod: dict, container: str) -> dict:
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        if cs.get("name") == container:
            return cs
    return {}


def _pick_log(pod: dict, logs: LogSource, ns: str, name: str, container: str, previous: bool) -> ContainerLog:
    if previous:
        log = logs.container_log(ns, name, container, previous=True)
        if log is None:
            raise bad_request(f'previous terminated container "{container}" in pod "{name}" not found')
        return log
    log = logs.container_log(ns, name, container)
    if log is None:
        reason = ((_status(pod, container).get("state") or {}).get("waiting") or {}).get(
            "reason", "ContainerCreating"
        )
        why = _WAITING.get(reason, reason)
        raise bad_request(f'container "{container}" in pod "{name}" is waiting to start: {why}')
    return log


class _Writer:
    """Formats records and writes them in chunks, honouring timestamps/since/limitBytes."""

    def __init__(self, resp: web.StreamResponse, opts: _LogOptions) -> None:
        self.resp = resp
        self.opts = opts
        self.left = opts.limit_bytes
        self.full = False

    async def backlog(self, cursor: LogCursor) -> None:
        records = cursor.backlog()  # a new request reads the current file only (kubelet logs.go)
        if self.opts.tail is not None:
            records = records[-self.opts.tail :] if self.opts.tail else []
        await self.write(records)

    async def write(self, records: list[tuple[int, LogRecord]]) -> None:
        buf: list[bytes] = []
        size = 0
        since = self.opts.since_ns
        stamps = self.opts.timestamps
        for _seq, rec in records:
            if since is not None and rec.time_ns < since:
                continue
            line = f"{rfc3339_nano(rec.time_ns)} {rec.text}\n" if stamps else f"{rec.text}\n"
            data = line.encode("utf-8", "replace")
            if self.left is not None:
                if len(data) >= self.left:
                    buf.append(data[: self.left])
                    self.left = 0
                    self.full = True
                    break
                self.left -= len(data)
            buf.append(data)
            size += len(data)
            if size >= CHUNK_BYTES:
                await self.resp.write(b"".join(buf))
                buf.clear()
                size = 0
        if buf:
            await self.resp.write(b"".join(buf))
