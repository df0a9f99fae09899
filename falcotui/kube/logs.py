"""Follow pod logs without duplicates or gaps: one follower per container, a manager per Falco pod set.

`LogFollower` streams `follow=true&timestamps=true` (with `tailLines` and/or `sinceTime` on its first
start). When a stream is cut it resumes stern-style (falcotui.kube.logs_resume): `sinceTime` = the last
seen timestamp floored to the second, skipping the lines already delivered. When the
container restarted it reads `previous=true` for the crashed instance's last lines (through the same
filter), then follows the new instance from its start. `PodLogFollowers` runs a pods informer and keeps
one follower per matching pod. A follower is a task on the asyncio loop that started it, reading through
`KubeClients.aio` (aiohttp: no thread per pod, the same credentials, TLS, proxy, rate limit and
Retry-After rules as the sync client); it hands its sink batches (`list[LogLine]` per chunk read) and
`FollowerNotice`s, called on that loop.

Resume is as exact as the timestamps: a line that reaches the log after the cut with an *older* timestamp
than the last one seen cannot be told apart from the lines already read and is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from falcotui.kube.client import KubeClients
from falcotui.kube.errors import KubeApiError, KubeError
from falcotui.kube.informer import EventType, Informer, InformerEvent
from falcotui.kube.logs_resume import LogDecoder, ResumeFilter, since_time_param, split_timestamp
from falcotui.kube.resources import FALCO_SELECTOR, PODS
from falcotui.kube.streams import Backoff


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs 2.5x, and one is made per line
class LogLine:
    namespace: str
    pod: str
    container: str
    node: str
    ts_ns: int
    line: bytes  # as the kubelet sent it, timestamp split off: decode(errors="replace") for text
    previous: bool = False  # read from the crashed instance after a restart


@dataclass(frozen=True, slots=True)
class FollowerNotice:
    namespace: str
    pod: str
    container: str
    node: str
    kind: str  # following | resumed | restarted | waiting | ended | gap
    detail: str = ""
    gap: tuple[int, int] | None = None  # kind "gap": the last line before and the first line after (Unix ns)
    restarts: int | None = None  # kind "restarted": the new instance's restartCount (its lines follow)


@dataclass(frozen=True, slots=True)
class _Instance:
    container_id: str
    restart_count: int
    running: bool


def pick_container(pod: dict, wanted: str | None = None) -> str:
    names = [c.get("name", "") for c in (pod.get("spec") or {}).get("containers") or []]
    if wanted:
        return wanted
    if "falco" in names:
        return "falco"
    return names[0] if names else ""


def container_status(pod: dict, container: str) -> dict | None:
    for st in (pod.get("status") or {}).get("containerStatuses") or []:
        if st.get("name") == container:
            return st
    return None


def has_logs(pod: dict, container: str) -> bool:
    """A container instance has started at least once (so `pods/log` can answer)."""
    st = container_status(pod, container)
    if not st:
        return False
    state, last = st.get("state") or {}, st.get("lastState") or {}
    return bool("running" in state or "terminated" in state or "terminated" in last or st.get("restartCount"))


def _instance(pod: dict, container: str) -> _Instance | None:
    st = container_status(pod, container)
    if st is None:
        return None
    state = st.get("state") or {}
    return _Instance(st.get("containerID") or "", int(st.get("restartCount") or 0), "running" in state)


def _restarted(before: _Instance, now: _Instance) -> bool:
    if now.restart_count != before.restart_count:
        return True
    return bool(before.container_id and now.container_id and before.container_id != now.container_id)


@dataclass(eq=False)
class LogFollower:
    """Follows one container of one pod until the pod is gone or `stop()`; see the module docstring."""

    clients: KubeClients
    namespace: str
    pod: str
    sink: asyncio.Queue | Callable[[object], None]
    container: str | None = None
    node: str = ""
    tail_lines: int | None = 100
    since_ns: int | None = None  # first start: only lines from this time on (Unix ns; with tail_lines, both)
    previous_on_restart: bool = True
    idle_timeout: float = 120.0  # a follow stream silent this long is re-opened (with resume)
    backoff: Backoff = field(default_factory=lambda: Backoff(base=0.1, cap=5.0))
    stopped_backoff: Backoff = field(default_factory=lambda: Backoff(base=0.5, cap=30.0))
    #: the pod as the caller's informer has it: the first round uses it instead of a GET (at start-up that
    #: is one request per node saved; later rounds ask the server, which knows of restarts first)
    initial_pod: dict | None = None

    def __post_init__(self) -> None:
        self.filter = ResumeFilter(min_ts=self.since_ns)
        self.lines = 0
        self.streams = 0
        self.restarts = 0
        self._stopping = False
        self._task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._put: Callable[[object], None] | None = None
        self._last_notice: tuple[str, str] | None = None
        self._uid: str | None = None
        # the last stream broke off (a cut) rather than ending (the container stopped): only a resume after
        # a cut can lose lines without a restart to explain them, so only it looks for a gap
        self._cut = False
        self.done = asyncio.Event()  # set when the follower has ended (`is_set()` from any thread)

    def start(self) -> None:
        """Start following on the running loop (a task, not a thread)."""
        self._loop = asyncio.get_running_loop()
        self._put = self.sink.put_nowait if isinstance(self.sink, asyncio.Queue) else self.sink
        self._task = self._loop.create_task(self._run(), name=f"logs-{self.pod}")

    def stop(self) -> None:
        """Ask the follower to end (from any thread); returns at once."""
        self._stopping = True
        task, loop = self._task, self._loop
        if task is None or loop is None or task.done():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            task.cancel()
        else:
            with contextlib.suppress(RuntimeError):  # the loop has closed: the task went with it
                loop.call_soon_threadsafe(task.cancel)

    async def aclose(self) -> None:
        self.stop()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    # -- the task ---------------------------------------------------------------------------------
    def _emit(self, item: object) -> None:
        if self._put is None:
            return
        try:
            self._put(item)
        except Exception as exc:  # as the thread-to-loop mailbox did: report, go on following
            assert self._loop is not None
            self._loop.call_exception_handler({"message": "log sink failed", "exception": exc})

    def _notice(self, kind: str, detail: str = "") -> None:
        if (kind, detail) != self._last_notice:  # a retry loop repeats itself: say it once
            self._last_notice = (kind, detail)
            self._emit(
                FollowerNotice(self.namespace, self.pod, self.container or "", self.node, kind, detail)
            )

    async def _get_pod(self) -> dict | None:
        try:
            return await self.clients.aio.get_json(PODS.object_path(self.namespace, self.pod))
        except KubeApiError as exc:
            if exc.code == 404:
                return None
            raise

    async def _run(self) -> None:
        try:
            async with self.clients.aio.lease():
                await self._follow_loop()
        except asyncio.CancelledError:
            pass  # stop(): a cancelled task ends like a finished one
        finally:
            self.done.set()
            self._notice("ended")

    async def _follow_loop(self) -> None:
        instance: _Instance | None = None
        first, resume = True, False
        while not self._stopping:
            try:
                pod, self.initial_pod = (self.initial_pod or await self._get_pod()), None
                uid = (pod or {}).get("metadata", {}).get("uid")
                if pod is None or (self._uid and uid != self._uid):
                    return  # gone, or replaced by a new pod of the same name (its own follower takes over)
                self._uid = uid
                self.container = pick_container(pod, self.container)
                self.node = self.node or (pod.get("spec") or {}).get("nodeName", "")
                current = _instance(pod, self.container)
                if instance is not None and current is not None and _restarted(instance, current):
                    await self._on_restart(current)
                    first, resume = False, False
                instance = current
                if not has_logs(pod, self.container):
                    self._notice("waiting", "container has not started")
                    await asyncio.sleep(self.backoff.next_delay())
                    continue
                query: list[tuple[str, object]] = [("follow", "true"), ("timestamps", "true")]
                query.append(("container", self.container))
                if first:
                    if self.tail_lines is not None:
                        query.append(("tailLines", self.tail_lines))
                    if self.since_ns is not None:
                        query.append(("sinceTime", since_time_param(self.since_ns)))
                elif resume and self.filter.last_ts is not None:
                    query.append(("sinceTime", since_time_param(self.filter.last_ts)))
                    self.filter.begin_resume(detect_gaps=self._cut)
                got = await self._stream(query, previous=False, opened="resumed" if resume else "following")
                self.streams += 1
                # Until a line arrives a re-open is still a first start (tail again, nothing to skip).
                first = first and self.filter.last_ts is None
                resume = not first
                if got == 0 and current is not None and not current.running:
                    # A crash-looping container (CrashLoopBackOff: kubelet waits 10 s doubling to 300 s):
                    # each round is a GET and a stream that ends at once; space them out further.
                    await asyncio.sleep(self.stopped_backoff.next_delay())
                elif got == 0:
                    await asyncio.sleep(self.backoff.next_delay())
                else:
                    self.backoff.reset()
                    self.stopped_backoff.reset()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the follower must survive anything the server sends
                if isinstance(exc, KubeApiError) and exc.code == 404:
                    return
                self._notice("waiting", str(exc))
                await asyncio.sleep(self.backoff.next_delay())

    async def _on_restart(self, current: _Instance) -> None:
        """The container restarted: deliver what the crashed instance logged after the last line we saw
        (all of it, or its tail, if we saw none), then start afresh for the new instance."""
        if self.previous_on_restart:
            query: list[tuple[str, object]] = [("timestamps", "true"), ("previous", "true")]
            query.append(("container", self.container))
            if self.filter.last_ts is not None:
                query.append(("sinceTime", since_time_param(self.filter.last_ts)))
                self.filter.begin_resume(
                    detect_gaps=False
                )  # instances missed in between: the restart says it
            else:
                if self.tail_lines is not None:
                    query.append(("tailLines", self.tail_lines))
                if self.since_ns is not None:
                    query.append(("sinceTime", since_time_param(self.since_ns)))
            try:
                await self._stream(query, previous=True)
            except KubeApiError as exc:  # the previous instance's log may be gone already
                self._notice("waiting", f"previous log unavailable: {exc}")
        self.filter.reset()
        self.restarts += 1
        count = current.restart_count
        self._last_notice = ("restarted", f"restart count {count}")
        notice = FollowerNotice(self.namespace, self.pod, self.container or "", self.node, "restarted")
        self._emit(replace(notice, detail=f"restart count {count}", restarts=count))

    async def _stream(self, query: list[tuple[str, object]], *, previous: bool, opened: str = "") -> int:
        """Reads one log response to its end; returns the number of new lines delivered. `opened`: the
        notice to give once the server has answered (the stream is live from then on, not before)."""
        self._cut = False
        stream = await self.clients.aio.open_stream(
            PODS.object_path(self.namespace, self.pod) + "/log",
            query=query,
            read_timeout=self.idle_timeout,
            accept="text/plain",
        )
        if opened:
            self._notice(opened)
        decoder = LogDecoder(self.filter)
        container = self.container or ""
        namespace, pod, node = self.namespace, self.pod, self.node

        def make(
            ts: int, line: bytes
        ) -> LogLine:  # positional: a partial with `previous=` built a dict a line
            return LogLine(namespace, pod, container, node, ts, line, previous)

        delivered = 0
        try:
            async for chunk in stream.chunks():
                # the bytes as they came: the hub parses JSON from bytes (no decode) and decodes the rest
                batch = decoder.feed(chunk, make)
                for gap in self.filter.take_gaps():
                    self._emit(FollowerNotice(self.namespace, self.pod, container, self.node, "gap", "", gap))
                if batch:
                    delivered += len(batch)
                    self.lines += len(batch)
                    self._emit(batch)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a cut: the resume re-reads from the last timestamp
            self._cut = True
            if not isinstance(exc, KubeError):
                self._notice("waiting", f"log stream cut: {str(exc) or type(exc).__name__}")
        finally:
            stream.close()
        return delivered


def read_log_bytes(
    clients: KubeClients, namespace: str, pod: str, query: list[tuple[str, object]], *, timeout: float = 30.0
) -> bytes:
    """The pod's log as the API server sends it for `query` (container, timestamps, limits), read whole."""
    resp = clients.open_stream(PODS.object_path(namespace, pod) + "/log", query=query, read_timeout=timeout)
    try:
        return resp.read()
    except OSError as exc:
        raise KubeError(f"reading the log of {namespace}/{pod}: {exc}") from exc
    finally:
        resp.release_conn()


def read_log(
    clients: KubeClients,
    namespace: str,
    pod: str,
    *,
    container: str | None = None,
    tail_lines: int | None = None,
    previous: bool = False,
    timeout: float = 15.0,
) -> list[tuple[int, str]]:
    """A one-off read (no follow) as (ts_ns, line), e.g. a crash-looping pod's last lines (`previous`)."""
    query: list[tuple[str, object]] = [("timestamps", "true")]
    if container:
        query.append(("container", container))
    if tail_lines is not None:
        query.append(("tailLines", tail_lines))
    if previous:
        query.append(("previous", "true"))
    body = read_log_bytes(clients, namespace, pod, query, timeout=timeout)
    out = []
    for raw in body.split(b"\n"):
        parts = split_timestamp(raw)
        if parts is not None:
            out.append((parts[0], parts[1].decode(errors="replace")))
    return out


@dataclass(eq=False)
class PodLogFollowers:
    """One `LogFollower` per pod matching `label_selector` in `namespace`, driven by a pods informer."""

    clients: KubeClients
    sink: asyncio.Queue | Callable[[object], None]
    namespace: str = "falco"
    label_selector: str = FALCO_SELECTOR
    container: str | None = None
    tail_lines: int | None = 100
    since_ns: int | None = None  # see LogFollower.since_ns
    previous_on_restart: bool = True
    idle_timeout: float = 120.0
    watch_timeout: int = 240
    delete_grace: float = 5.0  # a deleted pod's follower may drain its stream this long

    def __post_init__(self) -> None:
        self.followers: dict[str, LogFollower] = {}  # by pod uid
        self._events: asyncio.Queue[InformerEvent] = asyncio.Queue()
        self.informer = Informer(
            self.clients,
            PODS,
            self._events,
            namespace=self.namespace,
            label_selector=self.label_selector,
            watch_timeout=self.watch_timeout,
        )
        self._task: asyncio.Task | None = None
        self.last_error = ""

    async def start(self) -> None:
        self.informer.start()
        self._task = asyncio.create_task(self._consume(), name="pod-log-followers")

    def followed_pods(self) -> set[str]:
        return {f.pod for f in self.followers.values() if not f.done.is_set()}

    async def aclose(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.informer.aclose()
        await asyncio.gather(*(f.aclose() for f in self.followers.values()))

    async def _consume(self) -> None:
        while True:
            ev = await self._events.get()
            try:
                self._on_event(ev)
            except Exception as exc:  # one odd pod object must not stop discovery
                self.last_error = f"{type(exc).__name__}: {exc}"
            self._forget_finished()

    def _on_event(self, ev: InformerEvent) -> None:
        loop = asyncio.get_running_loop()
        if ev.type in (EventType.SYNCED, EventType.RESYNCED):
            alive = {(p.get("metadata") or {}).get("uid") for p in (ev.snapshot or {}).values()}
            for uid, fol in list(self.followers.items()):
                if uid not in alive:
                    loop.call_later(self.delete_grace, fol.stop)
            for pod in (ev.snapshot or {}).values():
                self._ensure(pod)
        elif ev.type == EventType.DELETED and ev.obj:
            fol = self.followers.get((ev.obj.get("metadata") or {}).get("uid"))
            if fol is not None:
                loop.call_later(self.delete_grace, fol.stop)
        elif ev.obj:
            self._ensure(ev.obj)

    def _ensure(self, pod: dict) -> None:
        meta = pod.get("metadata") or {}
        uid = meta.get("uid")
        if not uid or uid in self.followers:
            return
        container = pick_container(pod, self.container)
        if not has_logs(pod, container):
            return
        fol = LogFollower(
            self.clients,
            meta.get("namespace") or self.namespace,
            meta.get("name", ""),
            self.sink,
            container=container,
            node=(pod.get("spec") or {}).get("nodeName", ""),
            tail_lines=self.tail_lines,
            since_ns=self.since_ns,
            previous_on_restart=self.previous_on_restart,
            idle_timeout=self.idle_timeout,
            initial_pod=pod,
        )
        self.followers[uid] = fol
        fol.start()

    def _forget_finished(self) -> None:
        """Drop ended followers of pods the informer no longer has (a live pod's uid is never re-followed)."""
        live = {(p.get("metadata") or {}).get("uid") for p in self.informer.cache().values()}
        for uid, fol in list(self.followers.items()):
            if fol.done.is_set() and uid not in live:
                del self.followers[uid]
