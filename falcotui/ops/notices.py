"""Notable events of the live engine, for a status line: pods restarting, reloads, streams dropping.

`Notice` is one event; `NoticeLog` keeps the latest ones (bounded), hands out what is new since a reader's
previous call, and passes each to optional listeners the moment it happens.
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class NoticeKind(StrEnum):
    POD_ADDED = "pod-added"  # a Falco pod appeared and is being followed
    POD_GONE = "pod-gone"  # a followed Falco pod was deleted
    POD_RESTARTED = "pod-restarted"  # its container restarted: followed onto the new instance
    RELOAD = "reload"  # Falco logged `SIGHUP received, restarting...`
    RELOAD_REJECTED = "reload-rejected"  # hot restart failure: the old rules keep running
    FALCO_ERROR = "falco-error"  # Falco logged `Error: ...` (it exits)
    STREAM_DROPPED = "stream-dropped"  # a log stream or gRPC subscription went away
    STREAM_RESUMED = "stream-resumed"  # ... and came back
    STREAM_GAP = "stream-gap"  # ... but could not prove that no line was missed in between
    GRPC_UNAVAILABLE = "grpc-unavailable"  # this pod's Falco offers no gRPC (≥ 0.44) or TLS failed
    API_UNREACHABLE = "api-unreachable"
    API_REACHABLE = "api-reachable"
    RELIST = "relist"  # a watch expired (410) and was answered with a fresh list
    K8S_WARNING = "k8s-warning"  # a Warning Event in the Falco namespace


@dataclass(frozen=True, slots=True)
class Notice:
    kind: NoticeKind
    message: str  # one line, plain text (may quote cluster data: sanitize before display)
    node: str | None = None
    pod: str | None = None
    at_ns: int = 0
    seq: int = 0


class NoticeLog:
    """The latest `capacity` notices with sequence numbers; not thread-safe (use it on the loop)."""

    def __init__(self, capacity: int = 500, clock: Callable[[], int] = time.time_ns) -> None:
        self._items: deque[Notice] = deque(maxlen=capacity)
        self._clock = clock
        self._seq = 0
        self._drained = 0
        self._listeners: list[Callable[[Notice], None]] = []

    def add(
        self, kind: NoticeKind, message: str, *, node: str | None = None, pod: str | None = None
    ) -> Notice:
        self._seq += 1
        notice = Notice(kind, message, node, pod, self._clock(), self._seq)
        self._items.append(notice)
        for listener in list(self._listeners):
            with contextlib.suppress(Exception):  # a broken listener must not stop the engine
                listener(notice)
        return notice

    def listen(self, callback: Callable[[Notice], None]) -> Callable[[], None]:
        """Call `callback(notice)` for every new notice; returns a function that stops it."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    def since(self, seq: int) -> list[Notice]:
        return [n for n in self._items if n.seq > seq]

    def drain(self) -> list[Notice]:
        """Notices added since the previous `drain()` (for the one timer-driven consumer)."""
        out = self.since(self._drained)
        self._drained = self._seq
        return out

    def recent(self, count: int = 20) -> list[Notice]:
        return list(self._items)[-count:]

    @property
    def last_seq(self) -> int:
        return self._seq
