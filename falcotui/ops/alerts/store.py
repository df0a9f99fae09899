"""The bounded alert store: a ring buffer of the latest alerts with sequence numbers and counters.

Memory stays flat on an endless stream: the store keeps at most `capacity` alerts; the oldest is evicted
when a new one arrives. Every alert gets a sequence number (1, 2, 3 … never reused), so a reader can ask
`since(seq)` for what is new and render by index (`len(store)`, `store.get(i)`, both O(1)).

Two kinds of figures, never mixed:
- **kept** counters (`by_priority`, `by_rule`, `by_node`, `by_namespace`, `by_tag`) describe exactly the
  alerts the store holds: they are decremented when an alert is evicted, so a count shown beside a list
  always matches the list (a key whose count drops to zero is removed, keeping them bounded too).
- **seen** totals (`total_seen`, `seen_by_priority`) count everything ever stored; `evicted` says how many
  were let go. `total_seen == len(store) + evicted` always holds.

Rates per time survive eviction: the store counts every alert it stores into its rate history (rates.py,
`RateHistory`, which answers `rate`, `rate_series`, `worst_priority` …).

Not thread-safe: call it from one thread (the asyncio loop).
"""

from __future__ import annotations

import time
from collections import _count_elements, deque  # type: ignore[attr-defined]
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from falcotui.falco.alerts import Alert, Priority
from falcotui.ops.alerts.rates import RateHistory

_NS = 1_000_000_000
NAMESPACE_FIELD = "k8s.ns.name"
POD_FIELD = "k8s.pod.name"
_NO_VALUE = (None, "", "<NA>")
_ONE_CHANNEL = {"log": ("log",), "grpc": ("grpc",)}  # a new entry's channels, one shared tuple each


def alert_node(alert: Alert) -> str:
    """The node an alert is attributed to: where falcotui received it, else the hostname Falco reports."""
    return alert.node or alert.hostname


def _namespace(alert: Alert) -> str | None:
    """The alert's k8s.ns.name as the namespace counter keys it (None: no value)."""
    ns = alert.output_fields.get(NAMESPACE_FIELD)
    if ns in _NO_VALUE:
        return None
    return ns if type(ns) is str else str(ns)


def alert_field(alert: Alert, name: str) -> str | None:
    """An output field as text, None when Falco had no value for it (missing, null or `<NA>`)."""
    value = alert.output_fields.get(name)
    if value in _NO_VALUE:
        return None
    return value if isinstance(value, str) else str(value)


@dataclass(slots=True, eq=False)
class StoredAlert:
    """An alert as kept: its sequence number, when it was received and every channel it came through."""

    seq: int
    alert: Alert
    received_ns: int
    channels: tuple[str, ...] = field(default=())

    @property
    def via(self) -> str:
        """`log`, `grpc` or `log+grpc`."""
        return "+".join(sorted(self.channels, key=lambda c: (c != "log", c)))

    @property
    def node(self) -> str:
        return alert_node(self.alert)

    @property
    def namespace(self) -> str | None:
        return alert_field(self.alert, NAMESPACE_FIELD)


def _swap(ring: list, start: int, values: list) -> list:
    """Put `values` into `ring` from index `start` on, wrapping around its end; returns what they replaced."""
    end = start + len(values)
    if end <= len(ring):
        old = ring[start:end]
        ring[start:end] = values
        return old
    k = len(ring) - start
    old = ring[start:] + ring[: end - len(ring)]
    ring[start:] = values[:k]
    ring[: end - len(ring)] = values[k:]
    return old


def _drop(counter: dict, key: object) -> None:
    left = counter[key] - 1
    if left:
        counter[key] = left
    else:
        del counter[key]


class AlertStore(RateHistory):
    """The latest `capacity` alerts in arrival order, with kept counters, seen totals and rates."""

    def __init__(
        self,
        capacity: int = 100_000,
        *,
        rate_seconds: int = 300,
        rate_minutes: int = 60,
        change_log: int = 65_536,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        if capacity < 1:
            raise ValueError(f"store capacity must be at least 1, got {capacity}")
        super().__init__(rate_seconds, rate_minutes, clock)
        self.capacity = capacity
        self._ring: list[StoredAlert | None] = [None] * capacity
        # what each slot's alert counts under in the kept counters (rule, node, namespace, tag list,
        # priority; None: no value or an empty slot), beside the ring: an evicted alert is taken off the
        # counters from these, without reading the alert (long out of the CPU's caches by then)
        self._keys_at: list[list] = [[None] * capacity for _ in range(5)]
        self._next_seq = 1
        self._len = 0
        self.total_seen = 0
        self.evicted = 0
        self.seen_by_priority = [0] * len(Priority)
        self._by_priority = [0] * len(Priority)
        self.by_rule: dict[str, int] = {}
        self.by_node: dict[str, int] = {}
        self.by_namespace: dict[str, int] = {}
        self._by_tags: dict[tuple[str, ...], int] = {}  # kept alerts per tag list (see `by_tag`)
        self._by_tag: dict[str, int] = {}
        self._by_tag_at = 1  # `_next_seq` when `_by_tag` was added up
        self.change_count = 0  # how many times a kept alert changed after it was stored
        self._changes: deque[int] = deque(maxlen=change_log)

    # ------------------------------------------------------------ ingestion

    def append(self, alert: Alert, *, received_ns: int | None = None) -> StoredAlert:
        """Keep `alert` (evicting the oldest when full) and count it; returns the stored entry."""
        now = self._clock() if received_ns is None else received_ns
        seq = self._next_seq
        i = seq % self.capacity
        if self._ring[i] is not None:
            self._forget(i)
            self.evicted += 1
        else:
            self._len += 1
        channel = alert.channel
        entry = self._ring[i] = StoredAlert(seq, alert, now, _ONE_CHANNEL.get(channel) or (channel,))
        self._next_seq = seq + 1
        self.total_seen += 1
        prio = alert.priority
        self.seen_by_priority[prio] += 1
        self._by_priority[prio] += 1
        rule, node, ns, tags = alert.rule, alert.node or alert.hostname, _namespace(alert), alert.tags or None
        rules_at, nodes_at, namespaces_at, tags_at, prios_at = self._keys_at
        rules_at[i], nodes_at[i], namespaces_at[i], tags_at[i], prios_at[i] = rule, node, ns, tags, prio
        self.by_rule[rule] = self.by_rule.get(rule, 0) + 1
        self.by_node[node] = self.by_node.get(node, 0) + 1
        if ns is not None:
            self.by_namespace[ns] = self.by_namespace.get(ns, 0) + 1
        if tags is not None:
            self._by_tags[tags] = self._by_tags.get(tags, 0) + 1
        t = alert.time_ns
        second = (t if t < now else now) // _NS
        self._overall.add(second, prio)
        self._rates_of(node).add(second, prio)
        return entry

    def extend(self, alerts: Iterable[Alert], *, received_ns: int | None = None) -> None:
        """`append` each of `alerts` in order, all received at `received_ns` (default now): the next
        sequence numbers are theirs. One call for a batch keeps the per-alert work to making its entry:
        the ring and the counters' keys beside it take the batch in slices, the kept counters are updated
        once per batch (counted in C by `_count_elements`; the evicted alerts' counts, read from the keys
        beside the ring, taken off once per distinct value), and a batch of one node and one second (a
        follower's chunk) is one count in that node's rates."""
        now = self._clock() if received_ns is None else received_ns
        added = alerts if type(alerts) is list else list(alerts)
        n, capacity = len(added), self.capacity
        if n > capacity:  # more than the store holds: in parts, the older ones evicted by the newer
            for k in range(0, n, capacity):
                self.extend(added[k : k + capacity], received_ns=now)
            return
        if not n:
            return
        one = _ONE_CHANNEL
        first = self._next_seq
        start = first % capacity
        entries = [
            StoredAlert(seq, a, now, one.get(a.channel) or (a.channel,))
            for seq, a in zip(range(first, first + n), added, strict=True)
        ]
        evicted = n - _swap(self._ring, start, entries).count(None)
        self._len += n - evicted
        self.evicted += evicted
        self.total_seen += n
        self._next_seq = first + n
        prios = [a.priority for a in added]
        nodes = [a.node or a.hostname for a in added]
        namespaces = [a.output_fields.get(NAMESPACE_FIELD) for a in added]
        keys = (
            [a.rule for a in added],
            nodes,
            [None if ns in _NO_VALUE else ns if type(ns) is str else str(ns) for ns in namespaces],
            [a.tags or None for a in added],
        )
        self._rate_batch(added, prios, nodes, now)
        for at, counter, values in zip(self._keys_at, self._counters(), keys, strict=False):  # not priority
            old = _swap(at, start, values)
            _count_elements(counter, values)
            if evicted:
                gone: dict = {}
                _count_elements(gone, old)
                for key, count in gone.items():
                    if key is not None:
                        left = counter[key] - count
                        if left:
                            counter[key] = left
                        else:
                            del counter[key]
        self.by_namespace.pop(None, None)  # no namespace, no tags: not counted
        self._by_tags.pop(None, None)
        kept, seen = self._by_priority, self.seen_by_priority
        counts: dict = {}
        _count_elements(counts, prios)
        for prio, count in counts.items():
            kept[prio] += count
            seen[prio] += count
        old = _swap(self._keys_at[4], start, prios)
        if evicted:
            counts = {}
            _count_elements(counts, old)
            for prio, count in counts.items():
                if prio is not None:
                    kept[prio] -= count

    def add_channel(self, entry: StoredAlert, channel: str) -> bool:
        """Record that `entry` also arrived through `channel`; False if it already had. Views that filter
        on channels learn of it through `changes_since`."""
        if channel in entry.channels:
            return False
        entry.channels = (*entry.channels, channel)
        self.change_count += 1
        self._changes.append(entry.seq)
        return True

    def changes_since(self, change_count: int) -> list[int] | None:
        """Sequence numbers of alerts changed after `change_count` was read, oldest first (may repeat);
        None when the bounded change log no longer reaches back that far."""
        k = self.change_count - change_count
        if k > len(self._changes):
            return None
        changes = self._changes
        return [changes[-i] for i in range(k, 0, -1)]

    def _counters(self) -> tuple[dict, dict, dict, dict]:
        """The kept counters of the first four lists of `_keys_at` (the fifth: `_by_priority`'s)."""
        return (self.by_rule, self.by_node, self.by_namespace, self._by_tags)

    def _forget(self, i: int) -> None:
        """Take the alert in slot `i` off the kept counters (`append`'s; `extend` counts per batch)."""
        rules_at, nodes_at, namespaces_at, tags_at, prios_at = self._keys_at
        _drop(self.by_rule, rules_at[i])
        _drop(self.by_node, nodes_at[i])
        if (ns := namespaces_at[i]) is not None:
            _drop(self.by_namespace, ns)
        if (tags := tags_at[i]) is not None:
            _drop(self._by_tags, tags)
        self._by_priority[prios_at[i]] -= 1

    @property
    def by_tag(self) -> dict[str, int]:
        """Kept alerts per tag (an alert counts once for each of its tags). Counted per tag list while
        storing (a storm repeats a few lists) and added up here, once per change."""
        if self._by_tag_at != self._next_seq:
            by_tag: dict[str, int] = {}
            for tags, n in self._by_tags.items():
                for tag in tags:
                    by_tag[tag] = by_tag.get(tag, 0) + n
            self._by_tag, self._by_tag_at = by_tag, self._next_seq
        return self._by_tag

    # ------------------------------------------------------------ access by index and sequence

    def __len__(self) -> int:
        return self._len

    @property
    def first_seq(self) -> int:
        """Sequence number of the oldest kept alert (== `next_seq` when the store is empty)."""
        return self._next_seq - self._len

    @property
    def next_seq(self) -> int:
        """The sequence number the next alert will get; `since(store.next_seq - 1)` is empty."""
        return self._next_seq

    @property
    def last_seq(self) -> int:
        """Sequence number of the newest alert, 0 before the first."""
        return self._next_seq - 1

    def get(self, index: int) -> StoredAlert:
        """The kept alert at `index` (0 = oldest kept, -1 = newest), O(1). Raises IndexError."""
        n = self._len
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"alert index {index} out of range (store holds {n})")
        entry = self._ring[(self._next_seq - n + index) % self.capacity]
        assert entry is not None
        return entry

    __getitem__ = get

    def by_seq(self, seq: int) -> StoredAlert | None:
        """The alert with sequence number `seq`, None if evicted or not yet stored."""
        if self._next_seq - self._len <= seq < self._next_seq:
            return self._ring[seq % self.capacity]
        return None

    def since(self, seq: int, *, limit: int | None = None) -> list[StoredAlert]:
        """Kept alerts with a sequence number above `seq`, oldest first (at most `limit`, the oldest ones)."""
        start = max(seq + 1, self._next_seq - self._len)
        stop = self._next_seq if limit is None else min(self._next_seq, start + max(limit, 0))
        ring, cap = self._ring, self.capacity
        return [ring[s % cap] for s in range(start, stop)]  # type: ignore[misc]

    def slice(self, start: int, stop: int) -> list[StoredAlert]:
        """Kept alerts at indexes [start, stop) (clamped like a list slice of non-negative bounds)."""
        first = self._next_seq - self._len
        lo, hi = max(0, start), min(self._len, stop)
        ring, cap = self._ring, self.capacity
        return [ring[(first + i) % cap] for i in range(lo, hi)]  # type: ignore[misc]

    def __iter__(self) -> Iterator[StoredAlert]:
        return iter(self.since(0))

    # ------------------------------------------------------------ counters

    @property
    def by_priority(self) -> dict[Priority, int]:
        """Kept alerts per priority, most severe first, zero counts left out."""
        return {Priority(p): n for p, n in enumerate(self._by_priority) if n}

    def count_at_least(self, priority: Priority) -> int:
        """Kept alerts of `priority` or more severe."""
        return sum(self._by_priority[: int(priority) + 1])
