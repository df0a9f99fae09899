"""Pure readings of Kubernetes objects (plain dicts as the API returns them) for the fleet view.

Node readiness, a pod's state the way `kubectl get pods` words it, image tags and DaemonSet counters.
Whether a DaemonSet pod belongs on a node is `falcotui.kube.eligibility`'s (re-exported here for the
fleet model).
"""

from __future__ import annotations

import datetime as _dt
import time
from collections.abc import Mapping
from dataclasses import dataclass

from falcotui.falco.certs import RENEW_BEFORE_DAYS
from falcotui.kube.objects import condition
from falcotui.ops.deploy.manifests import GRPC_CERTS_EXPIRE


def _meta(obj: Mapping) -> Mapping:
    return obj.get("metadata") or {}


def name_of(obj: Mapping) -> str:
    return _meta(obj).get("name") or ""


# ---------------------------------------------------------------- nodes


def node_ready(node: Mapping) -> tuple[bool | None, str]:
    """(True, "") when Ready; (False, why) when NotReady; (None, why) when Unknown or not reported."""
    cond = condition(node)
    if cond is None:
        return None, "no Ready condition reported"
    status = cond.get("status")
    why = ": ".join(x for x in (cond.get("reason"), cond.get("message")) if x)
    if status == "True":
        return True, ""
    return (False if status == "False" else None), why or f"Ready={status}"


def node_cordoned(node: Mapping) -> bool:
    return bool((node.get("spec") or {}).get("unschedulable"))


# ---------------------------------------------------------------- pods


def labels_match(obj: Mapping, selector: Mapping[str, str]) -> bool:
    labels = _meta(obj).get("labels") or {}
    return all(labels.get(k) == v for k, v in selector.items())


def pod_target_node(pod: Mapping) -> str | None:
    """The node a pod is on, or, for a daemon pod not scheduled yet, the node its affinity pins it to."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return spec["nodeName"]
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    for term in required.get("nodeSelectorTerms") or []:
        for f in term.get("matchFields") or []:
            if (
                f.get("key") == "metadata.name"
                and f.get("operator") == "In"
                and len(f.get("values") or []) == 1
            ):
                return f["values"][0]
    return None


def image_tag(image: str) -> str | None:
    """`0.45.0` from `docker.io/falcosecurity/falco:0.45.0` (None without a tag; digests ignored)."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


@dataclass(frozen=True, slots=True)
class PodStatus:
    """A Falco pod as `kubectl get pods` would show it, plus what the fleet grid needs."""

    name: str
    namespace: str
    node: str | None
    phase: str
    state: str  # Running, ContainerCreating, CrashLoopBackOff, ImagePullBackOff, Pending, Terminating …
    detail: str  # the waiting/terminated message or the scheduler's
    ready: int
    total: int
    restarts: int
    image: str
    image_tag: str | None
    created: str  # metadata.creationTimestamp as the API gives it
    terminating: bool

    @property
    def ready_text(self) -> str:
        return f"{self.ready}/{self.total}"


def _container_reason(st: Mapping) -> tuple[str, str] | None:
    state = st.get("state") or {}
    if waiting := state.get("waiting"):
        return waiting.get("reason") or "Waiting", waiting.get("message") or ""
    if terminated := state.get("terminated"):
        reason = terminated.get("reason")
        if not reason:
            reason = (
                f"Signal:{terminated['signal']}"
                if terminated.get("signal")
                else f"ExitCode:{terminated.get('exitCode')}"
            )
        return reason, terminated.get("message") or ""
    return None


def _flapping_container(statuses: list) -> str | None:
    """Why a running-but-not-ready container that keeps failing is crash-looping, or None."""
    for st in statuses:
        last = (st.get("lastState") or {}).get("terminated") or {}
        if st.get("ready") or int(st.get("restartCount") or 0) < 2 or not last.get("exitCode"):
            continue
        message = last.get("message") or ""
        return f"last exit code {last['exitCode']}" + (f": {message}" if message else "")
    return None


def pod_status(pod: Mapping, container: str = "falco") -> PodStatus:
    """Read a pod dict: state words follow kubectl's STATUS column."""
    meta, spec, status = _meta(pod), pod.get("spec") or {}, pod.get("status") or {}
    phase = status.get("phase") or "Pending"
    containers = spec.get("containers") or []
    chosen = next((c for c in containers if c.get("name") == container), containers[0] if containers else {})
    image = chosen.get("image") or ""
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for s in statuses if s.get("ready"))
    restarts = sum(int(s.get("restartCount") or 0) for s in statuses)
    state, detail = status.get("reason") or phase, status.get("message") or ""

    init_reason = None
    inits = status.get("initContainerStatuses") or []
    for i, st in enumerate(inits):
        st_state = st.get("state") or {}
        term, waiting = st_state.get("terminated"), st_state.get("waiting")
        if term and term.get("exitCode") == 0:
            continue
        if term:
            init_reason = (
                f"Init:{term.get('reason') or 'ExitCode:' + str(term.get('exitCode'))}",
                term.get("message") or "",
            )
        elif waiting and waiting.get("reason") and waiting.get("reason") != "PodInitializing":
            init_reason = (f"Init:{waiting['reason']}", waiting.get("message") or "")
        else:
            init_reason = (f"Init:{i}/{len(inits)}", "")
        break
    if init_reason:
        state, detail = init_reason
    else:
        for st in statuses:
            found = _container_reason(st)
            if found:
                state, detail = found
                if state == "CrashLoopBackOff":
                    last = (st.get("lastState") or {}).get("terminated") or {}
                    if last:
                        detail = f"last exit code {last.get('exitCode')}" + (f": {detail}" if detail else "")
                break
        if state == "Running" and (flapping := _flapping_container(statuses)) is not None:
            # Between back-offs a crash-looping container runs for a moment and kubectl says
            # "Running"; an operator wants the crash loop, not the blink.
            state, detail = "CrashLoopBackOff", flapping
    if phase == "Pending" and not statuses and not init_reason:
        for cond in status.get("conditions") or []:
            if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
                state = "Pending"
                detail = ": ".join(x for x in (cond.get("reason"), cond.get("message")) if x)
    terminating = bool(meta.get("deletionTimestamp"))
    if terminating:
        state = "Terminating"
    return PodStatus(
        name=meta.get("name") or "",
        namespace=meta.get("namespace") or "",
        node=pod_target_node(pod),
        phase=phase,
        state=state,
        detail=detail,
        ready=ready,
        total=len(containers),
        restarts=restarts,
        image=image,
        image_tag=image_tag(image) if image else None,
        created=meta.get("creationTimestamp") or "",
        terminating=terminating,
    )


# ---------------------------------------------------------------- DaemonSet


@dataclass(frozen=True, slots=True)
class DaemonSetSummary:
    name: str
    namespace: str
    desired: int
    current: int
    updated: int
    ready: int
    available: int
    misscheduled: int
    image: str
    generation: int
    observed_generation: int
    certs_expire: str = ""  # the gRPC profile's certificates' expiry (pod-template annotation), RFC 3339

    @property
    def observed(self) -> bool:
        """Whether the controller has seen the latest spec (its counters describe it)."""
        return self.observed_generation >= self.generation

    @property
    def rolled_out(self) -> bool:
        """kubectl's completion test for a RollingUpdate DaemonSet."""
        return self.observed and self.updated == self.desired and self.available == self.desired

    @property
    def text(self) -> str:
        """`DS 46/48 ready · 48 updated` for the header."""
        pending = "" if self.observed else " · spec change not yet observed"
        return f"DS {self.ready}/{self.desired} ready · {self.updated} updated{pending}"


def daemonset_summary(ds: Mapping, container: str = "falco") -> DaemonSetSummary:
    meta, st = _meta(ds), ds.get("status") or {}
    template = (((ds.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
    chosen = next((c for c in template if c.get("name") == container), template[0] if template else {})
    return DaemonSetSummary(
        name=meta.get("name") or "",
        namespace=meta.get("namespace") or "",
        desired=int(st.get("desiredNumberScheduled") or 0),
        current=int(st.get("currentNumberScheduled") or 0),
        updated=int(st.get("updatedNumberScheduled") or 0),
        ready=int(st.get("numberReady") or 0),
        available=int(st.get("numberAvailable") or 0),
        misscheduled=int(st.get("numberMisscheduled") or 0),
        image=chosen.get("image") or "",
        generation=int(meta.get("generation") or 0),
        observed_generation=int(st.get("observedGeneration") or 0),
        certs_expire=str(
            (
                (((ds.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("annotations")
                or {}
            ).get(GRPC_CERTS_EXPIRE)
            or ""
        ),
    )


def _template_annotations(ds: Mapping) -> Mapping:
    template = (ds.get("spec") or {}).get("template") or {}
    return (template.get("metadata") or {}).get("annotations") or {}


def certs_text(expire: str, now_s: float | None = None) -> str:
    """`gRPC certs until 2027-03-06` for the fleet header and `status`; a warning with the way out once
    they expire within RENEW_BEFORE_DAYS, or have expired. Empty without the gRPC profile's annotation."""
    if not expire:
        return ""
    try:
        when = _dt.datetime.strptime(expire, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=_dt.UTC)
    except ValueError:
        return "gRPC certs: expiry unreadable"
    left = when - _dt.datetime.fromtimestamp(time.time() if now_s is None else now_s, _dt.UTC)
    if left.total_seconds() <= 0:
        return f"gRPC certs EXPIRED {when:%Y-%m-%d} (falcotui certs rotate)"
    if left < _dt.timedelta(days=RENEW_BEFORE_DAYS):
        return f"gRPC certs expire in {max(1, left.days)} d (falcotui certs rotate)"
    return f"gRPC certs until {when:%Y-%m-%d}"


def daemonset_pod_spec(ds: Mapping) -> Mapping:
    return ((ds.get("spec") or {}).get("template") or {}).get("spec") or {}
