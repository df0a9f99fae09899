"""Recording core/v1 Events like client-go's recorder: one object per distinct event, repeats counted."""

from __future__ import annotations

import itertools
import time
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from falcotui.sim.api.errors import StoreError

MAX_EVENTS = 20_000  # the oldest recorded events are deleted beyond this (the real API server uses a 1 h TTL)


class _Store(Protocol):
    def create(self, resource: str, obj: dict) -> dict: ...
    def mutate(
        self, resource: str, namespace: str, name: str, fn: Any, *, subresource: str | None = ...
    ) -> dict: ...
    def delete(self, resource: str, namespace: str, name: str) -> dict | None: ...


def rfc3339(ts: float | None = None) -> str:
    """Seconds-precision RFC 3339 UTC, as Kubernetes serialises `metav1.Time`."""
    return datetime.fromtimestamp(time.time() if ts is None else ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_micro(ts: float | None = None) -> str:
    """Microsecond RFC 3339 UTC (`metav1.MicroTime`)."""
    return datetime.fromtimestamp(time.time() if ts is None else ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def object_reference(obj: Mapping, field_path: str | None = None) -> dict:
    meta = obj.get("metadata", {})
    ref = {
        "apiVersion": obj.get("apiVersion", "v1"),
        "kind": obj.get("kind", ""),
        "name": meta.get("name", ""),
        "uid": meta.get("uid", ""),
    }
    if meta.get("namespace"):
        ref["namespace"] = meta["namespace"]
    if meta.get("resourceVersion"):
        ref["resourceVersion"] = meta["resourceVersion"]
    if field_path:
        ref["fieldPath"] = field_path
    return ref


class EventSink:
    """The cluster-wide event log: aggregation index and the cap on how many Events are kept."""

    def __init__(self, store: _Store, max_events: int = MAX_EVENTS) -> None:
        self.store = store
        self.max_events = max_events
        self.counter = itertools.count(1)
        # aggregation key -> (namespace, event name); insertion order = age
        self.seen: OrderedDict[tuple, tuple[str, str]] = OrderedDict()

    def recorder(self, component: str, host: str | None = None) -> EventRecorder:
        return EventRecorder(self, component, host)


class EventRecorder:
    """Writes Events for one component (`kubelet` on a host, `daemonset-controller`, ...)."""

    def __init__(self, sink: EventSink, component: str, host: str | None = None) -> None:
        self._sink = sink
        self._store = sink.store
        self._seen = sink.seen
        self.component = component
        self.host = host

    def normal(self, obj: Mapping, reason: str, message: str, field_path: str | None = None) -> None:
        self.record(obj, "Normal", reason, message, field_path)

    def warning(self, obj: Mapping, reason: str, message: str, field_path: str | None = None) -> None:
        self.record(obj, "Warning", reason, message, field_path)

    def record(
        self, obj: Mapping, type_: str, reason: str, message: str, field_path: str | None = None
    ) -> None:
        meta = obj.get("metadata", {})
        namespace = meta.get("namespace") or "default"
        key = (meta.get("uid"), field_path, type_, reason, message, self.component, self.host)
        now = rfc3339()
        existing = self._seen.get(key)
        if existing is not None:

            def bump(ev: dict) -> dict:
                ev["count"] = int(ev.get("count") or 1) + 1
                ev["lastTimestamp"] = now
                return ev

            try:
                self._store.mutate("events", existing[0], existing[1], bump)
                self._seen.move_to_end(key)
                return
            except StoreError:  # the event was deleted meanwhile: record it afresh
                self._seen.pop(key, None)
        name = f"{meta.get('name', 'unknown')}.{time.time_ns():x}{next(self._sink.counter):x}"
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": object_reference(obj, field_path),
            "reason": reason,
            "message": message,
            "type": type_,
            "count": 1,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "eventTime": None,
            "source": {"component": self.component, **({"host": self.host} if self.host else {})},
            "reportingComponent": self.component,
            "reportingInstance": self.host or "",
        }
        try:
            self._store.create("events", event)
        except StoreError:  # e.g. the namespace is being deleted: events are best effort, as upstream
            return
        self._seen[key] = (namespace, name)
        while len(self._seen) > self._sink.max_events:
            _, (ns, old) = self._seen.popitem(last=False)
            try:
                self._store.delete("events", ns, old)
            except StoreError:
                pass
