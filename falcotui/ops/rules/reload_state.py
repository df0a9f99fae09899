"""One vocabulary for a Falco pod's rules reload: the state word, the per-node record, a push's summary, and
the mark a push leaves (what "since the push" means on each node).

Facts (DESIGN.md): a changed rules ConfigMap reaches the pods after the kubelet's sync; Falco dry-runs the
new rules; valid → `SIGHUP received, restarting...` then its start-up lines again; invalid → the old rules
keep running and the internal alert `Falco internal: hot restart failure` is emitted
(falcosecurity/falco userspace/falco/app/actions/create_signal_handlers.cpp); `Error:` at start means Falco
exited (the pod crash-loops). The fleet grid, node detail, the Rules screen's reload panel and the headless
`rules push` all speak these words.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from falcotui.falco.load_failure import LoadFailure

HOT_RESTART_FAILURE = "Falco internal: hot restart failure"
SIGHUP_DETAIL = "SIGHUP received, restarting"  # a reload's first step: the new rules passed the dry run
RESTARTED_DETAIL = "restarted with the new rules"  # ... and its last: the restart opened its sources


class ReloadState(StrEnum):
    NONE = "none"  # running, no reload seen since it started
    UNKNOWN = "unknown"  # no Falco pod, or nothing read from its log yet
    PENDING = "pending"  # a rules push is waiting for this node to reload
    RESTARTING = "restarting"  # SIGHUP received: Falco is restarting with the new rules
    RELOADED = "reloaded"  # restarted with the new rules
    REJECTED = "rejected"  # refused: hot restart failure, the old rules keep running
    FAILED = "failed"  # `Error:` at start: Falco exited
    CRASH_LOOP = "crash-loop"  # the container keeps restarting
    TIMED_OUT = "timed out"  # a push saw no outcome on this node within its timeout

    @property
    def final(self) -> bool:
        """A push's outcome on the node is known (nothing more to wait for)."""
        return self in _FINAL


_FINAL = frozenset(
    {
        ReloadState.RELOADED,
        ReloadState.REJECTED,
        ReloadState.FAILED,
        ReloadState.CRASH_LOOP,
        ReloadState.TIMED_OUT,
    }
)


@dataclass(frozen=True, slots=True)
class NodeReload:
    """A node's reload state: what, when (the node's log clock), why, and for a refusal where."""

    state: ReloadState
    at_ns: int | None = None
    detail: str = ""
    failure: LoadFailure | None = None  # a rejected reload's file, line and Falco's message
    node: str = ""
    pod: str = ""
    push_ns: int | None = None  # the push (PushMark.since_ns) this state answers; None: the pod's own


@dataclass(frozen=True, slots=True)
class ReloadSummary:
    nodes: tuple[NodeReload, ...]
    elapsed: float

    def count(self, state: ReloadState) -> int:
        return sum(1 for n in self.nodes if n.state is state)

    @property
    def ok(self) -> bool:
        """Every node reloaded (and there was at least one Falco pod)."""
        return bool(self.nodes) and all(n.state is ReloadState.RELOADED for n in self.nodes)

    @property
    def timed_out(self) -> bool:
        return any(n.state is ReloadState.TIMED_OUT for n in self.nodes)

    def line(self) -> str:
        parts = [f"{self.count(s)} {s.value}" for s in ReloadState if self.count(s)]
        return f"{len(self.nodes)} node(s): " + (", ".join(parts) or "no Falco pods")


@dataclass(frozen=True, slots=True)
class PushMark:
    """A rules push as the reload tracking needs it. `since_ns` is the operator's clock (only for pods whose
    log position was unknown); `log_marks` is each Falco pod's last log line before the push (pod name ->
    kubelet timestamp, the node's clock; None: nothing logged), so whatever a pod logs later is after the
    push by its own clock; `server_since_ns` is the push as the API server timed it (managedFields), for
    comparing with creationTimestamps."""

    since_ns: int
    log_marks: Mapping[str, int | None] = field(default_factory=dict)
    server_since_ns: int | None = None
    timeout_s: float = 150.0
