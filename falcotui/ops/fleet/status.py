"""The fleet grid's row types: a node's state word, NodeStatus (with its Falco reload state, whose words are
ops/reload_state.py's) and the summary."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

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


__all__ = ["FleetSummary", "NodeReload", "NodeState", "NodeStatus", "ReloadState", "node_state"]
