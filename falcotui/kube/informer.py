"""List+watch informers: a local cache of one resource kind kept in step with the API server.

A worker thread lists (→ resourceVersion), then watches from that RV with bookmarks, and hands typed
events to the asyncio loop (one `call_soon_threadsafe` per burst, shared by all workers of a loop). The
watch body is read raw and split into NDJSON lines here rather than through `kubernetes.watch.Watch`:
that helper retries an `ERROR` 410 once with the same stale RV, builds a typed model per event (slow, and
strict about fields we never read) and hides bookmark RVs. Handling the stream ourselves lets a 410
trigger a re-list at once, lets bookmarks advance the RV, and keeps the cache as plain dicts. Every read
has a timeout slightly above the server-side `timeoutSeconds`, so a silent connection is noticed;
failures reconnect with capped, jittered backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import random
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from falcotui.kube.config import KubeApiError, KubeClients, KubeConnectionError, KubeError
from falcotui.kube.throttle import background

Key = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped objects


@dataclass(frozen=True, slots=True)
class Resource:
    """Where a kind lives in the REST API."""

    api_path: str  # "/api/v1" or "/apis/<group>/<version>"
    plural: str
    namespaced: bool

    def collection_path(self, namespace: str | None) -> str:
        if self.namespaced and namespace:
            return f"{self.api_path}/namespaces/{namespace}/{self.plural}"
        return f"{self.api_path}/{self.plural}"

    def object_path(self, namespace: str | None, name: str) -> str:
        return f"{self.collection_path(namespace)}/{name}"


PODS = Resource("/api/v1", "pods", True)
NODES = Resource("/api/v1", "nodes", False)
CONFIGMAPS = Resource("/api/v1", "configmaps", True)
EVENTS = Resource("/api/v1", "events", True)
DAEMONSETS = Resource("/apis/apps/v1", "daemonsets", True)
NAMESPACES = Resource("/api/v1", "namespaces", False)


class EventType(enum.StrEnum):
    ADDED = "added"
    MODIFIED = "modified"
    DELETED = "deleted"
    SYNCED = "synced"  # the first list is in the cache
    RESYNCED = "resynced"  # a re-list replaced the cache; deltas against the old cache came just before


@dataclass(frozen=True, slots=True)
class InformerEvent:
    type: EventType
    resource: str  # plural, e.g. "pods"
    obj: dict | None = None  # for added/modified/deleted (deleted: the last known state)
    snapshot: dict[Key, dict] | None = None  # for synced/resynced: the full cache


def object_key(obj: dict) -> Key:
    meta = obj.get("metadata") or {}
    return (meta.get("namespace") or "", meta.get("name") or "")


_JITTER = random.Random()


class Backoff:
    """Capped exponential backoff with jitter: delay n is uniform in [(1-j)·d, d], d = min(cap, base·2ⁿ)."""

    def __init__(
        self, base: float = 0.2, cap: float = 10.0, jitter: float = 0.5, rng: random.Random | None = None
    ):
        if base <= 0 or cap < base or not 0 <= jitter <= 1:
            raise ValueError("backoff needs 0 < base <= cap and 0 <= jitter <= 1")
        self.base, self.cap, self.jitter = base, cap, jitter
        self.failures = 0
        self._rng = rng or _JITTER  # one generator for all: seeding one per backoff costs ~50 µs each

    def next_delay(self) -> float:
        ceiling = min(self.cap, self.base * (2 ** min(self.failures, 32)))
        self.failures += 1
        return ceiling * (1 - self.jitter * self._rng.random())

    def reset(self) -> None:
        self.failures = 0


class LineSplitter:
    """Turns arbitrary byte chunks into complete lines (without the newline); keeps the unfinished tail."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, chunk: bytes) -> list[bytes]:
        if b"\n" not in chunk:
            self._buf += chunk
            return []
        if self._buf:  # the start of the first line came with an earlier chunk
            self._buf += chunk
            data = bytes(self._buf)
        else:  # the common case: split the chunk itself, no copy into the buffer and out again
            data = chunk if type(chunk) is bytes else bytes(chunk)
        lines = data.split(b"\n")
        self._buf = bytearray(lines.pop())
        if b"\r" in data:
            return [line[:-1] if line.endswith(b"\r") else line for line in lines]
        return lines

    @property
    def pending(self) -> bytes:
        """Bytes after the last newline: an incomplete line when the stream was cut."""
        return bytes(self._buf)


def iter_chunks(resp, stop: threading.Event, size: int = 65536) -> Iterator[bytes]:
    """Chunks of a streaming urllib3 response as they arrive; ends at EOF or when `stop` is set."""
    while not stop.is_set():
        chunk = resp.read1(size)
        if not chunk:
            return
        yield chunk


class _Mailbox:
    """Items posted by any worker thread of one loop, handed over in one loop callback per burst.

    Fifty log followers under an alert storm would otherwise wake the loop once per line through
    `call_soon_threadsafe`; here the first item of a burst schedules the delivery and the rest ride along.
    Items keep their order."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self._items: list[tuple[Callable[[object], None], object]] = []

    def post(self, put: Callable[[object], None], item: object) -> None:
        with self._lock:
            self._items.append((put, item))
            if len(self._items) > 1:
                return  # a delivery is already scheduled
        try:
            self._loop.call_soon_threadsafe(self._deliver)
        except RuntimeError:  # the loop closed during shutdown
            with self._lock:
                self._items.clear()

    def _deliver(self) -> None:
        with self._lock:
            items, self._items = self._items, []
        for put, item in items:
            try:
                put(item)
            except Exception as exc:  # as asyncio would for a callback of its own: report, go on
                self._loop.call_exception_handler({"message": "event sink failed", "exception": exc})


_MAILBOXES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Mailbox] = weakref.WeakKeyDictionary()
_MAILBOXES_LOCK = threading.Lock()


def _mailbox(loop: asyncio.AbstractEventLoop) -> _Mailbox:
    with _MAILBOXES_LOCK:
        box = _MAILBOXES.get(loop)
        if box is None:
            box = _MAILBOXES[loop] = _Mailbox(loop)
        return box


class Emitter:
    """Delivers events from a worker thread to an asyncio queue or callback on the owning loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sink: asyncio.Queue | Callable[[object], None]):
        self._box = _mailbox(loop)
        self._put = sink.put_nowait if isinstance(sink, asyncio.Queue) else sink

    def __call__(self, item: object) -> None:
        self._box.post(self._put, item)


class _Expired(Exception):
    """The watch RV fell out of the server's history (410): re-list."""


@dataclass(slots=True)
class InformerStats:
    lists: int = 0
    watches: int = 0
    expired: int = 0  # 410s answered by a re-list
    reconnects: int = 0  # failed connections/streams retried after a backoff
    bookmarks: int = 0
    events: int = 0
    last_error: str = ""


@dataclass(eq=False)
class Informer:
    """Keeps `cache` equal to the server's objects of one kind; emits `InformerEvent`s to `sink`."""

    clients: KubeClients
    resource: Resource
    sink: asyncio.Queue | Callable[[InformerEvent], None]
    namespace: str | None = None
    label_selector: str | None = None
    field_selector: str | None = None
    watch_timeout: int = 240  # server-side timeoutSeconds of each watch request
    read_margin: float = 5.0  # a read silent this long past timeoutSeconds means the connection is dead
    backoff: Backoff = field(default_factory=Backoff)
    stats: InformerStats = field(default_factory=InformerStats)

    def __post_init__(self) -> None:
        self._cache: dict[Key, dict] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._synced = threading.Event()
        self._thread: threading.Thread | None = None
        self._resp = None
        self._emit: Emitter | None = None
        self._synced_async: asyncio.Event | None = None
        self._mark_synced: Emitter | None = None
        self.resource_version: str | None = None

    # -- public API (event loop side) -------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("informer already started")
        loop = asyncio.get_running_loop()
        self._emit = Emitter(loop, self.sink)
        self._synced_async = asyncio.Event()
        self._mark_synced = Emitter(loop, lambda _: self._synced_async.set())
        self._thread = threading.Thread(
            target=self._run, name=f"informer-{self.resource.plural}", daemon=True
        )
        self._thread.start()

    async def wait_synced(self, timeout: float | None = None) -> None:
        """Until the first list is cached; raises TimeoutError after `timeout` seconds."""
        if self._synced_async is None:
            raise RuntimeError("informer not started")
        try:
            await asyncio.wait_for(self._synced_async.wait(), timeout)
        except TimeoutError:
            why = self.stats.last_error or "waiting"
            raise TimeoutError(f"{self.resource.plural}: no successful list ({why})") from None

    @property
    def synced(self) -> bool:
        return self._synced.is_set()

    def cache(self) -> dict[Key, dict]:
        with self._lock:
            return dict(self._cache)

    def get(self, namespace: str, name: str) -> dict | None:
        with self._lock:
            return self._cache.get((namespace, name))

    def stop(self) -> None:
        """Ask the worker to end and unblock its current read; returns at once."""
        self._stop.set()
        resp = self._resp
        if resp is not None:
            with contextlib.suppress(Exception):
                resp.shutdown()

    async def aclose(self) -> None:
        self.stop()
        if self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._thread.join, 10)

    # -- worker thread ----------------------------------------------------------------------------
    def _query(self) -> list[tuple[str, object]]:
        query: list[tuple[str, object]] = []
        if self.label_selector:
            query.append(("labelSelector", self.label_selector))
        if self.field_selector:
            query.append(("fieldSelector", self.field_selector))
        return query

    def _run(self) -> None:
        with background():  # informers yield to what the user waits for (throttle.Priority)
            self._run_loop()

    def _run_loop(self) -> None:
        need_list = True
        while not self._stop.is_set():
            try:
                if need_list:
                    self._list()
                    need_list = False
                started, lines = time.monotonic(), self._watch()  # returns when the server ends the watch
                if lines == 0 and time.monotonic() - started < 1.0:
                    self._stop.wait(self.backoff.next_delay())  # a server that ends watches at once
            except _Expired:
                self.stats.expired += 1
                need_list = True
            except Exception as exc:  # the worker must survive anything the server sends
                if self._stop.is_set():
                    break
                self.stats.reconnects += 1
                self.stats.last_error = str(exc)
                if isinstance(exc, KubeApiError) and exc.code == 410:
                    self.stats.expired += 1
                    need_list = True
                    continue
                self._stop.wait(self.backoff.next_delay())
        self._resp = None

    def _list(self) -> None:
        items: list[dict] = []
        query = self._query()
        cont = None
        while True:
            page = [*query, ("limit", 500)] + ([("continue", cont)] if cont else [])
            body = self.clients.request("GET", self.resource.collection_path(self.namespace), query=page)
            items.extend(body.get("items") or [])
            meta = body.get("metadata") or {}
            cont = meta.get("continue")
            if not cont:
                break
        kind = body.get("kind", "").removesuffix("List")
        api_version = body.get("apiVersion")
        fresh: dict[Key, dict] = {}
        for item in items:  # list items carry no kind/apiVersion; watch objects do
            if kind:
                item.setdefault("kind", kind)
            if api_version:
                item.setdefault("apiVersion", api_version)
            fresh[object_key(item)] = item
        self.stats.lists += 1
        first = not self._synced.is_set()
        with self._lock:
            old, self._cache = self._cache, fresh
            self.resource_version = meta.get("resourceVersion") or self.resource_version
        self._emit_relist(old, fresh, first)
        self._synced.set()
        if first and self._mark_synced is not None:
            self._mark_synced(None)
        self.backoff.reset()

    def _emit_relist(self, old: dict[Key, dict], fresh: dict[Key, dict], first: bool) -> None:
        plural = self.resource.plural
        for key, obj in old.items():
            if key not in fresh:
                self._send(InformerEvent(EventType.DELETED, plural, obj))
        for key, obj in fresh.items():
            prev = old.get(key)
            if prev is None:
                self._send(InformerEvent(EventType.ADDED, plural, obj))
            elif _rv(prev) != _rv(obj) or _uid(prev) != _uid(obj):
                self._send(InformerEvent(EventType.MODIFIED, plural, obj))
        kind = EventType.SYNCED if first else EventType.RESYNCED
        self._send(InformerEvent(kind, plural, snapshot=dict(fresh)))

    def _send(self, event: InformerEvent) -> None:
        self.stats.events += 1
        if self._emit is not None:
            self._emit(event)

    def _watch(self) -> int:
        query = [
            *self._query(),
            ("watch", "true"),
            ("resourceVersion", self.resource_version or "0"),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", self.watch_timeout),
        ]
        resp = self.clients.open_stream(
            self.resource.collection_path(self.namespace),
            query=query,
            read_timeout=self.watch_timeout + self.read_margin,
            accept="application/json",
        )
        self._resp = resp
        self.stats.watches += 1
        splitter = LineSplitter()
        lines = 0
        try:
            if self._stop.is_set():
                return lines
            for chunk in iter_chunks(resp, self._stop):
                for line in splitter.feed(chunk):
                    if line.strip():
                        lines += 1
                        self._handle(json.loads(line))
                self.backoff.reset()
            return lines
        except Exception as exc:
            if self._stop.is_set():
                return lines
            if isinstance(exc, _Expired | KubeError | ValueError):
                raise
            raise KubeConnectionError(f"watch {self.resource.plural}: connection lost: {exc}") from exc
        finally:
            self._resp = None
            with contextlib.suppress(Exception):
                resp.release_conn()

    def _handle(self, event: dict) -> None:
        etype = event.get("type")
        obj = event.get("object") or {}
        if etype == "ERROR":
            code = obj.get("code")
            if code == 410:
                raise _Expired(obj.get("message", "resource version expired"))
            raise KubeApiError(
                f"watch {self.resource.plural}: {obj.get('message', 'error event')}",
                code=code,
                reason=obj.get("reason", ""),
            )
        rv = _rv(obj)
        if etype == "BOOKMARK":
            self.stats.bookmarks += 1
            if rv:
                self.resource_version = rv
            return
        key = object_key(obj)
        with self._lock:
            if etype == "DELETED":
                self._cache.pop(key, None)
            elif etype in ("ADDED", "MODIFIED"):
                self._cache[key] = obj
            else:
                return
            if rv:
                self.resource_version = rv
        self._send(InformerEvent(EventType(etype.lower()), self.resource.plural, obj))


def _rv(obj: dict) -> str | None:
    return (obj.get("metadata") or {}).get("resourceVersion")


def _uid(obj: dict) -> str | None:
    return (obj.get("metadata") or {}).get("uid")
