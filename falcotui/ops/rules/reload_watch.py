"""A rules push's outcome on each node, read from the per-pod pipeline (FalcoPodInfo's reload events, which
carry their lines' kubelet timestamps) and the pod's status: pending → restarting → reloaded, rejected,
crash-loop or timed out. Nothing here reads a log: the engine's followers already classify every line.

"Since the push" is never the operator's clock where it can be avoided: a node's log lines carry the node's
clock (its container runtime stamps them), so each pod's events count after its own last line before the
push (`PushMark.log_marks`, taken from the pipeline just before the ConfigMap is replaced), and a pod's
creationTimestamp (API server clock) is compared with the push's time as the API server recorded it
(managedFields). The operator's clock is only the fallback for a pod whose log position was unknown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from falcotui.falco.alerts import parse_iso8601_ns
from falcotui.kube.logs import container_status
from falcotui.kube.objects import is_ready, ready_changed_at
from falcotui.ops.fleet.falco_pods import FalcoPodInfo
from falcotui.ops.rules.reload_state import NodeReload, PushMark, ReloadState

FALCO_CONTAINER = "falco"
PROPAGATION_NOTE = "waiting for the kubelet to update the mounted rules"
_NS = 1_000_000_000


def _stamp(text: object) -> int | None:
    try:
        return parse_iso8601_ns(str(text)) if text else None
    except ValueError:
        return None


def _restarts(pod: Mapping) -> int:
    st = container_status(dict(pod), FALCO_CONTAINER) or {}
    return int(st.get("restartCount") or 0)


def _waiting_reason(pod: Mapping) -> str:
    st = container_status(dict(pod), FALCO_CONTAINER) or {}
    return ((st.get("state") or {}).get("waiting") or {}).get("reason") or ""


def _ready_since(pod: Mapping) -> int | None:
    """When the pod turned Ready, by the kubelet's own account (the condition's lastTransitionTime)."""
    return _stamp(ready_changed_at(pod))


def _finished_at(pod: Mapping) -> int | None:
    """When the Falco container last exited, from its status (lastState/state terminated.finishedAt)."""
    st = container_status(dict(pod), FALCO_CONTAINER) or {}
    for key in ("state", "lastState"):
        term = (st.get(key) or {}).get("terminated") or {}
        if term.get("finishedAt"):
            return _stamp(term["finishedAt"])
    return None


def server_time(obj: Mapping, manager: str) -> int | None:
    """When the API server recorded `manager`'s last update of `obj` (managedFields time, server clock)."""
    times = [
        ts
        for entry in (obj.get("metadata") or {}).get("managedFields") or []
        if entry.get("manager") == manager and (ts := _stamp(entry.get("time"))) is not None
    ]
    return max(times) if times else None


def _said(failed: NodeReload) -> str:
    """A start failure as Falco printed it (`Error: ...`), before it exited."""
    return f"Error: {failed.detail}"


@dataclass(frozen=True, slots=True)
class _Baseline:
    restarts: int  # the Falco container's restarts when the push was marked (or the pod first seen)
    fresh: bool  # created after the push, or crash-looping at it: it loads the new rules when it starts
    detail: str  # what a pending node waits for
    crashing: bool = False  # crash-looping at the push: only a later instance can say anything of it
    instance: int = 0  # the restartCount of the instance the log was read from at the push


class PushWatch:
    """One push being watched: its mark, each pod's baseline (taken when the push is marked, or when a pod
    first shows up after it) and the deadline (`now_ns` + the mark's timeout, on the fleet's clock)."""

    def __init__(self, mark: PushMark, now_ns: int) -> None:
        self.mark = mark
        self.deadline_ns = now_ns + int(mark.timeout_s * _NS)
        self._base: dict[str, _Baseline] = {}  # by pod uid

    def adopt(self, pod: Mapping, info: FalcoPodInfo | None = None) -> _Baseline:
        meta = pod.get("metadata") or {}
        uid = meta.get("uid") or meta.get("name") or ""
        base = self._base.get(uid)
        if base is not None:
            return base
        created = _stamp(meta.get("creationTimestamp"))
        # creationTimestamp has whole seconds: only a pod created in a later second than the push is sure
        # to have mounted the new rules when it started
        pushed = self.mark.server_since_ns if self.mark.server_since_ns is not None else self.mark.since_ns
        new_pod = created is not None and created // _NS > pushed // _NS
        crashing = _waiting_reason(pod) == "CrashLoopBackOff" or (_restarts(pod) > 0 and not is_ready(pod))
        if new_pod:
            detail = "new pod: waiting for it to start"
        elif crashing:
            detail = "crash-looping before the push: waiting for a restart with the new rules"
        else:
            detail = PROPAGATION_NOTE
        base = self._base[uid] = _Baseline(
            _restarts(pod), new_pod or crashing, detail, crashing and not new_pod
        )
        return base

    def floor(self, pod_name: str) -> int:
        """The pod's last log time before the push (its own clock): its events after it are the push's."""
        marks = self.mark.log_marks
        if pod_name in marks:
            mark = marks[pod_name]
            return -1 if mark is None else mark
        return self.mark.since_ns - 1

    def node_reload(self, node: str, pod: Mapping, info: FalcoPodInfo | None, now_ns: int) -> NodeReload:
        """The push's state on `node`, whose Falco pod is `pod` (its log's model is `info`)."""
        base = self.adopt(pod, info)
        name = (pod.get("metadata") or {}).get("name") or ""
        floor, push = self.floor(name), self.mark.since_ns
        # a pod crash-looping at the push: only a later container instance can have loaded the new rules
        # (its crashed instance's lines, some still in flight when the push was marked, are old)
        first = max(base.instance, base.restarts) + 1 if base.crashing else 0
        events = info.reload_events if info else ()
        after = [e for n, e in events if n >= first and e.at_ns is not None and e.at_ns > floor]
        restarts = _restarts(pod)
        if not base.fresh and (restarts > base.restarts or _waiting_reason(pod) == "CrashLoopBackOff"):
            said = next((_said(e) for e in reversed(after) if e.state is ReloadState.FAILED), "")
            detail = said or f"container restarted ({restarts} restarts)"
            return NodeReload(ReloadState.CRASH_LOOP, _finished_at(pod), detail, None, node, name, push)
        state, at, detail, failure = ReloadState.PENDING, None, base.detail, None
        for ev in after:
            if ev.state is ReloadState.FAILED:  # Falco exits after it prints `Error:`
                return NodeReload(ReloadState.CRASH_LOOP, ev.at_ns, _said(ev), None, node, name, push)
            if state.final:
                continue
            if (
                ev.state is ReloadState.REJECTED
                or ev.state is ReloadState.RESTARTING
                or (ev.state is ReloadState.RELOADED and state is ReloadState.RESTARTING)
            ):
                state, at, detail, failure = ev.state, ev.at_ns, ev.detail, ev.failure
        if base.fresh and not state.final and is_ready(pod):
            state, at, detail = ReloadState.RELOADED, _ready_since(pod), "started with the new rules"
        if not state.final and now_ns > self.deadline_ns:
            state, detail = ReloadState.TIMED_OUT, f"no reload seen within {self.mark.timeout_s:g}s"
        return NodeReload(state, at, detail, failure, node, name, push)
