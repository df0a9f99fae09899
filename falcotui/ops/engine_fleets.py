"""Many clusters in one engine worker: an `Engine` per kubeconfig context, their alerts merged into one store.

`FleetsSpec` (picklable, sent by the UI as a worker's first call, like an `EngineSpec`) names the clusters;
`FleetsHost` answers the link's calls in their place:
- `engine@NAME` / `views@NAME`: that cluster's own engine (its own clients, rate limits, RBAC verdict,
  read-only state, informers, log and gRPC followers, hub — de-duplication stays per cluster — and store),
  exactly what a one-cluster worker's `engine` / `views` targets are;
- `views`: the merged store's alert views (the Alerts screen), `fleets.tick`: the merged store's counts and
  every cluster's connection state.

Each cluster starts on its own (`engine@NAME.start` returns at once): a cluster whose API does not answer is
retried with a growing pause while the others run, and its state says why. Alerts reach the merged store
from each cluster's store (`MergedAlerts.pump`, before every merged call): the same Alert objects, their
`cluster` output field set to the context name (what the `cluster:` filter and the CLUSTER column read), and
a channel an alert gains later (log+grpc) follows it there.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import os
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from falcotui.falco.sidekick import CLUSTER_FIELD
from falcotui.kube.errors import KubeError
from falcotui.ops.alerts.store import AlertStore
from falcotui.ops.alerts.view_service import ViewService
from falcotui.ops.engine import Engine, EngineError
from falcotui.ops.engine_batch import StoreCounts, store_counts
from falcotui.ops.engine_worker import VIEW_CALLS, EngineSpec, WorkerHost

RETRY_FIRST_S = 2.0  # a cluster that could not start is tried again after this long, doubling up to
RETRY_MAX_S = 30.0


@dataclass(frozen=True, slots=True)
class ClusterSpec:
    """One cluster of the fleet: the name it is shown (and filtered) by, and how to build its engine."""

    name: str
    spec: EngineSpec


@dataclass(frozen=True, slots=True)
class FleetsSpec:
    """Every cluster the worker is to follow, and the merged store's capacity."""

    clusters: tuple[ClusterSpec, ...]
    alert_capacity: int = 100_000

    def __post_init__(self) -> None:
        names = [c.name for c in self.clusters]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"clusters need distinct names, got {names}")

    def host(self, clients: dict[str, Any] | None = None) -> FleetsHost:
        """The dispatcher a worker serves instead of a one-engine `WorkerHost` (see `WorkerHost.open`);
        `clients` by cluster name: the UI's own (a thread), else each cluster builds its own."""
        return FleetsHost(self, clients)


@dataclass(frozen=True, slots=True)
class ClusterState:
    """Where one cluster's engine stands, for its row in the fleet of fleets."""

    phase: str  # "connecting", "running", "retrying" (start failed, tried again later), "failed" (no retry)
    error: str = ""  # why it is not running (API unreachable, kubeconfig problem), "" once it runs
    attempts: int = 0
    retry_in_s: float | None = None


@dataclass(slots=True)
class FleetsTick:
    """The merged side of one UI tick: the merged store's counts and every cluster's state."""

    store: StoreCounts
    clusters: dict[str, ClusterState] = field(default_factory=dict)


class MergedAlerts:
    """The merged store, fed from each cluster's store: new alerts in arrival order, later channel merges."""

    def __init__(self, capacity: int) -> None:
        self.store = AlertStore(capacity)
        self.views = ViewService(self.store)
        # per cluster: (its store, the last seq copied, its change count read, segments of copied seqs)
        self._feeds: dict[str, _Feed] = {}

    def pump(self, engines: dict[str, Engine]) -> None:
        """Copy what each cluster's store gained since the previous pump (on the worker's loop)."""
        merged = self.store
        for name, engine in engines.items():
            source = engine.store
            feed = self._feeds.get(name)
            if feed is None or feed.store is not source:  # new, or the engine was rebuilt for a retry:
                # everything it keeps (a tail read at start is there before the first pump)
                feed = self._feeds[name] = _Feed(source, source.first_seq - 1, source.change_count)
            new = source.since(feed.last_seq)
            if new:
                alerts = [entry.alert for entry in new]
                for alert in alerts:
                    alert.output_fields[CLUSTER_FIELD] = name
                first = merged.next_seq
                merged.extend(alerts)
                feed.segments.append((new[0].seq, first, len(new)))
                feed.last_seq = new[-1].seq
                # copied entries are contiguous per batch only when none was skipped; map each exactly
                if new[-1].seq - new[0].seq + 1 != len(new):
                    feed.segments.pop()
                    feed.segments.extend((e.seq, first + i, 1) for i, e in enumerate(new))
                for i, entry in enumerate(new):  # channels it gained before this copy (log+grpc)
                    if len(entry.channels) > 1 and (copy := merged.by_seq(first + i)) is not None:
                        for channel in entry.channels:
                            merged.add_channel(copy, channel)
            self._merge_channels(feed)
            feed.trim(merged.first_seq)

    def _merge_channels(self, feed: _Feed) -> None:
        source = feed.store
        if source.change_count == feed.change_count:
            return
        changed = source.changes_since(feed.change_count)
        feed.change_count = source.change_count
        for seq in changed or ():
            entry = source.by_seq(seq)
            target = self.store.by_seq(m) if entry is not None and (m := feed.merged_seq(seq)) else None
            if target is not None and entry is not None:
                for channel in entry.channels:
                    self.store.add_channel(target, channel)

    def counts(self) -> StoreCounts:
        return store_counts(self.store)


@dataclass(slots=True)
class _Feed:
    store: AlertStore
    last_seq: int
    change_count: int
    segments: deque[tuple[int, int, int]] = field(default_factory=deque)  # (source seq, merged seq, n)

    def merged_seq(self, seq: int) -> int | None:
        """The merged store's sequence number of the source's `seq` (None if it was never copied)."""
        segs = self.segments
        i = bisect.bisect_right(segs, (seq, float("inf"), 0)) - 1
        if i < 0:
            return None
        start, merged, n = segs[i]
        return merged + (seq - start) if seq < start + n else None

    def trim(self, first_kept: int) -> None:
        """Forget segments whose every copy the merged store has evicted."""
        segs = self.segments
        while segs and segs[0][1] + segs[0][2] <= first_kept:
            segs.popleft()


class ClusterEngine:
    """One cluster's engine in the worker, started (and retried) on its own."""

    def __init__(self, spec: ClusterSpec, clients: Any = None) -> None:
        """`clients`: the UI's own (an engine on a thread, whose credential plugin may borrow the terminal);
        else built here from the spec, for a process without a terminal."""
        self.spec = spec
        self.host = WorkerHost()
        self.state = ClusterState("connecting")
        self._clients: Any = clients
        self._task: asyncio.Task | None = None
        self._retry_at: float | None = None
        try:
            if self._clients is None:
                self._clients = spec.spec.connect.load()
        except (KubeError, OSError, ValueError) as exc:  # no such context, an unreadable certificate…
            self.state = ClusterState("failed", f"cannot load the context: {exc}")
            return
        self.host._host(spec.spec.build(self._clients))

    @property
    def engine(self) -> Engine | None:
        return self.host.engine

    def start(self, sync_timeout: float | None) -> None:
        if self._task is None and self.engine is not None:
            self._task = asyncio.create_task(self._run(sync_timeout), name=f"cluster-start-{self.spec.name}")

    async def _run(self, sync_timeout: float | None) -> None:
        pause = RETRY_FIRST_S
        attempts = 0
        while True:
            attempts += 1
            engine = self.engine
            assert engine is not None
            try:
                await engine.start(sync_timeout=sync_timeout)
            except EngineError as exc:
                if engine._stopped:  # it listed nothing in time and stopped: a fresh one for the next try
                    self.host._host(self.spec.spec.build(self._clients))
                self._retry_at = time.monotonic() + pause
                self.state = ClusterState("retrying", str(exc), attempts)
                await asyncio.sleep(pause)
                pause = min(pause * 2, RETRY_MAX_S)
                self.state = ClusterState("connecting", str(exc), attempts)
                continue
            except Exception as exc:  # a bug of ours must not take the other clusters down
                self.state = ClusterState("failed", f"{type(exc).__name__}: {exc}", attempts)
                return
            self.state = ClusterState("running", "", attempts)
            return

    def current_state(self) -> ClusterState:
        s = self.state
        if s.phase == "retrying" and self._retry_at is not None:
            return ClusterState(s.phase, s.error, s.attempts, max(0.0, self._retry_at - time.monotonic()))
        return s

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self.engine is not None:
            await self.engine.stop()


class FleetsHost:
    """The worker's dispatcher for many clusters; see the module docstring."""

    def __init__(self, spec: FleetsSpec, clients: dict[str, Any] | None = None) -> None:
        self.spec = spec
        # Every cluster's API probes, access checks and secret reads go through the loop's default executor
        # (min(32, CPUs + 4) threads: 6 on two cores). Each unreachable cluster holds a thread for a probe's
        # whole timeout; the live clusters' calls must not queue behind them.
        with contextlib.suppress(RuntimeError):  # no running loop: built outside a worker (tests)
            asyncio.get_running_loop().set_default_executor(
                ThreadPoolExecutor(max_workers=8 + 4 * len(spec.clusters), thread_name_prefix="fleets")
            )
        given = clients or {}
        self.clusters = {c.name: ClusterEngine(c, given.get(c.name)) for c in spec.clusters}
        self.merged = MergedAlerts(spec.alert_capacity)
        self.stopped = asyncio.Event()

    def engines(self) -> dict[str, Engine]:
        return {name: c.engine for name, c in self.clusters.items() if c.engine is not None}

    def __call__(self, target: str, method: str, args: tuple) -> Any:
        kind, _, name = target.partition("@")
        if name:
            cluster = self.clusters.get(name)
            if cluster is None:
                raise LookupError(f"no cluster {name!r} in this worker")
            if kind == "engine" and method == "start":
                cluster.start(*args)
                return None
            if kind == "engine" and method == "stop":
                return cluster.stop()
            if cluster.engine is None:
                raise EngineError(cluster.state.error or f"cluster {name} has no engine")
            return cluster.host(kind, method, args)
        if target == "views" and method in VIEW_CALLS:
            self.merged.pump(self.engines())
            return getattr(self.merged.views, method)(*args)
        if target == "fleets" and method == "tick":
            self.merged.pump(self.engines())
            states = {name: c.current_state() for name, c in self.clusters.items()}
            return FleetsTick(self.merged.counts(), states)
        if target == "fleets" and method == "stop":
            return self.stop()
        if target == "worker" and method == "ping":
            return os.getpid()
        raise LookupError(f"the fleets worker has no {target}.{method}")

    async def stop(self) -> None:
        """Stop every cluster's engine (each on its own: one stuck cluster does not hold the others)."""
        await asyncio.gather(*(c.stop() for c in self.clusters.values()), return_exceptions=True)
        self.stopped.set()
