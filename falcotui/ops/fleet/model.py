"""The fleet model: every node joined with its Falco pod, Falco's own state and its alerts, one row per node.

FleetState is fed by informers (nodes, pods, daemonsets) as add/modify/delete events of plain dicts, or a
whole snapshot after a (re-)list, and keeps the Kubernetes half of every row cached until an event touches
that node. The live half (Falco version and last reload from the pod's log, alerts per minute, sparkline,
worst recent priority, live channels) is read from the AlertHub when rows are asked for, so the UI simply
calls `rows()` on its timer.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from falcotui.kube.eligibility import Placement, daemon_placement, format_taint, node_taints
from falcotui.kube.resources import FALCO_LABELS
from falcotui.ops.alerts.hub import AlertHub
from falcotui.ops.fleet.falco_pods import FalcoPodInfo
from falcotui.ops.fleet.k8s import (
    DaemonSetSummary,
    PodStatus,
    daemonset_pod_spec,
    daemonset_summary,
    labels_match,
    name_of,
    node_cordoned,
    node_ready,
    pod_status,
    pod_target_node,
)
from falcotui.ops.fleet.status import (
    FleetSummary,
    NodeReload,
    NodeState,
    NodeStatus,
    ReloadState,
    node_state,
)
from falcotui.ops.rules.reload_state import PushMark
from falcotui.ops.rules.reload_watch import PushWatch

SORT_KEYS = ("name", "alerts", "worst", "restarts", "state")


@dataclass(frozen=True, slots=True)
class _K8sPart:
    name: str
    ready: bool | None
    ready_reason: str
    cordoned: bool
    taints: tuple[str, ...]
    pod: PodStatus | None
    placement: Placement | None  # for nodes without a pod
    state: NodeState
    raw_pod: dict | None = None  # the pod object `pod` was read from


def _pod_rank(pod: Mapping) -> tuple:
    meta = pod.get("metadata") or {}
    return (not meta.get("deletionTimestamp"), meta.get("creationTimestamp") or "", meta.get("name") or "")


class FleetState:
    """Nodes, Falco pods and the Falco DaemonSet, applied incrementally; rows on demand."""

    def __init__(
        self,
        hub: AlertHub | None = None,
        *,
        namespace: str | None = "falco",
        daemonset: str = "falco",
        pod_selector: Mapping[str, str] = FALCO_LABELS,
        series_buckets: int = 10,
        series_seconds: int = 60,
        worst_minutes: int = 10,
        clock: Callable[[], int] | None = None,
    ) -> None:
        self.hub = hub
        self.namespace = namespace
        self.daemonset_name = daemonset
        self.pod_selector = dict(pod_selector)
        self.series_buckets = series_buckets
        self.series_seconds = series_seconds
        self.worst_minutes = worst_minutes
        self._clock = clock or (hub._clock if hub is not None else time.time_ns)
        self.nodes: dict[str, dict] = {}
        self.pods: dict[tuple[str, str], dict] = {}
        self._ds: dict | None = None
        self._pods_by_node: dict[str, set[tuple[str, str]]] = {}
        self._pod_node: dict[tuple[str, str], str | None] = {}
        self._cache: dict[str, _K8sPart] = {}
        self._changed: set[str] = set()
        self._push: PushWatch | None = None  # the latest rules push, watched node by node
        self._refusal = ""  # admission's latest refusal of the DaemonSet's pods (its FailedCreate event)

    # ------------------------------------------------------------ events

    def apply(self, resource: str, event_type: str, obj: dict) -> None:
        """One informer event: `resource` is nodes/pods/daemonsets, `event_type` added/modified/deleted."""
        deleted = str(event_type).lower() == "deleted"
        if resource == "nodes":
            name = name_of(obj)
            if deleted:
                self.nodes.pop(name, None)
            else:
                self.nodes[name] = obj
            self._touch(name)
        elif resource == "pods":
            self._apply_pod(obj, deleted)
        elif resource == "daemonsets":
            self._apply_daemonset(obj, deleted)
        else:
            raise ValueError(f"the fleet does not follow {resource!r} (nodes, pods, daemonsets)")

    def apply_event(self, event: object) -> None:
        """An informer event object with `type`, `resource`, `obj` and, after a (re-)list, `snapshot`."""
        kind = str(getattr(event, "type", ""))
        resource = str(getattr(event, "resource", ""))
        if kind in ("synced", "resynced"):
            self.replace(resource, (getattr(event, "snapshot", None) or {}).values())
        elif kind in ("added", "modified", "deleted"):
            self.apply(resource, kind, getattr(event, "obj", None) or {})

    def replace(self, resource: str, objects: Iterable[dict]) -> None:
        """A full list of one resource, replacing what was known (after a list or a 410 re-list)."""
        objects = list(objects)
        if resource == "nodes":
            gone = set(self.nodes) - {name_of(o) for o in objects}
            for name in gone:
                self.apply("nodes", "deleted", self.nodes[name])
        elif resource == "pods":
            keys = {self._key(o) for o in objects}
            for key in [k for k in self.pods if k not in keys]:
                self._apply_pod(self.pods[key], True)
        elif resource == "daemonsets":
            if self._ds is not None and not any(self._is_our_ds(o) for o in objects):
                self._apply_daemonset(self._ds, True)
        else:
            raise ValueError(f"the fleet does not follow {resource!r} (nodes, pods, daemonsets)")
        for obj in objects:
            self.apply(resource, "modified", obj)

    @staticmethod
    def _key(obj: Mapping) -> tuple[str, str]:
        meta = obj.get("metadata") or {}
        return meta.get("namespace") or "", meta.get("name") or ""

    def _touch(self, node: str | None) -> None:
        if node is not None:
            self._cache.pop(node, None)
            self._changed.add(node)

    def _apply_pod(self, pod: dict, deleted: bool) -> None:
        key = self._key(pod)
        if not deleted and (
            not labels_match(pod, self.pod_selector) or (self.namespace and key[0] != self.namespace)
        ):
            deleted = key in self.pods  # relabelled away: forget it
            if not deleted:
                return
        old_node = self._pod_node.pop(key, None)
        if old_node is not None:
            self._pods_by_node.get(old_node, set()).discard(key)
            self._touch(old_node)
        if deleted:
            if self.pods.pop(key, None) is not None and self.hub is not None:
                self.hub.forget_pod(key[1])
            return
        node = pod_target_node(pod)
        self.pods[key] = pod
        self._pod_node[key] = node
        if node is not None:
            self._pods_by_node.setdefault(node, set()).add(key)
            self._touch(node)

    def _is_our_ds(self, ds: Mapping) -> bool:
        ns, name = self._key(ds)
        return name == self.daemonset_name and (not self.namespace or ns == self.namespace)

    def _apply_daemonset(self, ds: dict, deleted: bool) -> None:
        if not self._is_our_ds(ds):
            return
        old_generation = ((self._ds or {}).get("metadata") or {}).get("generation")
        self._ds = None if deleted else ds
        if deleted or old_generation != (ds.get("metadata") or {}).get("generation"):
            self._refusal = ""  # a new spec: earlier refusals are about the old one
        for name in list(self.nodes):  # placement of every node without a pod may change
            self._touch(name)

    def daemonset_refused(self, message: str) -> None:
        """Admission refused to create a pod of our DaemonSet (a FailedCreate event): nodes waiting for
        their pod show why, until a new spec or a pod arrives."""
        self._refusal = message
        for name in list(self.nodes):
            self._touch(name)

    def mark_reload_pending(self, push: PushMark | None) -> None:
        """A rules push was sent: every node shows it pending until its Falco reloads (or refuses, or
        crash-loops, or the push's timeout passes), judged from each pod's log model (see
        ops/reload_watch.py). The pods running now are the push's baseline. None forgets the push."""
        self._push = None if push is None else PushWatch(push, self._clock())
        if self._push is not None:
            hub = self.hub
            for (_ns, name), pod in self.pods.items():
                self._push.adopt(pod, hub.pod_info(name) if hub is not None else None)
        self._changed.update(self.nodes)  # every row's reload cell changes

    def changed_since(self, version: int) -> tuple[int, set[str] | None]:
        """As `FleetMirror.changed_since`; rows here are computed on demand and age with the clock, so which
        changed is not known: (a new version, None) — a screen recomputes every row it shows."""
        return version + 1, None

    def changed(self) -> set[str]:
        """Nodes whose Kubernetes state changed since the previous call (for keyed table updates)."""
        out, self._changed = self._changed, set()
        return out

    # ------------------------------------------------------------ rows

    def _k8s_part(self, name: str) -> _K8sPart:
        part = self._cache.get(name)
        if part is not None:
            return part
        node = self.nodes[name]
        ready, why = node_ready(node)
        keys = self._pods_by_node.get(name) or ()
        pods = [self.pods[k] for k in keys if k in self.pods]
        raw = max(pods, key=_pod_rank) if pods else None
        pod = pod_status(raw) if raw is not None else None
        placement = None
        if pod is None:
            if self._ds is None:
                placement = Placement("no-daemonset", f"no DaemonSet {self.daemonset_name!r}")
            else:
                placement = daemon_placement(daemonset_pod_spec(self._ds), node)
                if placement.eligible and self._refusal:
                    placement = Placement("refused", f"admission refuses the pod: {self._refusal}")
                elif placement.eligible:
                    waiting = "" if ready else " (node not ready)"
                    placement = Placement("pending-creation", f"pending creation{waiting}")
        part = _K8sPart(
            name=name,
            ready=ready,
            ready_reason=why,
            cordoned=node_cordoned(node),
            taints=tuple(format_taint(t) for t in node_taints(node)),
            pod=pod,
            placement=placement,
            state=node_state(pod, ready),
            raw_pod=raw,
        )
        self._cache[name] = part
        return part

    def _falco_info(self, part: _K8sPart) -> FalcoPodInfo | None:
        if self.hub is None or part.pod is None:
            return None
        return self.hub.pod_info(part.pod.name)

    def _reload(self, part: _K8sPart, info: FalcoPodInfo | None, now_ns: int | None = None) -> NodeReload:
        pod = part.pod
        if pod is None:
            return NodeReload(ReloadState.UNKNOWN, node=part.name)
        last = info.last_reload if info else None
        if self._push is not None and part.raw_pod is not None:
            now = self._clock() if now_ns is None else now_ns
            got = self._push.node_reload(part.name, part.raw_pod, info, now)
            after = max(got.at_ns or 0, self._push.floor(pod.name))
            newer = (
                last is not None
                and last.state is not ReloadState.FAILED  # a crash loop repeats: the push's outcome stands
                and last.at_ns is not None
                and last.at_ns > after
            )
            if not (got.state.final and newer):  # a later reload than the push's outcome shows as such
                return got
        if pod.state == "CrashLoopBackOff":
            detail = info.last_error.detail if info and info.last_error else pod.detail
            return NodeReload(
                ReloadState.CRASH_LOOP, last.at_ns if last else None, detail, None, part.name, pod.name
            )
        if last is None:
            state = ReloadState.NONE if info else ReloadState.UNKNOWN
            return NodeReload(state, info.started_ns if info else None, node=part.name, pod=pod.name)
        return NodeReload(last.state, last.at_ns, last.detail, last.failure, part.name, pod.name)

    def row(self, name: str, *, now_ns: int | None = None) -> NodeStatus | None:
        if name not in self.nodes:
            return None
        part = self._k8s_part(name)
        info = self._falco_info(part)
        now = self._clock() if now_ns is None else now_ns
        hub = self.hub
        if hub is not None:
            store = hub.store
            per_min = store.alerts_per_minute(name, now_ns=now)
            series = tuple(store.rate_series(name, self.series_buckets, self.series_seconds, now_ns=now))
            worst = store.worst_priority(name, self.worst_minutes, now_ns=now)
            channels = hub.live_channels(name)
        else:
            per_min, series, worst, channels = 0, (0,) * self.series_buckets, None, ()
        if info is not None and info.version:
            version, source = info.version, "log"
        elif part.pod is not None and part.pod.image_tag:
            version, source = part.pod.image_tag, "image"
        else:
            version, source = None, None
        placement = part.placement
        return NodeStatus(
            name=name,
            state=part.state,
            ready=part.ready,
            ready_reason=part.ready_reason,
            cordoned=part.cordoned,
            taints=part.taints,
            pod=part.pod,
            no_pod_reason=placement.reason if placement else "",
            no_pod_taint=placement.taint if placement else "",
            version=version,
            version_source=source,
            reload=self._reload(part, info, now),
            alerts_per_min=per_min,
            series=series,
            worst=worst,
            channels=channels,
            problem=info.problem if info is not None else None,
        )

    def rows(
        self, sort: str = "name", *, descending: bool | None = None, text: str = "", now_ns: int | None = None
    ) -> list[NodeStatus]:
        """Every node's row, filtered by `text` (a substring of the name, state, pod state or the reason
        there is no pod) and sorted by `sort` (one of SORT_KEYS). Numbers sort largest first and states
        worst first unless `descending=False`; ties go by name."""
        now = self._clock() if now_ns is None else now_ns
        rows = [r for name in self.nodes if (r := self.row(name, now_ns=now)) is not None]
        return order_rows(rows, sort, descending=descending, text=text)

    def summary(self) -> FleetSummary:
        parts = [self._k8s_part(name) for name in self.nodes]
        count = {state: 0 for state in NodeState}
        for p in parts:
            count[p.state] += 1
        return FleetSummary(
            nodes=len(parts),
            running=count[NodeState.RUNNING],
            crash_looping=count[NodeState.CRASH_LOOP],
            image_pull=count[NodeState.IMAGE_PULL],
            pending=count[NodeState.PENDING],
            without_falco=count[NodeState.NO_POD],
            nodes_not_ready=sum(1 for p in parts if p.ready is not True),
            refusing_rules=sum(
                1 for p in parts if self._reload(p, self._falco_info(p)).state is ReloadState.REJECTED
            ),
        )

    def refusing_rules(self) -> list[tuple[str, NodeReload]]:
        """The nodes whose last rules reload Falco rejected, by name, with what it said."""
        found = []
        for name in sorted(self.nodes, key=_natural):
            part = self._k8s_part(name)
            reload = self._reload(part, self._falco_info(part))
            if reload.state is ReloadState.REJECTED:
                found.append((name, reload))
        return found

    def daemonset(self) -> DaemonSetSummary | None:
        return daemonset_summary(self._ds) if self._ds is not None else None


def order_rows(
    rows: Iterable[NodeStatus], sort: str = "name", *, descending: bool | None = None, text: str = ""
) -> list[NodeStatus]:
    """`rows` filtered by `text` and sorted by `sort`, as `FleetState.rows` describes (also used by the UI's
    mirror of a fleet kept in the engine's worker)."""
    if sort not in SORT_KEYS:
        raise ValueError(f"unknown sort key {sort!r} (expected one of {', '.join(SORT_KEYS)})")
    needle = text.strip().lower()
    rows = [r for r in rows if needle in _haystack(r)] if needle else list(rows)
    rows.sort(key=lambda r: _natural(r.name))
    if sort == "name":
        if descending:
            rows.reverse()
        return rows
    key: Callable[[NodeStatus], int] = {
        "alerts": lambda r: -r.alerts_per_min,
        "worst": lambda r: 8 if r.worst is None else int(r.worst),
        "restarts": lambda r: -r.restarts,
        "state": lambda r: r.state.rank,
    }[sort]
    rows.sort(key=key, reverse=descending is False)
    return rows


def _haystack(row: NodeStatus) -> str:
    pod = f"{row.pod.name} {row.pod.state}" if row.pod else ""
    problem = f"{row.problem.kind} {row.problem.summary}" if row.problem else ""
    return f"{row.name} {row.state} {pod} {row.no_pod_reason} {problem}".lower()


@functools.lru_cache(maxsize=1 << 16)
def _natural(name: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))
