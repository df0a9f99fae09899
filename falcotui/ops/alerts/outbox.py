"""AlertOutbox: the store of a consumer that takes every alert as soon as it is stored (`alerts -f`).

`AlertHub` de-duplicates into a store and a consumer drains what is new. The UI's store (`AlertStore`) keeps
the latest 100,000 alerts with counters and rates for its lists and grid; a command that prints each alert
once needs none of that: it keeps only what was not drained yet. The hub's `on_stored` hook drains right
after each run, so the parsed alerts are freed while they are still in the CPU's caches, and nothing is
counted that nobody reads (measured on `alerts -f --json` over a 5,000 alerts/s storm: keeping 100,000
parsed ~1.3 KB alerts made every line's parse several µs dearer, and their eviction later dearer again).

The same sequence numbers, `since`, `by_seq` and `add_channel` as the store, for the hub; the kept
counters stay empty and the rates zero. What `since` hands over is let go at the next call (one
consumer), and past `capacity` waiting alerts the oldest go (the hub's `drain` counts them as missed).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

from falcotui.falco.alerts import Alert
from falcotui.ops.alerts.store import AlertStore, StoredAlert

_ONE_CHANNEL = {"log": ("log",), "grpc": ("grpc",), "nats": ("nats",)}


class AlertOutbox(AlertStore):
    """New alerts until drained; see the module docstring."""

    def __init__(self, capacity: int = 4096, *, clock: Callable[[], int] = time.time_ns) -> None:
        super().__init__(1, clock=clock)  # the ring and counters of the base stay empty
        self.capacity = capacity
        self._waiting: list[StoredAlert] = []  # sequence numbers first_seq … next_seq - 1

    def append(self, alert: Alert, *, received_ns: int | None = None) -> StoredAlert:
        self.extend((alert,), received_ns=received_ns)
        return self._waiting[-1]

    def extend(self, alerts: Iterable[Alert], *, received_ns: int | None = None) -> None:
        now = self._clock() if received_ns is None else received_ns
        first, one, waiting = self._next_seq, _ONE_CHANNEL, self._waiting
        waiting.extend(
            StoredAlert(seq, a, now, one.get(a.channel) or (a.channel,))
            for seq, a in zip(range(first, 1 << 62), alerts, strict=False)
        )
        added = len(waiting) - self._len
        self._next_seq = first + added
        self.total_seen += added
        if len(waiting) > self.capacity:  # nobody drained: the oldest go (counted as missed by the hub)
            gone = len(waiting) - self.capacity
            del waiting[:gone]
            self.evicted += gone
        self._len = len(waiting)

    def since(self, seq: int, *, limit: int | None = None) -> list[StoredAlert]:
        waiting = self._waiting
        first = self._next_seq - len(waiting)
        if seq >= first:  # handed over before: let go
            del waiting[: seq - first + 1]
            self._len = len(waiting)
        return list(waiting if limit is None else waiting[: max(limit, 0)])

    def by_seq(self, seq: int) -> StoredAlert | None:
        i = seq - (self._next_seq - len(self._waiting))
        return self._waiting[i] if 0 <= i < len(self._waiting) else None

    def get(self, index: int) -> StoredAlert:
        return self._waiting[index]

    __getitem__ = get

    def slice(self, start: int, stop: int) -> list[StoredAlert]:
        return self._waiting[max(0, start) : max(0, stop)]

    def __iter__(self) -> Iterator[StoredAlert]:
        return iter(list(self._waiting))
