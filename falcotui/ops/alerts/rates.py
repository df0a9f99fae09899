"""Alert rates per time, overall and per node: rings of per-second and per-minute buckets.

Rates are per time, not per retention, and survive the store's eviction: every alert is counted into small
rings of per-second and per-minute buckets, overall and per node, bucketed by the alert's own event time
(clamped to "now", so a node whose clock runs ahead cannot write into the future). A tail replayed at start
lands in the minutes it happened, not as a spike. Per-minute buckets also keep the worst priority seen.

`RateHistory` holds them and answers the rate queries; the alert store is one (it counts each alert it
stores, see store.py). Not thread-safe: call it from one thread (the asyncio loop).
"""

from __future__ import annotations

from collections import _count_elements  # type: ignore[attr-defined]
from collections.abc import Callable
from operator import itemgetter

from falcotui.falco.alerts import Alert, Priority

_NS = 1_000_000_000


class _Buckets:
    """A ring of `size` time buckets of `resolution` seconds: counts and worst priority per bucket."""

    __slots__ = ("counts", "resolution", "size", "slots", "worst")

    def __init__(self, resolution: int, size: int) -> None:
        self.resolution = resolution
        self.size = size
        self.slots = [-1] * size  # which absolute bucket each position currently holds
        self.counts = [0] * size
        self.worst = [8] * size  # 8: nothing (priorities run 0..7)

    def add(self, second: int, count: int, worst: int) -> None:
        """Count `count` alerts of `second`, the worst of them of priority `worst`."""
        bucket = second // self.resolution
        i = bucket % self.size
        held = self.slots[i]
        if held == bucket:
            self.counts[i] += count
            if worst < self.worst[i]:
                self.worst[i] = worst
        elif held < bucket:
            self.slots[i] = bucket
            self.counts[i] = count
            self.worst[i] = worst
        # else: older than the ring remembers

    def window(self, now_s: int, span_s: int) -> range:
        """Absolute buckets covering the `span_s` seconds that end with the bucket holding `now_s`."""
        last = now_s // self.resolution
        return range(last - span_s // self.resolution + 1, last + 1)

    def count(self, bucket: int) -> int:
        i = bucket % self.size
        return self.counts[i] if self.slots[i] == bucket else 0

    def worst_in(self, buckets: range) -> int:
        worst = 8
        for bucket in buckets:
            i = bucket % self.size
            if self.slots[i] == bucket and self.worst[i] < worst:
                worst = self.worst[i]
        return worst


class _Rates:
    """Per-second and per-minute buckets for one node (or all). Alerts of one second are counted in
    `pending` first and put into the buckets when another second comes or before the buckets are read
    (`flush`): the same bucket updates in the same order, once per second instead of once per alert."""

    __slots__ = ("count", "minutes", "second", "seconds", "worst")

    def __init__(self, seconds: int, minutes: int) -> None:
        self.seconds = _Buckets(1, seconds)
        self.minutes = _Buckets(60, minutes)
        self.second = -1  # the second being counted (-1: none)
        self.count = 0
        self.worst = 8

    def add(self, second: int, priority: int) -> None:
        if second == self.second:
            self.count += 1
            if priority < self.worst:
                self.worst = priority
            return
        self.flush()
        self.second, self.count, self.worst = second, 1, priority

    def add_many(self, second: int, count: int, worst: int) -> None:
        """`count` alerts of `second`, the worst of them of priority `worst` (as `count` calls of `add`)."""
        if second == self.second:
            self.count += count
            if worst < self.worst:
                self.worst = worst
            return
        self.flush()
        self.second, self.count, self.worst = second, count, worst

    def flush(self) -> _Rates:
        """Put the pending second's counts into the buckets; returns self, ready to read."""
        if self.count:
            self.seconds.add(self.second, self.count, self.worst)
            self.minutes.add(self.second, self.count, self.worst)
            self.second, self.count, self.worst = -1, 0, 8
        return self


class RateHistory:
    """Overall and per-node rates of the alerts counted in, by second and by minute, with the worst priority
    per minute. The store counts in: `AlertStore.append` adds to `_overall` and `_rates_of(node)` itself
    (its per-alert path), `extend` through `_rate_batch`; the queries are here."""

    def __init__(self, rate_seconds: int, rate_minutes: int, clock: Callable[[], int]) -> None:
        if rate_seconds < 60 or rate_minutes < 1:
            raise ValueError("rate history must cover at least 60 seconds and 1 minute")
        self._clock = clock
        self._rate_seconds = rate_seconds
        self._rate_minutes = rate_minutes
        self._overall = _Rates(rate_seconds, rate_minutes)
        self._node_rates: dict[str, _Rates] = {}

    def _rates_of(self, node: str) -> _Rates:
        rates = self._node_rates.get(node)
        if rates is None:
            rates = self._node_rates[node] = _Rates(120, self._rate_minutes)
        return rates

    def _rate_batch(self, alerts: list[Alert], prios: list[Priority], nodes: list[str], now: int) -> None:
        """Count a batch into the overall and per-node rates, by each alert's second (clamped to now)."""
        times = [a.time_ns for a in alerts]
        lo, hi = min(times), max(times)
        if hi < now and lo // _NS == hi // _NS:  # one second (the usual batch)
            second, worst, n = lo // _NS, min(prios), len(alerts)
            self._overall.add_many(second, n, worst)
            if nodes.count(nodes[0]) == n:
                self._rates_of(nodes[0]).add_many(second, n, worst)
                return
            counts: dict[str, int] = {}
            _count_elements(counts, nodes)
            # each node's worst priority: of its alerts sorted least severe first, the last one
            worst_of = dict(sorted(zip(nodes, prios, strict=True), key=itemgetter(1), reverse=True))
            for node, count in counts.items():
                self._rates_of(node).add_many(second, count, worst_of[node])
            return
        overall, node_rates = self._overall, self._node_rates
        for t, prio, node in zip(times, prios, nodes, strict=True):
            second = (t if t < now else now) // _NS
            overall.add(second, prio)
            rates = node_rates.get(node)
            if rates is None:
                rates = self._rates_of(node)
            rates.add(second, prio)

    def nodes(self) -> list[str]:
        """Every node that ever sent an alert (rates are kept for them)."""
        return list(self._node_rates)

    def _now_s(self, now_ns: int | None) -> int:
        return (self._clock() if now_ns is None else now_ns) // _NS

    def rate(self, seconds: int = 5, *, now_ns: int | None = None) -> float:
        """Alerts per second over the last `seconds` complete seconds (the current one is still filling)."""
        if not 1 <= seconds < self._rate_seconds:
            raise ValueError(f"rate window must be 1..{self._rate_seconds - 1} seconds, got {seconds}")
        ring = self._overall.flush().seconds
        now_s = self._now_s(now_ns)
        return sum(ring.count(b) for b in range(now_s - seconds, now_s)) / seconds

    def alerts_per_minute(self, node: str, *, now_ns: int | None = None) -> int:
        """Alerts from `node` in the last 60 seconds (including the current one)."""
        rates = self._node_rates.get(node)
        if rates is None:
            return 0
        ring = rates.flush().seconds
        return sum(ring.count(b) for b in ring.window(self._now_s(now_ns), 60))

    def rate_series(
        self,
        node: str | None = None,
        buckets: int = 10,
        bucket_seconds: int = 60,
        *,
        now_ns: int | None = None,
    ) -> list[int]:
        """Alert counts of `node` (None: all nodes) in `buckets` buckets of `bucket_seconds`, oldest first;
        the last bucket holds the current (partial) period. For sparklines."""
        if buckets < 1 or bucket_seconds < 1:
            raise ValueError("rate series needs at least one bucket of at least one second")
        rates = self._overall if node is None else self._node_rates.get(node)
        if bucket_seconds % 60 == 0:
            span, limit = buckets * bucket_seconds, self._rate_minutes * 60
        else:
            span = buckets * bucket_seconds
            limit = self._rate_seconds if node is None else 120
        if span > limit:
            raise ValueError(
                f"rate series of {buckets}×{bucket_seconds}s reaches back {span}s, history keeps {limit}s"
                + ("" if bucket_seconds % 60 == 0 else " at one-second resolution (use whole minutes)")
            )
        if rates is None:
            return [0] * buckets
        rates.flush()
        ring = rates.minutes if bucket_seconds % 60 == 0 else rates.seconds
        per = bucket_seconds // ring.resolution
        covered = ring.window(self._now_s(now_ns), span)
        counts = [ring.count(b) for b in covered]
        return [sum(counts[k * per : (k + 1) * per]) for k in range(buckets)]

    def worst_priority(
        self, node: str | None = None, minutes: int = 10, *, now_ns: int | None = None
    ) -> Priority | None:
        """The most severe priority `node` (None: any node) alerted with in the last `minutes` minutes."""
        if not 1 <= minutes <= self._rate_minutes:
            raise ValueError(f"worst-priority window must be 1..{self._rate_minutes} minutes, got {minutes}")
        rates = self._overall if node is None else self._node_rates.get(node)
        if rates is None:
            return None
        ring = rates.flush().minutes
        worst = ring.worst_in(ring.window(self._now_s(now_ns), minutes * 60))
        return None if worst > 7 else Priority(worst)
