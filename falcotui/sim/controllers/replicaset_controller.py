"""The ReplicaSet controller of the simulated cluster: keep `spec.replicas` active pods per ReplicaSet, so a
deleted pod comes back under a new name (what a response action's "delete the pod" relies on).

Upstream facts this follows (kubernetes/kubernetes):
- pkg/controller/replicaset/replica_set.go `manageReplicas`: diff = active pods - spec.replicas; below,
  create the missing pods; above, delete the surplus (`getPodsToDelete` ranks not-ready and newer pods
  first; here: the newest first).
- pkg/controller/controller_utils.go `FilterActivePods`: a pod with a deletionTimestamp, or in phase
  Succeeded/Failed, is not active, so a pod being deleted is replaced at once.
- pkg/controller/controller_utils.go `GetPodFromTemplate` / `getPodsPrefix`: the new pod takes the
  template's labels, annotations and spec, `generateName: <replicaset>-` (the API server appends five
  random characters) and an ownerReference to the ReplicaSet with `controller: true`,
  `blockOwnerDeletion: true`.
- Placement stands in for kube-scheduler: the template's `nodeName` when set; otherwise the first Ready
  node (by name) the NodeUnschedulable filter lets through (pkg/scheduler/framework/plugins/
  nodeunschedulable: a node with `spec.unschedulable` is skipped unless the pod tolerates
  `node.kubernetes.io/unschedulable:NoSchedule`) whose NoSchedule taints the pod tolerates.
"""

from __future__ import annotations

import contextlib
import logging

from falcotui.sim.api.errors import StoreError
from falcotui.sim.api.selectors import match_label_selector
from falcotui.sim.api.store import Store, copy_obj
from falcotui.sim.controllers.events import EventRecorder
from falcotui.sim.controllers.pod_template import pod_metadata
from falcotui.sim.controllers.scheduling import untolerated_taints

log = logging.getLogger(__name__)

UNSCHEDULABLE = "node.kubernetes.io/unschedulable"


def _active(pod: dict) -> bool:
    return not pod["metadata"].get("deletionTimestamp") and (pod.get("status") or {}).get("phase") not in (
        "Succeeded",
        "Failed",
    )


def controller_uid(pod: dict) -> str | None:
    """The uid of the pod's controlling owner when it is a ReplicaSet."""
    for ref in pod["metadata"].get("ownerReferences") or []:
        if ref.get("controller") and ref.get("kind") == "ReplicaSet":
            return ref.get("uid")
    return None


class ReplicaSetController:
    """Reconciles one ReplicaSet at a time, on its own events and on those of the pods it controls."""

    def __init__(self, store: Store, recorder: EventRecorder) -> None:
        self.store = store
        self.recorder = recorder

    def on_replicaset(self, type_: str, rs: dict) -> None:
        if type_ != "DELETED":
            self.sync(rs["metadata"]["namespace"], rs["metadata"]["name"])

    def on_pod(self, type_: str, pod: dict) -> None:
        uid = controller_uid(pod)
        if uid is None:
            return
        meta = pod["metadata"]
        for rs in self.store.peek_list("replicasets", meta["namespace"]):
            if rs["metadata"]["uid"] == uid:
                self.sync(meta["namespace"], rs["metadata"]["name"])
                return

    def sync(self, namespace: str, name: str) -> None:
        rs = self.store.peek("replicasets", namespace, name)
        if rs is None or rs["metadata"].get("deletionTimestamp"):
            return
        uid = rs["metadata"]["uid"]
        pods = [p for p in self.store.peek_list("pods", namespace) if controller_uid(p) == uid and _active(p)]
        want = int((rs.get("spec") or {}).get("replicas", 1))
        if len(pods) < want:
            for _ in range(want - len(pods)):
                self._create(rs)
        elif len(pods) > want:
            newest = sorted(pods, key=lambda p: p["metadata"].get("creationTimestamp") or "", reverse=True)
            for pod in newest[: len(pods) - want]:
                with contextlib.suppress(StoreError):
                    self.store.delete("pods", namespace, pod["metadata"]["name"])
                self.recorder.normal(rs, "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}")
        self._status(rs, len(pods) if len(pods) <= want else want)

    def _create(self, rs: dict) -> None:
        template = copy_obj((rs.get("spec") or {}).get("template") or {})
        tmeta = template.get("metadata") or {}
        spec = template.get("spec") or {}
        selector = (rs.get("spec") or {}).get("selector") or {}
        labels = dict(tmeta.get("labels") or {})
        if not match_label_selector(selector, labels):
            self.recorder.warning(rs, "FailedCreate", "the template's labels do not match the selector")
            return
        node = spec.get("nodeName") or self._place(spec)
        if node:
            spec["nodeName"] = node
        pod_meta = pod_metadata(rs, "ReplicaSet", labels, tmeta)
        try:
            created = self.store.create(
                "pods", {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": spec}
            )
        except StoreError as exc:
            self.recorder.warning(rs, "FailedCreate", f"Error creating: {exc.message}")
            return
        self.recorder.normal(rs, "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")

    def _place(self, spec: dict) -> str | None:
        tolerations = spec.get("tolerations") or []
        for node in sorted(self.store.peek_list("nodes"), key=lambda n: n["metadata"]["name"]):
            nspec = node.get("spec") or {}
            ready = any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in (node.get("status") or {}).get("conditions") or []
            )
            cordon = {"key": UNSCHEDULABLE, "effect": "NoSchedule"}
            if not ready or (
                nspec.get("unschedulable") and untolerated_taints([cordon], tolerations, ["NoSchedule"])
            ):
                continue
            if untolerated_taints(nspec.get("taints") or [], tolerations, ["NoSchedule"]):
                continue
            return node["metadata"]["name"]
        return None

    def _status(self, rs: dict, replicas: int) -> None:
        meta = rs["metadata"]

        def write(obj: dict) -> None:
            status = obj.setdefault("status", {})
            status["replicas"] = replicas
            status["observedGeneration"] = obj["metadata"].get("generation", 1)

        current = (rs.get("status") or {}).get("replicas")
        if current != replicas:
            with contextlib.suppress(StoreError):
                self.store.mutate("replicasets", meta["namespace"], meta["name"], write, subresource="status")
