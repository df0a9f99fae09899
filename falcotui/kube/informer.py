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
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from falcotui.kube.client import KubeClients
from falcotui.kube.errors import KubeApiError, KubeConnectionError, KubeError
from falcotui.kube.resources import Resource
from falcotui.kube.streams import Backoff, Emitter, LineSplitter, iter_chunks
from falcotui.kube.throttle import background

Key = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped objects


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
