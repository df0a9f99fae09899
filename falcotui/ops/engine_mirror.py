"""The UI process's copy of what the engine's worker holds: fleet rows, notices, store counts.

Each `TickBatch` from the worker is applied here (`apply`), so the screens read the same API they read off
an in-process `FleetState`/`NoticeLog`/`AlertStore` — `rows()`, `row()`, `nodes`, `summary()`,
`daemonset()`, `refusing_rules()`, `notices.recent()`, `len(store)`, `store.rate()` — without a call
across the link and without the UI ever parsing an alert.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from falcotui.ops.engine_batch import NodeDetail, StoreCounts, TickBatch
from falcotui.ops.fleet.k8s import DaemonSetSummary
from falcotui.ops.fleet.model import order_rows
from falcotui.ops.fleet.status import FleetSummary, NodeReload, NodeStatus
from falcotui.ops.notices import Notice
from falcotui.ops.rules.reload_state import PushMark

EMPTY_SUMMARY = FleetSummary(0, 0, 0, 0, 0, 0, 0)


class FleetMirror:
    """The fleet grid's rows as the worker last sent them; the read side of `FleetState`."""

    def __init__(
        self, namespace: str | None, *, mark_pending: Callable[[PushMark | None], None] | None = None
    ) -> None:
        self.namespace = namespace
        self.daemonset_name = "falco"
        self.nodes: dict[str, NodeStatus] = {}  # node name -> its row, in the order nodes were first seen
        self._summary = EMPTY_SUMMARY
        self._daemonset: DaemonSetSummary | None = None
        self._refusing: list[tuple[str, NodeReload]] = []
        self._mark_pending = mark_pending
        self.version = 0  # bumped by each batch that brings rows
        self._changed_at: dict[str, int] = {}  # node -> the version its row last changed (or went) in
        self._forgot_at = -1  # entries of nodes gone were dropped at this version

    def apply(self, batch: TickBatch) -> None:
        if batch.rows:
            self.version += 1
        for name, row in batch.rows.items():
            self._changed_at[name] = self.version
            if row is None:
                self.nodes.pop(name, None)
            else:
                self.nodes[name] = row
        if batch.summary is not None:
            self._summary = batch.summary
        if batch.daemonset is not None:
            self._daemonset = batch.daemonset[0]
        if batch.refusing is not None:
            self._refusing = batch.refusing
        if batch.namespace:
            self.namespace = batch.namespace
        if batch.daemonset_name:
            self.daemonset_name = batch.daemonset_name

    def changed_since(self, version: int) -> tuple[int, set[str] | None]:
        """(the current version, the nodes whose rows changed, came or went after `version`): a screen
        redraws just those. A row that did not change is the same object as before. None instead of the
        set: not known (older than what the mirror remembers of nodes gone), redraw every row."""
        if version >= self.version:
            return self.version, set()
        if version < self._forgot_at:
            return self.version, None
        changed = {name for name, at in self._changed_at.items() if at > version}
        if len(self._changed_at) > 2 * len(self.nodes) + 64:  # forget nodes gone
            self._changed_at = {n: at for n, at in self._changed_at.items() if n in self.nodes}
            self._forgot_at = self.version
        return self.version, changed

    def row(self, name: str, *, now_ns: int | None = None) -> NodeStatus | None:
        """The node's row as of the last tick (`now_ns` is the worker's business: rows come computed)."""
        return self.nodes.get(name)

    def rows(
        self, sort: str = "name", *, descending: bool | None = None, text: str = "", now_ns: int | None = None
    ) -> list[NodeStatus]:
        return order_rows(self.nodes.values(), sort, descending=descending, text=text)

    def summary(self) -> FleetSummary:
        return self._summary

    def daemonset(self) -> DaemonSetSummary | None:
        return self._daemonset

    def refusing_rules(self) -> list[tuple[str, NodeReload]]:
        return list(self._refusing)

    def mark_reload_pending(self, push: PushMark | None) -> None:
        """A rules push was sent: the worker's fleet shows nodes pending until they reload (sent with the
        next tick; safe from any thread)."""
        if self._mark_pending is not None:
            self._mark_pending(push)


class NoticeMirror:
    """The latest notices, as `NoticeLog.recent()` gives them."""

    def __init__(self, capacity: int = 500) -> None:
        self._items: deque[Notice] = deque(maxlen=capacity)

    def extend(self, notices: list[Notice]) -> None:
        self._items.extend(notices)

    def recent(self, count: int = 20) -> list[Notice]:
        return list(self._items)[-count:]

    @property
    def last_seq(self) -> int:
        return self._items[-1].seq if self._items else 0


class StoreMirror:
    """The alert store's figures (the Alerts title): `len()`, `capacity`, `evicted`, `rate()`."""

    def __init__(self) -> None:
        self.counts = StoreCounts()

    def __len__(self) -> int:
        return self.counts.kept

    @property
    def capacity(self) -> int:
        return self.counts.capacity

    @property
    def evicted(self) -> int:
        return self.counts.evicted

    @property
    def total_seen(self) -> int:
        return self.counts.total_seen

    @property
    def first_seq(self) -> int:
        return self.counts.first_seq

    @property
    def last_seq(self) -> int:
        return self.counts.last_seq

    def rate(self) -> float:
        return self.counts.rate_per_s


class DetailMirror:
    """Channels and Falco pod state of the nodes a screen looks at (the worker sends them while asked)."""

    def __init__(self, *, keep_s: float = 5.0) -> None:
        self.keep_s = keep_s
        self.details: dict[str, NodeDetail] = {}
        self.asked: dict[str, float] = {}  # node -> when a screen last asked (monotonic)

    def ask(self, node: str, now: float) -> NodeDetail | None:
        self.asked[node] = now
        return self.details.get(node)

    def watched(self, now: float) -> tuple[str, ...]:
        for node in [n for n, at in self.asked.items() if now - at > self.keep_s]:
            del self.asked[node]
            self.details.pop(node, None)
        return tuple(self.asked)

    def apply(self, details: dict[str, NodeDetail]) -> None:
        for node, detail in details.items():
            if node in self.asked:
                self.details[node] = detail
