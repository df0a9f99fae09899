"""A filtered view of the alert store kept up to date incrementally, its group-by-rule counts, JSONL export.

`FilteredView(store, query)` scans the store once; afterwards `update()` looks only at alerts that arrived
since the last call (`store.since(seq)`) and merges them in by event time (rows are ordered by when the
alert happened, across nodes, not by arrival), drops what the store evicted, and re-checks the
few alerts whose channels changed (a duplicate merged from the other channel) when the query looks at
channels. The view holds references to the store's entries (memory bounded by the store's capacity) and
gives O(1) `len`/`get(i)` for a Line API list. Counts per rule and per priority follow every change.

Relative time windows (`since:5m`) age alerts out as time passes: from the front of the view (arrival
order), and through a heap of event times for the few that arrived out of order. `until:` relative windows
let alerts *enter* as time passes, so a view with one rescans on update.

A view can be *held* at a sequence number (`hold`, or `hold_at=` when made): it is then a snapshot — newer
alerts stay out, however often it is updated or re-filtered (a paused list filtered again shows the same
moment), and `held` counts the matching ones waiting; `release()` lets them in.
"""

from __future__ import annotations

import bisect
import heapq
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import BinaryIO

from falcotui.falco.alerts import Priority, alert_to_json
from falcotui.ops.alerts.query import EMPTY_QUERY, AlertQuery
from falcotui.ops.alerts.store import AlertStore, StoredAlert

_COMPACT_AT = 4096


@dataclass(frozen=True, slots=True)
class RuleGroup:
    """One rule's alerts in a view: how many, on how many nodes, the worst priority, the newest event."""

    rule: str
    count: int
    nodes: int
    worst: Priority
    last_ns: int


@dataclass(frozen=True, slots=True)
class ViewChange:
    """What one `update()` did: alerts appended at the end, dropped from the front, and whether the
    view was rebuilt (indexes shifted arbitrarily: re-render everything)."""

    added: int = 0
    dropped: int = 0
    rebuilt: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.added or self.dropped or self.rebuilt)


class FilteredView:
    """The store's alerts that match `query`, by event time (oldest first) across nodes, addressable by
    index.

    Between two `update()` calls the view is frozen: indexes, `len` and entries stay as they were even if
    the store evicts meanwhile (the view holds the entries, so a render in between never finds a hole).
    """

    def __init__(
        self,
        store: AlertStore,
        query: AlertQuery = EMPTY_QUERY,
        *,
        clock: Callable[[], int] = time.time_ns,
        hold_at: int | None = None,
    ) -> None:
        self.store = store
        self.query = query
        self._clock = clock
        self.hold_at = hold_at  # a snapshot: no alert after this sequence number comes in
        self.held = 0  # matching alerts that arrived after `hold_at`
        self._held_seq = 0
        self._uses_channels = any(t.key == "channel" for t in query.terms)
        self._entries: list[StoredAlert] = []  # by event time (see `_time_key`)
        self._start = 0  # entries before it were dropped; compacted now and then
        self._arrival: list[StoredAlert] = []  # the same alerts in the store's order, to drop evicted ones
        self._arr_start = 0
        self._seen_seq = 0
        self._seen_change = 0
        self.by_rule: dict[str, int] = {}
        self.by_node: dict[str, int] = {}
        self._by_priority = [0] * len(Priority)
        # with a relative window: (event time, seq) of entries, to find alerts that arrived out of order
        self._aging: list[tuple[int, int]] | None = [] if query.since_seconds is not None else None
        self._rebuild(None)

    # ------------------------------------------------------------ maintenance

    def _rebuild(self, now_ns: int | None) -> None:
        self._entries, self._start = [], 0
        self._arrival, self._arr_start = [], 0
        self.by_rule, self.by_node, self._by_priority = {}, {}, [0] * len(Priority)
        if self._aging is not None:
            self._aging = []
        self._seen_seq = self.store.first_seq - 1
        self._seen_change = self.store.change_count
        self.held, self._held_seq = 0, 0
        self._take_new(now_ns)

    def _count(self, entry: StoredAlert) -> None:
        rule, node = entry.alert.rule, entry.node
        self.by_rule[rule] = self.by_rule.get(rule, 0) + 1
        self.by_node[node] = self.by_node.get(node, 0) + 1
        self._by_priority[entry.alert.priority] += 1

    def _uncount(self, entry: StoredAlert) -> None:
        _decrement(self.by_rule, entry.alert.rule)
        _decrement(self.by_node, entry.node)
        self._by_priority[entry.alert.priority] -= 1

    @property
    def seen_seq(self) -> int:
        """The last store sequence number this view has looked at (what `hold()` holds at by default)."""
        return self._seen_seq

    def hold(self, seq: int | None = None) -> None:
        """Stop at `seq` (default: the last alert this view has looked at): a snapshot from now on."""
        self.hold_at = self._seen_seq if seq is None else seq
        self._held_seq = max(self._held_seq, self.hold_at)

    def release(self) -> None:
        """Let the alerts held back in at the next `update()`."""
        self.hold_at, self.held, self._held_seq = None, 0, 0

    def _count_held(self, later: list[StoredAlert], now_ns: int | None) -> None:
        fresh = [e for e in later if e.seq > self._held_seq]
        if fresh:
            match = self.query.matcher(now_ns=self._now(now_ns))
            self.held += sum(1 for e in fresh if match(e.alert, e.channels))
            self._held_seq = fresh[-1].seq

    def _take_new(self, now_ns: int | None) -> tuple[int, bool]:
        """Add the store's new matching alerts in time order; (how many, whether earlier rows moved)."""
        new = self.store.since(self._seen_seq)
        if self.hold_at is not None and new and new[-1].seq > self.hold_at:
            keep = bisect.bisect_right(new, self.hold_at, key=_seq_of)
            self._count_held(new[keep:], now_ns)
            new = new[:keep]
        if not new:
            return 0, False
        match = self.query.matcher(now_ns=self._now(now_ns))
        batch = [entry for entry in new if match(entry.alert, entry.channels)]
        self._seen_seq = new[-1].seq
        if not batch:
            return 0, False
        self._arrival.extend(batch)
        aging = self._aging
        for entry in batch:
            self._count(entry)
            if aging is not None:
                heapq.heappush(aging, (entry.alert.time_ns, entry.seq))
        return len(batch), self._merge(batch)

    def _merge(self, batch: list[StoredAlert]) -> bool:
        """Put `batch` (store order) among the entries by event time. Nodes deliver in batches, so an alert
        of one node often belongs before the last one of another: only the tail from the first such place
        is merged (a few seconds of alerts), not the whole view. True when rows already shown moved."""
        entries = self._entries
        if not _in_order(batch):
            batch.sort(key=_time_key)
        if len(entries) == self._start or _time_key(entries[-1]) <= _time_key(batch[0]):
            entries.extend(batch)
            return False
        at = bisect.bisect_right(entries, _time_key(batch[0]), self._start, key=_time_key)
        entries[at:] = list(heapq.merge(entries[at:], batch, key=_time_key))
        return True

    def _now(self, now_ns: int | None) -> int:
        return self._clock() if now_ns is None else now_ns

    def update(self, now_ns: int | None = None) -> ViewChange:
        """Catch up with the store; cheap when little changed. Call it on the UI's timer."""
        store = self.store
        if self.query.until_seconds is not None:
            before = len(self)
            self._rebuild(now_ns)
            return ViewChange(max(0, len(self) - before), 0, True)
        rebuilt = False
        if store.change_count != self._seen_change:
            if self._uses_channels:
                rebuilt = self._recheck(now_ns)
            self._seen_change = store.change_count
        dropped, rows_moved = self._drop_front(now_ns)
        rebuilt = rebuilt or rows_moved
        if self._aging is not None and self._drop_aged(now_ns):
            rebuilt = True
        added, moved = self._take_new(now_ns)
        rebuilt = rebuilt or moved
        if self._start > _COMPACT_AT and self._start * 2 > len(self._entries):
            del self._entries[: self._start]
            self._start = 0
        if self._aging is not None and len(self._aging) > 2 * len(self) + _COMPACT_AT:
            # keys of alerts the store evicted before they aged out: keep the heap bounded
            self._aging = [(e.alert.time_ns, e.seq) for e in self]
            heapq.heapify(self._aging)
        return ViewChange(added, dropped, rebuilt)

    def _drop_aged(self, now_ns: int | None) -> bool:
        """Remove alerts that aged out of a relative window but sit behind newer ones (they arrived out of
        order). Rare; it shifts indexes, so the change reports `rebuilt`."""
        aging, entries = self._aging, self._entries
        assert aging is not None
        cutoff = self.query.time_bounds(self._now(now_ns))[0]
        assert cutoff is not None
        removed = False
        while aging and aging[0][0] < cutoff:
            key = heapq.heappop(aging)
            i = self._bisect(key)
            if i < len(entries) and entries[i].seq == key[1]:
                self._uncount(entries.pop(i))
                removed = True
        return removed

    def _drop_front(self, now_ns: int | None) -> tuple[int, bool]:
        """Drop what the store evicted and what aged out of a relative window; (rows dropped from the front,
        whether rows elsewhere went too). The store evicts in arrival order, the rows go by time: the
        arrival-ordered list finds each evicted row, which is at the front unless its node ran late. Rows
        evicted from elsewhere go in one pass at the end (a storm with late nodes evicts thousands of them
        per tick: one `del` each moved the whole list every time)."""
        entries, arrival = self._entries, self._arrival
        first = self.store.first_seq
        dropped, moved = 0, False
        later: set[int] = set()  # ids of evicted rows that were not first: removed together below
        later_at: list[int] = []  # and where they sit (the list does not change until then)
        a = self._arr_start
        while a < len(arrival) and arrival[a].seq < first:
            gone = arrival[a]
            arrival[a] = None  # type: ignore[call-overload]  # released; compacted below
            a += 1
            while later and self._start < len(entries) and id(entries[self._start]) in later:
                entries[self._start] = None  # type: ignore[call-overload]  # a row already let go
                self._start += 1
            i = self._start
            if i >= len(entries) or entries[i] is not gone:  # the common case: it is the first row
                i = self._bisect(_time_key(gone))
                if i >= len(entries) or entries[i] is not gone:
                    continue  # it had aged out or no longer matched
            self._uncount(gone)
            if i == self._start:
                entries[i] = None  # type: ignore[call-overload]  # release it before compaction
                self._start += 1
                dropped += 1
            else:
                later.add(id(gone))
                later_at.append(i)
                moved = True
        if later_at:
            for i in later_at:
                entries[i] = None  # type: ignore[call-overload]
            entries[self._start :] = filter(None, entries[self._start :])  # rows are never falsy
        self._arr_start = a
        if a > _COMPACT_AT and a * 2 > len(arrival):
            del arrival[:a]
            self._arr_start = 0
        if self.query.since_seconds is not None:
            cutoff = self.query.time_bounds(self._now(now_ns))[0]
            assert cutoff is not None
            while self._start < len(entries) and entries[self._start].alert.time_ns < cutoff:
                self._uncount(entries[self._start])
                entries[self._start] = None  # type: ignore[call-overload]
                self._start += 1
                dropped += 1
        return dropped, moved

    def _recheck(self, now_ns: int | None) -> bool:
        changed = self.store.changes_since(self._seen_change)
        if changed is None:  # the change log overflowed: rescan
            self._rebuild(now_ns)
            return True
        match = self.query.matcher(now_ns=self._now(now_ns))
        entries = self._entries
        moved = False
        for seq in changed:
            entry = self.store.by_seq(seq)
            if entry is None or seq > self._seen_seq:
                continue
            i = self._bisect(_time_key(entry))
            present = i < len(entries) and entries[i].seq == seq
            wanted = match(entry.alert, entry.channels)
            if wanted and not present:
                entries.insert(i, entry)
                bisect.insort(self._arrival, entry, lo=self._arr_start, key=_seq_of)
                self._count(entry)
                if self._aging is not None:
                    heapq.heappush(self._aging, (entry.alert.time_ns, entry.seq))
                moved = True
            elif present and not wanted:
                self._uncount(entries.pop(i))
                moved = True
        return moved

    def _bisect(self, key: tuple[int, int]) -> int:
        return bisect.bisect_left(self._entries, key, self._start, key=_time_key)

    # ------------------------------------------------------------ access

    def __len__(self) -> int:
        return len(self._entries) - self._start

    def get(self, index: int) -> StoredAlert:
        """The matching alert at `index` (0 = oldest, -1 = newest), O(1). Raises IndexError."""
        n = len(self._entries) - self._start
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"view index {index} out of range (view holds {n})")
        return self._entries[self._start + index]

    __getitem__ = get

    def slice(self, start: int, stop: int) -> list[StoredAlert]:
        """Matching alerts at indexes [start, stop) (clamped)."""
        return self._entries[self._start + max(0, start) : self._start + max(0, min(len(self), stop))]

    def __iter__(self) -> Iterator[StoredAlert]:
        return iter(self.slice(0, len(self)))

    def index_of(self, seq: int) -> int | None:
        """Index of the alert with sequence number `seq` in this view (keeps a selection across updates);
        None if it is not in the view or the store no longer holds it."""
        entry = self.store.by_seq(seq)
        if entry is None:
            return None
        i = self._bisect(_time_key(entry))
        if i < len(self._entries) and self._entries[i].seq == seq:
            return i - self._start
        return None

    @property
    def by_priority(self) -> dict[Priority, int]:
        """Matching alerts per priority, most severe first, zero counts left out."""
        return {Priority(p): n for p, n in enumerate(self._by_priority) if n}

    def group_by_rule(self, top: int = 0) -> list[tuple[str, int]]:
        """(rule, count) of the matching alerts, most frequent first, then by name; only the first `top`
        when it is given."""
        return _ranked(self.by_rule, top)

    def group_by_node(self, top: int = 0) -> list[tuple[str, int]]:
        """(node, count) of the matching alerts, most first, then by name; only the first `top` when it
        is given (5,000 nodes are not sorted a few times a second for the ten a side panel shows)."""
        return _ranked(self.by_node, top)

    def rule_groups(self) -> list[RuleGroup]:
        """Every rule's group (count, nodes, worst priority, last seen), most frequent first: one pass over
        the view, for the group-by-rule list (not kept incrementally: only that list asks)."""
        acc: dict[str, tuple[int, set[str], int, int]] = {}
        for entry in self:
            a = entry.alert
            found = acc.get(a.rule)
            if found is None:
                acc[a.rule] = (1, {entry.node}, a.priority, a.time_ns)
            else:
                count, nodes, worst, last = found
                nodes.add(entry.node)
                acc[a.rule] = (count + 1, nodes, min(worst, a.priority), max(last, a.time_ns))
        groups = [RuleGroup(r, c, len(n), Priority(w), t) for r, (c, n, w, t) in acc.items()]
        return sorted(groups, key=lambda g: (-g.count, g.rule))


def _decrement(counter: dict[str, int], key: str) -> None:
    left = counter[key] - 1
    if left:
        counter[key] = left
    else:
        del counter[key]


def _seq_of(entry: StoredAlert) -> int:
    return entry.seq


def _time_key(entry: StoredAlert) -> tuple[int, int]:
    """Rows go by the alert's own time, across nodes; the arrival order breaks ties."""
    return (entry.alert.time_ns, entry.seq)


def _in_order(batch: list[StoredAlert]) -> bool:
    key = _time_key
    return all(key(a) <= key(b) for a, b in pairwise(batch))


def default_export_dir() -> Path:
    """Where exports go unless told otherwise: `falcotui/exports` in the user's data directory
    (`$XDG_DATA_HOME` or ~/.local/share on Linux), not wherever the terminal happened to be."""
    import platformdirs

    return Path(platformdirs.user_data_dir("falcotui")) / "exports"


def export_path(directory: Path | None, now: float | None = None) -> Path:
    """A new export file's path in `directory` (default: `default_export_dir()`), created 0700 if missing."""
    folder = directory if directory is not None else default_export_dir()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    stem = time.strftime("falcotui-alerts-%Y%m%d-%H%M%S", time.localtime(now))
    path, n = folder / f"{stem}.jsonl", 1
    while path.exists():  # two exports in one second keep both
        n += 1
        path = folder / f"{stem}-{n}.jsonl"
    return path


def export_jsonl(entries: Iterable[StoredAlert], dest: str | Path | BinaryIO) -> int:
    """Write alerts as JSON lines (Falco's shape plus node/pod/channel; see `alert_to_json`); returns how
    many. `dest` is a path (created 0600 — alerts hold command lines and file names — or truncated) or a
    binary file object."""
    if isinstance(dest, (str, Path)):
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with open(fd, "wb") as out:
            return export_jsonl(entries, out)
    count = 0
    for entry in entries:
        dest.write(alert_to_json(entry.alert) + b"\n")
        count += 1
    return count


def _ranked(counts: dict[str, int], top: int) -> list[tuple[str, int]]:
    """(name, count), most first, then by name: all of them, or the first `top` (a heap, not a sort)."""
    key = lambda item: (-item[1], item[0])  # noqa: E731
    if 0 < top < len(counts):
        return heapq.nsmallest(top, counts.items(), key=key)
    return sorted(counts.items(), key=key)
