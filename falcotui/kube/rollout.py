"""DaemonSet rollout tracking: kubectl's completion logic and messages, plus a per-node explanation.

`rollout_status(ds, pods, nodes)` is pure: it says what `kubectl rollout status` would print and, for every
node, whether it should run a pod (and why not, as `eligibility` decides: untolerated taint, nodeSelector,
node affinity), which pod is there, whether it is from the new or an old template (pod-template-generation,
else comparing the pod's containers with the template) and why it is stuck (ImagePullBackOff/ErrImagePull
with the message, CrashLoopBackOff with the restart count, Pending with the scheduler's reason, node
NotReady, admission refusing to create the pod: the DaemonSet's `FailedCreate` events).
`wait_rollout` drives it from informers until the rollout is done, stuck or timed out; an admission
refusal ends it at once (the pods cannot be created, waiting changes nothing).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from falcotui.kube.client import KubeClients
from falcotui.kube.eligibility import daemon_placement, unmatched_node_selector
from falcotui.kube.failed_create import FAILED_CREATE, admission_refusal, failed_create, refusal_marks
from falcotui.kube.informer import Informer
from falcotui.kube.objects import is_ready
from falcotui.kube.resources import DAEMONSETS, EVENTS, NODES, PODS

STUCK_REASONS = frozenset(
    {
        "ImagePullBackOff",
        "ErrImagePull",
        "InvalidImageName",
        "CrashLoopBackOff",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
        "Unschedulable",
        "NodeNotReady",
        "FailedCreate",
    }
)
OS_LABEL = "kubernetes.io/os"


def kubectl_status(ds: Mapping) -> tuple[str, bool]:
    """(message, done) exactly as `kubectl rollout status daemonset/<name>` prints them."""
    meta, spec, st = ds.get("metadata") or {}, ds.get("spec") or {}, ds.get("status") or {}
    strategy = (spec.get("updateStrategy") or {}).get("type") or "RollingUpdate"
    if strategy != "RollingUpdate":
        return "rollout status is only available for RollingUpdate strategy type", True
    name = meta.get("name", "")
    if int(meta.get("generation") or 0) <= int(st.get("observedGeneration") or 0):
        desired = int(st.get("desiredNumberScheduled") or 0)
        updated = int(st.get("updatedNumberScheduled") or 0)
        available = int(st.get("numberAvailable") or 0)
        if updated < desired:
            return (
                f'Waiting for daemon set "{name}" rollout to finish: {updated} out of {desired} '
                "new pods have been updated...",
                False,
            )
        if available < desired:
            return (
                f'Waiting for daemon set "{name}" rollout to finish: {available} of {desired} '
                "updated pods are available...",
                False,
            )
        return f'daemon set "{name}" successfully rolled out', True
    return "Waiting for daemon set spec update to be observed...", False


def why_not_eligible(template_spec: Mapping, node: Mapping) -> str:
    """ "" if a daemon pod belongs on `node`, else the reason (as a user would want to read it)."""
    placement = daemon_placement(template_spec, node)
    if placement.kind == "selector":
        needs = ", ".join(unmatched_node_selector(template_spec, node))
        return f"nodeSelector does not match (needs {needs})"
    if placement.kind == "affinity":
        return "required node affinity does not match"
    if placement.kind == "taint":
        return f"taint {placement.taint} not tolerated"
    return ""


def node_ready(node: Mapping) -> bool:
    return is_ready(node)


def _template_generation(ds: Mapping) -> str:
    meta = ds.get("metadata") or {}
    annotated = (meta.get("annotations") or {}).get("deprecated.daemonset.template.generation")
    return str(annotated or meta.get("generation") or "")


def is_new_pod(ds: Mapping, pod: Mapping) -> bool:
    """Whether `pod` runs the DaemonSet's current template."""
    labels = (pod.get("metadata") or {}).get("labels") or {}
    gen = labels.get("pod-template-generation")
    if gen is not None and gen == _template_generation(ds):
        return True
    annotations = (ds.get("metadata") or {}).get("annotations") or {}
    if gen is not None and "deprecated.daemonset.template.generation" in annotations:
        return False  # a real API server's template generation is decisive

    def shape(containers: Iterable[Mapping]) -> list[tuple]:
        return sorted((c.get("name"), c.get("image"), tuple(c.get("args") or ())) for c in containers)

    template = ((ds.get("spec") or {}).get("template") or {}).get("spec") or {}
    return shape(template.get("containers") or []) == shape((pod.get("spec") or {}).get("containers") or [])


def pod_ready(pod: Mapping) -> bool:
    return is_ready(pod)


def pod_problem(pod: Mapping) -> tuple[str, str, int]:
    """(reason, message, restarts) of the worst container/scheduling problem; reason "" if none."""
    status = pod.get("status") or {}
    restarts = 0
    found = ("", "")
    for st in [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]:
        restarts += int(st.get("restartCount") or 0)
        waiting = (st.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason") or ""
        if reason and not found[0]:
            message = waiting.get("message") or ""
            if reason == "CrashLoopBackOff":
                last = (st.get("lastState") or {}).get("terminated") or {}
                exit_info = f"last exit code {last.get('exitCode')}" if last else ""
                detail = f"restarted {st.get('restartCount', 0)} times" + (
                    f", {exit_info}" if exit_info else ""
                )
                message = f"{detail}; {message}" if message else detail
            found = (reason, message)
    if not found[0] and status.get("phase") == "Pending":
        for cond in status.get("conditions") or []:
            if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
                found = (cond.get("reason") or "Unschedulable", cond.get("message") or "")
    return found[0], found[1], restarts


@dataclass(slots=True)
class NodeRollout:
    node: str
    node_ready: bool
    eligible: bool
    state: str  # ready | starting | updating | stuck | missing | not-eligible
    pod: str = ""
    revision: str = ""  # new | old | ""
    phase: str = ""
    ready: bool = False
    restarts: int = 0
    reason: str = ""
    message: str = ""
    placement: str = ""  # not eligible because of: "taint" | "selector" | "affinity"
    taint: str = ""  # the first untolerated taint, as kubectl writes it
    node_os: str = ""  # the node's kubernetes.io/os label


@dataclass(slots=True)
class RolloutStatus:
    namespace: str
    name: str
    message: str
    done: bool
    exists: bool = True
    desired: int = 0
    updated: int = 0
    available: int = 0
    nodes: list[NodeRollout] = field(default_factory=list)

    @property
    def stuck(self) -> list[NodeRollout]:
        return [n for n in self.nodes if n.state == "stuck"]

    def key(self) -> tuple:
        """What changes when a user-visible detail changes."""
        return (
            self.message,
            self.done,
            tuple((n.node, n.state, n.pod, n.reason, n.restarts) for n in self.nodes),
        )


def _owned_by(pod: Mapping, ds: Mapping) -> bool:
    uid = (ds.get("metadata") or {}).get("uid")
    return any(ref.get("uid") == uid for ref in (pod.get("metadata") or {}).get("ownerReferences") or [])


def rollout_status(ds: Mapping | None, pods: Iterable[Mapping], nodes: Iterable[Mapping], *,
                   namespace: str = "", name: str = "",
                   events: Iterable[Mapping] = ()) -> RolloutStatus:  # fmt: skip
    if ds is None:
        return RolloutStatus(namespace, name, f'daemonsets.apps "{name}" not found', False, exists=False)
    meta, st = ds.get("metadata") or {}, ds.get("status") or {}
    message, done = kubectl_status(ds)
    out = RolloutStatus(
        meta.get("namespace", namespace),
        meta.get("name", name),
        message,
        done,
        desired=int(st.get("desiredNumberScheduled") or 0),
        updated=int(st.get("updatedNumberScheduled") or 0),
        available=int(st.get("numberAvailable") or 0),
    )
    template_spec = ((ds.get("spec") or {}).get("template") or {}).get("spec") or {}
    by_node: dict[str, list[Mapping]] = {}
    for pod in pods:
        if _owned_by(pod, ds) and not (pod.get("metadata") or {}).get("deletionTimestamp"):
            by_node.setdefault((pod.get("spec") or {}).get("nodeName") or "", []).append(pod)
    refused = failed_create(ds, events)
    for node in sorted(nodes, key=lambda n: (n.get("metadata") or {}).get("name", "")):
        node_name = (node.get("metadata") or {}).get("name", "")
        nr = _node_rollout(ds, template_spec, node, node_name, by_node.get(node_name, []))
        if refused and nr.state == "missing":
            nr.state, nr.reason, nr.message = "stuck", FAILED_CREATE, refused
        out.nodes.append(nr)
    return out


def _node_rollout(
    ds: Mapping, template_spec: Mapping, node: Mapping, node_name: str, pods: list
) -> NodeRollout:
    ready_node = node_ready(node)
    why = why_not_eligible(template_spec, node)
    node_os = ((node.get("metadata") or {}).get("labels") or {}).get(OS_LABEL, "")
    if not pods:
        if why:
            placement = daemon_placement(template_spec, node)
            return NodeRollout(
                node_name,
                ready_node,
                False,
                "not-eligible",
                reason="NotEligible",
                message=why,
                placement=placement.kind,
                taint=placement.taint,
                node_os=node_os,
            )
        return NodeRollout(
            node_name, ready_node, True, "missing", reason="NoPod", message="no daemon pod yet"
        )
    pods = sorted(pods, key=lambda p: not is_new_pod(ds, p))  # the new pod first
    pod = pods[0]
    new = is_new_pod(ds, pod)
    reason, message, restarts = pod_problem(pod)
    ready = pod_ready(pod)
    nr = NodeRollout(
        node_name,
        ready_node,
        not why,
        "starting",
        pod=(pod.get("metadata") or {}).get("name", ""),
        revision="new" if new else "old",
        phase=(pod.get("status") or {}).get("phase", ""),
        ready=ready,
        restarts=restarts,
        reason=reason,
        message=message,
        node_os=node_os,
    )
    if not ready_node:
        nr.state, nr.reason, nr.message = "stuck", "NodeNotReady", f"node {node_name} is NotReady"
    elif reason in STUCK_REASONS:
        nr.state = "stuck"
    elif not new:
        nr.state = "updating"
    elif ready:
        nr.state = "ready"
    return nr


async def wait_rollout(
    clients: KubeClients,
    namespace: str,
    name: str,
    *,
    timeout: float = 300.0,
    stuck_grace: float | None = 30.0,
    on_update: Callable[[RolloutStatus], None] | None = None,
) -> RolloutStatus:
    """Follow the rollout until done; returns early (done=False) once some node has been stuck for
    `stuck_grace` seconds with no progress elsewhere, or when `timeout` passes."""
    changes: asyncio.Queue = asyncio.Queue()
    informers = [
        Informer(clients, DAEMONSETS, changes, namespace=namespace, field_selector=f"metadata.name={name}"),
        Informer(clients, PODS, changes, namespace=namespace),
        Informer(clients, NODES, changes),
        Informer(
            clients,
            EVENTS,
            changes,
            namespace=namespace,
            field_selector=f"involvedObject.kind=DaemonSet,involvedObject.name={name}",
        ),
    ]
    ds_inf, pod_inf, node_inf, event_inf = informers
    for inf in informers:
        inf.start()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last_key, last_progress, stuck_since = None, None, None
    last_stuck: RolloutStatus | None = None
    status = RolloutStatus(namespace, name, "Waiting for the DaemonSet...", False)
    try:
        for inf in informers:
            await inf.wait_synced(max(0.1, deadline - loop.time()))
        # FailedCreate events as they stand now: one that repeats while we watch is admission refusing the
        # pods right now, not an old refusal the controller has not retried since (its back-off grows)
        seen_refusals = refusal_marks(event_inf.cache().values())
        while True:
            status = rollout_status(
                ds_inf.get(namespace, name),
                pod_inf.cache().values(),
                node_inf.cache().values(),
                namespace=namespace,
                name=name,
                events=event_inf.cache().values(),
            )
            if status.key() != last_key:
                last_key = status.key()
                if on_update:
                    on_update(status)
            # Progress is a pod replaced, updated or turning ready; a crash-looping pod flipping between
            # starting and CrashLoopBackOff (its restart count ticking) is not progress.
            progress = (status.message, tuple((n.node, n.pod, n.revision, n.ready) for n in status.nodes))
            if progress != last_progress:
                stuck_since = time.monotonic() if status.stuck else None
            elif stuck_since is None and status.stuck:
                stuck_since = time.monotonic()
            last_progress = progress
            if status.stuck:
                last_stuck = status
            if status.done:
                return status
            refused = [n for n in status.stuck if n.reason == FAILED_CREATE and admission_refusal(n.message)]
            if refused and refusal_marks(event_inf.cache().values()) - seen_refusals:
                return status  # admission refuses the pods: the controller's retries change nothing
            if (
                stuck_grace is not None
                and stuck_since is not None
                and time.monotonic() - stuck_since >= stuck_grace
            ):
                return status if status.stuck or last_stuck is None else last_stuck
            left = deadline - loop.time()
            if left <= 0:
                return status
            wait = left if stuck_since is None or stuck_grace is None else min(left, stuck_grace)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changes.get(), wait)
            while not changes.empty():
                changes.get_nowait()
    except TimeoutError:
        return status
    finally:
        await asyncio.gather(*(inf.aclose() for inf in informers))
