"""What one UI tick receives from the engine's worker, and the worker-side bookkeeping that makes it small.

`TickBatcher` sits beside the real `Engine` in the worker: each `batch(watch)` drains the engine once and
returns a `TickBatch` — health, the store's counts and rate, new notices and Kubernetes Warning events, and
only the fleet rows that differ from what the UI was sent before (keyed by node; None for a node gone). Rows
of nodes the tick touched (Kubernetes change, new alerts, a channel or a Falco pod's state) are recomputed
at once, and every row once a second in a round-robin spread over the ticks (rates and sparklines move with
time); a recomputed row that equals the one sent last is not sent again: 1,000 quiet nodes cost ~70 row
computations and comparisons per tick and nothing on the wire. The fleet-wide figures (summary, DaemonSet,
nodes refusing the rules) are recomputed on Kubernetes or Falco-pod changes and once a second.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from falcotui.ops.alerts.channel_health import ChannelStatus
from falcotui.ops.alerts.store import AlertStore
from falcotui.ops.engine import Engine, Health, K8sEvent
from falcotui.ops.fleet.falco_pods import FalcoPodInfo
from falcotui.ops.fleet.k8s import DaemonSetSummary
from falcotui.ops.fleet.status import FleetSummary, NodeReload, NodeStatus
from falcotui.ops.notices import Notice

FULL_REFRESH_S = 1.0  # every row is recomputed this often (its rate and sparkline age with the clock)
UNCHANGED = None  # a field of TickBatch left None did not change since the previous batch


@dataclass(frozen=True, slots=True)
class StoreCounts:
    """The alert store's figures the Alerts title shows (kept, capacity, evicted, rate)."""

    kept: int = 0
    capacity: int = 0
    evicted: int = 0
    rate_per_s: float = 0.0
    total_seen: int = 0
    first_seq: int = 1
    last_seq: int = 0


@dataclass(slots=True)
class AlertCounts:
    """The alert side of a tick, without the alerts (views fetch the rows they show): how many arrived,
    how many were evicted unseen, and the channels and Falco pods whose state changed."""

    new: int = 0
    missed: int = 0
    merged: int = 0
    channels: list[ChannelStatus] = field(default_factory=list)
    pods: list[FalcoPodInfo] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class NodeDetail:
    """What a node's detail screen reads besides its row: its channels and its Falco pod's log state."""

    channels: tuple[ChannelStatus, ...]
    pod_info: FalcoPodInfo | None


@dataclass(slots=True)
class TickBatch:
    """One UI tick's worth of change (the `EngineDelta` of a remote engine)."""

    health: Health
    nodes: set[str]  # fleet rows whose Kubernetes state changed (as EngineDelta.nodes)
    alerts: AlertCounts
    notices: list[Notice]
    k8s_events: list[K8sEvent]
    store: StoreCounts
    rows: dict[str, NodeStatus | None] = field(default_factory=dict)  # changed rows; None: node gone
    summary: FleetSummary | None = UNCHANGED
    daemonset: tuple[DaemonSetSummary | None] | None = UNCHANGED  # (value,) when it changed
    refusing: list[tuple[str, NodeReload]] | None = UNCHANGED
    details: dict[str, NodeDetail] = field(default_factory=dict)  # changed details of watched nodes
    namespace: str = ""
    daemonset_name: str = ""


class TickBatcher:
    """See the module docstring; one per engine, used on the engine's loop only."""

    def __init__(self, engine: Engine, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self._monotonic = monotonic
        self._sent_rows: dict[str, NodeStatus] = {}
        self._sent_summary: FleetSummary | None = None
        self._sent_ds: tuple[DaemonSetSummary | None] | None = None
        self._sent_refusing: list[tuple[str, NodeReload]] | None = None
        self._sent_details: dict[str, NodeDetail] = {}
        self._events_seen = 0
        self._wide_at = float("-inf")
        self._swept_at = float("-inf")
        self._cursor = 0

    def batch(self, watch: Iterable[str] = ()) -> TickBatch:
        """Drain the engine once; `watch` names the nodes whose details the UI shows now."""
        engine = self.engine
        hub_delta = engine.hub.drain()
        k8s_changed = engine.fleet.changed()
        dirty = set(k8s_changed)
        dirty.update(s.node for s in hub_delta.alerts)
        dirty.update(s.node for s in hub_delta.merged)
        dirty.update(c.node for c in hub_delta.channels)
        dirty.update(p.node for p in hub_delta.pods if p.node)
        now = self._monotonic()
        dirty.update(self._sweep(now))
        wide = bool(k8s_changed or hub_delta.pods) or now - self._wide_at >= FULL_REFRESH_S
        batch = TickBatch(
            health=engine.health(),
            nodes=k8s_changed,
            alerts=AlertCounts(
                new=len(hub_delta.alerts),
                missed=hub_delta.missed,
                merged=len(hub_delta.merged),
                channels=hub_delta.channels,
                pods=hub_delta.pods,
            ),
            notices=engine.notices.drain(),
            k8s_events=self._new_events(),
            store=self._store_counts(),
            namespace=engine.namespace,
            daemonset_name=engine.fleet.daemonset_name,
        )
        self._rows(batch, dirty)
        if wide:
            self._wide_at = now
            self._fleet_wide(batch)
        self._details(batch, watch)
        return batch

    def _sweep(self, now: float) -> list[str]:
        """The next slice of a round-robin over every node, sized so each is recomputed once per
        FULL_REFRESH_S however often ticks come (a thousand rows at once would stall the engine's loop)."""
        nodes = self.engine.fleet.nodes
        names = list(nodes) + [n for n in self._sent_rows if n not in nodes]  # and rows of nodes gone
        elapsed, self._swept_at = now - self._swept_at, now
        if not names:
            return []
        count = min(len(names), math.ceil(len(names) * min(1.0, elapsed / FULL_REFRESH_S)))
        start = self._cursor % len(names)
        self._cursor = start + count
        return (names[start:] + names[:start])[:count]

    def _rows(self, batch: TickBatch, names: set[str]) -> None:
        fleet, sent = self.engine.fleet, self._sent_rows
        for name in names:
            row = fleet.row(name) if name in fleet.nodes else None
            if row is None:
                if sent.pop(name, None) is not None:
                    batch.rows[name] = None
            elif sent.get(name) != row:
                sent[name] = row
                batch.rows[name] = row

    def _fleet_wide(self, batch: TickBatch) -> None:
        fleet = self.engine.fleet
        summary = fleet.summary()
        if summary != self._sent_summary:
            self._sent_summary = batch.summary = summary
        ds = (fleet.daemonset(),)
        if ds != self._sent_ds:
            self._sent_ds = batch.daemonset = ds
        refusing = fleet.refusing_rules()
        if refusing != self._sent_refusing:
            self._sent_refusing = batch.refusing = refusing

    def _details(self, batch: TickBatch, watch: Iterable[str]) -> None:
        hub, fleet = self.engine.hub, self.engine.fleet
        watched = set(watch)
        for gone in [n for n in self._sent_details if n not in watched]:
            del self._sent_details[gone]
        for node in watched:
            row = self._sent_rows.get(node) or (fleet.row(node) if node in fleet.nodes else None)
            info = hub.pod_info(row.pod.name) if row is not None and row.pod is not None else None
            detail = NodeDetail(
                tuple(copy.copy(c) for c in hub.channels_of(node)), copy.deepcopy(info) if info else None
            )
            if self._sent_details.get(node) != detail:
                self._sent_details[node] = batch.details[node] = detail

    def _new_events(self) -> list[K8sEvent]:
        events, total = self.engine.k8s_events, self.engine.k8s_events_total
        new = min(total - self._events_seen, len(events))  # the deque is bounded: older ones are gone
        self._events_seen = total
        return list(events)[len(events) - new :] if new > 0 else []

    def _store_counts(self) -> StoreCounts:
        return store_counts(self.engine.store)


def store_counts(store: AlertStore) -> StoreCounts:
    """The figures of `store` a UI's Alerts title shows."""
    return StoreCounts(
        kept=len(store),
        capacity=store.capacity,
        evicted=store.evicted,
        rate_per_s=store.rate(),
        total_seen=store.total_seen,
        first_seq=store.first_seq,
        last_seq=store.last_seq,
    )
