"""Pure helpers of the DaemonSet controller: the pods it creates and how it reads their state."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from falcotui.sim.api.store import copy_obj
from falcotui.sim.controllers.pod_template import pod_metadata
from falcotui.sim.controllers.scheduling import daemon_pod_tolerations


def resource_version(obj: Mapping) -> int:
    try:
        return int(obj["metadata"].get("resourceVersion") or 0)
    except (TypeError, ValueError):
        return 0


def owner_uid(pod: Mapping) -> str | None:
    for ref in pod["metadata"].get("ownerReferences") or ():
        if ref.get("controller") and ref.get("kind") == "DaemonSet":
            return ref.get("uid")
    return None


def _parse_time(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def pod_ready_since(pod: Mapping) -> float | None:
    """When the pod's Ready condition turned True (None if it is not ready)."""
    for cond in (pod.get("status") or {}).get("conditions") or ():
        if cond.get("type") == "Ready":
            if cond.get("status") != "True":
                return None
            return _parse_time(cond.get("lastTransitionTime")) or 0.0
    return None


def scheduling_view(node: Mapping) -> tuple:
    return (
        node["metadata"].get("labels"),
        (node.get("spec") or {}).get("taints"),
        (node.get("spec") or {}).get("unschedulable"),
    )


def new_pod(ds: dict, hash_: str, node: str, name: str) -> dict:
    """The pod the DaemonSet controller creates for `node`: template, owner, hash labels, node affinity."""
    meta = ds["metadata"]
    template = copy_obj(ds["spec"]["template"])
    tmeta = template.get("metadata") or {}
    spec = template.get("spec") or {}
    labels = dict(tmeta.get("labels") or {})
    labels["controller-revision-hash"] = hash_
    labels["pod-template-generation"] = (meta.get("annotations") or {}).get(
        "deprecated.daemonset.template.generation", str(meta.get("generation") or 1)
    )
    pod_meta = {"name": name, **pod_metadata(ds, "DaemonSet", labels, tmeta)}
    affinity = spec.setdefault("affinity", {})
    node_affinity = affinity.setdefault("nodeAffinity", {})
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]
    }
    spec["tolerations"] = daemon_pod_tolerations(spec)
    spec["nodeName"] = node
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    spec.setdefault("priority", 2000001000 if spec.get("priorityClassName") == "system-node-critical" else 0)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": spec}


@dataclass(slots=True)
class PodInfo:
    """What the controller reads from one of its pods, parsed once per pod event."""

    uid: str
    name: str
    namespace: str
    node: str
    hash: str | None
    ready_since: float | None
    failed: bool
    created: str
    order: int
    rv: int

    @classmethod
    def of(cls, pod: Mapping, order: int) -> PodInfo:
        meta = pod["metadata"]
        return cls(
            uid=meta["uid"],
            name=meta["name"],
            namespace=meta["namespace"],
            node=(pod.get("spec") or {}).get("nodeName") or "",
            hash=(meta.get("labels") or {}).get("controller-revision-hash"),
            ready_since=pod_ready_since(pod),
            failed=(pod.get("status") or {}).get("phase") == "Failed",
            created=meta.get("creationTimestamp") or "",
            order=order,
            rv=resource_version(pod),
        )

    def view(self) -> tuple:
        """The parts whose change needs a sync."""
        return (self.node, self.hash, self.ready_since, self.failed)

    def available(self, min_ready_seconds: int, now: float) -> bool:
        if self.ready_since is None:
            return False
        return min_ready_seconds <= 0 or self.ready_since + min_ready_seconds <= now
