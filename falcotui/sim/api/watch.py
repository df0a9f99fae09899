"""Watch streams: chunked newline-delimited JSON events (ADDED/MODIFIED/DELETED/BOOKMARK/ERROR).

One coroutine per watch request. It subscribes to the store and reads the requested history in the same
synchronous step, so no change falls between them, then streams until the client leaves, the timeout
passes, or the server closes all watches (a fault hook).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import orjson
from aiohttp import web

from falcotui.sim.api.errors import StoreError
from falcotui.sim.api.resources import ResourceInfo
from falcotui.sim.api.selectors import Predicate
from falcotui.sim.api.store import Store, WatchEvent, filter_event

Transform = Callable[[dict], dict]


class WatchHub:
    """Tracks live watch streams so a fault hook can end them all at once."""

    def __init__(self, bookmark_interval: float = 5.0) -> None:
        self.bookmark_interval = bookmark_interval
        self._closers: set[asyncio.Event] = set()

    def register(self) -> asyncio.Event:
        ev = asyncio.Event()
        self._closers.add(ev)
        return ev

    def unregister(self, ev: asyncio.Event) -> None:
        self._closers.discard(ev)

    def close_all(self) -> int:
        n = len(self._closers)
        for ev in list(self._closers):
            ev.set()
        return n

    @property
    def active(self) -> int:
        return len(self._closers)


def _line(type_: str, obj: dict) -> bytes:
    return orjson.dumps({"type": type_, "object": obj}) + b"\n"


def _event_line(store: Store, ri: ResourceInfo, type_: str, obj: dict, transform: Transform | None) -> bytes:
    if transform is not None:
        return _line(type_, transform(obj))
    return b'{"type":"' + type_.encode() + b'","object":' + store.encoded(ri.plural, obj) + b"}\n"


async def serve_watch(
    request: web.Request,
    store: Store,
    hub: WatchHub,
    ri: ResourceInfo,
    namespace: str | None,
    pred: Predicate | None,
    transform: Transform | None,
) -> web.StreamResponse:
    q = request.query
    rv_text = q.get("resourceVersion", "")
    bookmarks = q.get("allowWatchBookmarks") in ("true", "1")
    send_initial = q.get("sendInitialEvents") in ("true", "1")
    try:
        timeout = float(q["timeoutSeconds"]) if q.get("timeoutSeconds") else None
    except ValueError:
        raise StoreError(400, f"invalid timeoutSeconds: {q['timeoutSeconds']!r}") from None

    try:
        rv = int(rv_text) if rv_text else 0
    except ValueError:
        raise StoreError(400, f'invalid resource version: "{rv_text}"', "BadRequest") from None
    sub = store.subscribe({ri.plural}, copy=False)
    try:
        pending: list[tuple[str, dict]] = []
        expired: StoreError | None = None
        if rv == 0 or send_initial:
            for obj in store.peek_list(ri.plural, namespace):
                if pred is None or pred(obj):
                    pending.append(("ADDED", obj))
            start_rv = store.resource_version
            if send_initial and bookmarks:
                pending.append(("BOOKMARK-END", {}))
        else:
            start_rv = rv
            try:
                for ev in store.events_since(ri.plural, namespace, rv, match=pred):
                    pending.append((ev.type, ev.object))
            except StoreError as exc:
                expired = exc
        resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        resp.enable_chunked_encoding()
        closer = hub.register()
        try:
            await resp.prepare(request)
            if expired is not None:
                await resp.write(_line("ERROR", expired.status()))
            else:
                await _stream(resp, store, sub, hub, ri, namespace, pred, transform, pending, start_rv,
                              bookmarks, timeout, closer)  # fmt: skip
            await resp.write_eof()
        except ConnectionError:
            pass  # the client went away (possibly before the first byte): nothing left to tell it
        finally:
            hub.unregister(closer)
        return resp
    finally:
        store.unsubscribe(sub)


def _bookmark(ri: ResourceInfo, rv: int, end: bool = False) -> dict:
    meta: dict = {"resourceVersion": str(rv)}
    if end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    return {"kind": ri.kind, "apiVersion": ri.api_version, "metadata": meta}


async def _stream(
    resp: web.StreamResponse,
    store: Store,
    sub: asyncio.Queue,
    hub: WatchHub,
    ri: ResourceInfo,
    namespace: str | None,
    pred: Predicate | None,
    transform: Transform | None,
    pending: list[tuple[str, dict]],
    last_rv: int,
    bookmarks: bool,
    timeout: float | None,
    closer: asyncio.Event,
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout if timeout is not None else None
    for type_, obj in pending:
        if type_ == "BOOKMARK-END":
            await resp.write(_line("BOOKMARK", _bookmark(ri, last_rv, end=True)))
        else:
            await resp.write(_event_line(store, ri, type_, obj, transform))
    next_bookmark = loop.time() + hub.bookmark_interval
    closed = asyncio.ensure_future(closer.wait())
    getter: asyncio.Future | None = None
    try:
        while not closer.is_set():
            now = loop.time()
            wait_for = next_bookmark - now if bookmarks else None
            if deadline is not None:
                left = deadline - now
                if left <= 0:
                    return
                wait_for = left if wait_for is None else min(wait_for, left)
            getter = asyncio.ensure_future(sub.get())
            done, _ = await asyncio.wait(
                {getter, closed}, timeout=wait_for, return_when=asyncio.FIRST_COMPLETED
            )
            if getter not in done:
                getter.cancel()
                if closed in done:
                    return
                if bookmarks and loop.time() >= next_bookmark:
                    await resp.write(_line("BOOKMARK", _bookmark(ri, max(last_rv, store.resource_version))))
                    next_bookmark = loop.time() + hub.bookmark_interval
                continue
            ev: WatchEvent = getter.result()
            batch = [ev]
            while not sub.empty():
                batch.append(sub.get_nowait())
            out = bytearray()
            for ev in batch:
                if ev.rv <= last_rv:
                    continue
                last_rv = ev.rv
                if namespace and ev.object["metadata"].get("namespace") != namespace:
                    continue
                fev = filter_event(ev, pred)
                if fev is not None:
                    out += _event_line(store, ri, fev.type, fev.object, transform)
            if out:
                await resp.write(bytes(out))
    finally:
        closed.cancel()
        if getter is not None:
            getter.cancel()
