"""The fleet grid's row types: a node's state word, NodeStatus (with its Falco reload state, whose words are
ops/reload_state.py's) and the summary."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from enum import StrEnum
from operator import attrgetter

from falcotui.falco.alerts import Priority
from falcotui.ops.fleet.falco_problems import FalcoProblem
from falcotui.ops.fleet.k8s import PodStatus
from falcotui.ops.rules.reload_state import NodeReload, ReloadState

IMAGE_PULL_REASONS = frozenset({"ImagePullBackOff", "ErrImagePull", "InvalidImageName"})
FAILING_REASONS = frozenset(
    {"CreateContainerConfigError", "CreateContainerError", "RunContainerError", "Error", "OOMKilled"}
)


class NodeState(StrEnum):
    """One word per row, worst first (the `state` sort order)."""

    NO_POD = "no-pod"
    CRASH_LOOP = "crash-loop"
    IMAGE_PULL = "image-pull"
    FAILING = "failing"
    PENDING = "pending"
    TERMINATING = "terminating"
    NODE_NOT_READY = "node-not-ready"
    NOT_READY = "not-ready"  # the pod runs but is not Ready
    RUNNING = "running"

    @property
    def rank(self) -> int:
        return _STATE_ORDER.index(self)


_STATE_ORDER = list(NodeState)


@dataclass(frozen=True, slots=True)
class NodeStatus:
    """One row of the fleet grid."""

    name: str
    state: NodeState
    ready: bool | None  # node Ready condition (None: Unknown)
    ready_reason: str
    cordoned: bool
    taints: tuple[str, ...]
    pod: PodStatus | None
    no_pod_reason: str  # why there is no Falco pod ("" when there is one)
    no_pod_taint: str  # the untolerated taint, when that is the reason
    version: str | None
    version_source: str | None  # "log" or "image"
    reload: NodeReload
    alerts_per_min: int
    series: tuple[int, ...]
    worst: Priority | None
    channels: tuple[str, ...]
    problem: FalcoProblem | None = None  # a cause only Falco's output shows (see ops/falco_problems.py)

    @property
    def restarts(self) -> int:
        return self.pod.restarts if self.pod else 0


#: the fields of a row that move with alerts and the clock (almost every change of a quiet fleet's rows);
#: the others move with Kubernetes and Falco's own state
LIVE_FIELDS = ("alerts_per_min", "series", "worst", "channels")
LivePart = tuple[int, tuple[int, ...], Priority | None, tuple[str, ...]]
_ALL = [f.name for f in fields(NodeStatus)]
_all_of = attrgetter(*_ALL)
_LIVE_AT = [_ALL.index(name) for name in LIVE_FIELDS]
live_part: Callable[[NodeStatus], LivePart] = attrgetter(*LIVE_FIELDS)
#: a row without its live part: two rows with equal steady parts differ at most in LIVE_FIELDS
steady_part: Callable[[NodeStatus], tuple] = attrgetter(*(n for n in _ALL if n not in LIVE_FIELDS))


def with_live(row: NodeStatus, live: LivePart) -> NodeStatus:
    """`row` with another live part (what `dataclasses.replace` does, at a fifth of its cost: the UI's
    mirror applies hundreds a second at 5,000 nodes)."""
    values = list(_all_of(row))
    for at, value in zip(_LIVE_AT, live, strict=True):
        values[at] = value
    return NodeStatus(*values)


@dataclass(frozen=True, slots=True)
class FleetSummary:
    nodes: int
    running: int
    crash_looping: int
    image_pull: int
    pending: int
    without_falco: int
    nodes_not_ready: int
    refusing_rules: int = 0  # nodes whose last rules reload Falco rejected (the old rules keep running)

    @property
    def text(self) -> str:
        """`48 nodes · 1 crash-looping · 2 without Falco`, zero counts left out."""
        parts = [f"{self.nodes} node{'s' if self.nodes != 1 else ''}"]
        for count, words in (
            (self.crash_looping, "crash-looping"),
            (self.image_pull, "failing to pull the image"),
            (self.pending, "pending"),
            (self.without_falco, "without Falco"),
            (self.nodes_not_ready, "not ready"),
            (self.refusing_rules, "refusing the rules"),
        ):
            if count:
                parts.append(f"{count} {words}")
        return " · ".join(parts)


def node_state(pod: PodStatus | None, node_ready: bool | None) -> NodeState:
    """The one word for a node: its Falco pod's trouble first, then the node's readiness."""
    if pod is None:
        return NodeState.NO_POD
    if pod.terminating:
        return NodeState.TERMINATING
    reason = pod.state.removeprefix("Init:")
    if reason == "CrashLoopBackOff":
        return NodeState.CRASH_LOOP
    if reason in IMAGE_PULL_REASONS:
        return NodeState.IMAGE_PULL
    if reason in FAILING_REASONS or pod.phase == "Failed":
        return NodeState.FAILING
    if pod.phase == "Pending":
        return NodeState.PENDING
    if node_ready is not True:
        return NodeState.NODE_NOT_READY
    if pod.ready < pod.total:
        return NodeState.NOT_READY
    return NodeState.RUNNING


__all__ = [
    "LIVE_FIELDS",
    "FleetSummary",
    "LivePart",
    "NodeReload",
    "NodeState",
    "NodeStatus",
    "ReloadState",
    "live_part",
    "node_state",
    "steady_part",
    "with_live",
]
