"""The workloads the simulated Falcos report (`falco_workloads.node_workloads`) as real objects in the store:
per node, each workload pod with the exact name its alerts carry in `k8s.pod.name`, owned by a one-replica
ReplicaSet, so response actions on a demo alert find the pod (and a delete brings a new one).

Shape of the objects (kubernetes/kubernetes): a Deployment's ReplicaSet is `<deployment>-<pod-template-hash>`
and its pods `<replicaset>-<5 random>` with the `pod-template-hash` label (pkg/controller/deployment/
sync.go, controller_utils.go `GetPodFromTemplate`). The simulator stores no Deployment: the ReplicaSet is the
pod's controller, as in a real cluster. Each ReplicaSet's template names its node (`spec.nodeName`) because
the simulated Falco of that node is the one that reports the workload; a pod recreated after a delete keeps
the node but not the name the simulated Falco's alerts carry (they keep naming the old pod).
"""

from __future__ import annotations

import random

from falcotui.sim.api.store import Store
from falcotui.sim.falco.workloads import node_workloads
from falcotui.sim.scenarios import stable_seed


def workload_objects(seed: int, node: str) -> list[tuple[str, dict]]:
    """(resource, object) to create for one node's workloads: Namespaces, ReplicaSets, Pods (in order)."""
    out: list[tuple[str, dict]] = []
    for w in node_workloads(random.Random(stable_seed(seed, "workloads", node))):
        rs_name, _, _suffix = w.pod.rpartition("-")
        app, _, hash_ = rs_name.rpartition("-")
        labels = {"app": app, "pod-template-hash": hash_}
        container = {"name": w.container, "image": f"{w.image}:{w.tag}"}
        spec = {"nodeName": node, "containers": [container]}
        out.append(
            ("namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": w.namespace}})
        )
        rs = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": rs_name, "namespace": w.namespace, "labels": dict(labels)},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": dict(labels)},
                "template": {"metadata": {"labels": dict(labels)}, "spec": spec},
            },
        }
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": w.pod, "namespace": w.namespace, "labels": dict(labels)},
            "spec": dict(spec),
        }
        out += [("replicasets", rs), ("pods", pod)]
    return out


def seed_workloads(store: Store, seed: int, nodes: list[str]) -> int:
    """Create the workloads of `nodes` (skipping what exists); each pod created before its ReplicaSet's
    controller looks, owned by it, so the ReplicaSet counts it as its one replica. Returns pods created."""
    created = 0
    for node in nodes:
        owners: dict[str, dict] = {}
        for resource, obj in workload_objects(seed, node):
            meta = obj["metadata"]
            existing = store.peek(resource, meta.get("namespace", ""), meta["name"])
            if existing is not None:
                if resource == "replicasets":
                    owners[meta["name"]] = existing
                continue
            if resource == "pods":
                rs = owners[meta["labels"]["app"] + "-" + meta["labels"]["pod-template-hash"]]
                meta["ownerReferences"] = [
                    {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs["metadata"]["name"],
                     "uid": rs["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}
                ]  # fmt: skip
                store.create("pods", obj)
                created += 1
                continue
            stored = store.create(resource, obj)
            if resource == "replicasets":
                owners[meta["name"]] = stored
    return created
