"""ReplicaSets in the simulator, driven by the real kubectl 1.32: the demo workloads exist with the names the
simulated Falcos put in k8s.pod.name; a deleted pod comes back under a new name, a bare pod does not;
scaling down removes the surplus; cordon sets spec.unschedulable and the node controller's taint, and a
cordoned node gets no new pod; NetworkPolicies are stored and served."""

from __future__ import annotations

import json
import random
import time

from falcotui.sim.controllers.workload_objects import seed_workloads
from falcotui.sim.falco.workloads import node_workloads
from falcotui.sim.scenarios import stable_seed


def _until(predicate, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _pods(kubectl, ns: str) -> dict[str, dict]:
    out = kubectl("get", "pods", "-n", ns, "-o", "json", check=True).stdout
    return {
        p["metadata"]["name"]: p
        for p in json.loads(out)["items"]
        if not p["metadata"].get("deletionTimestamp")
    }


def test_workloads_replicasets_cordon_and_networkpolicies(sim_cluster, kubectl):
    node = "sim-node-01"
    assert sim_cluster.call(lambda: seed_workloads(sim_cluster.store, 7, [node])) == 4
    assert sim_cluster.call(lambda: seed_workloads(sim_cluster.store, 7, [node])) == 0  # idempotent
    workloads = node_workloads(random.Random(stable_seed(7, "workloads", node)))
    w = workloads[0]
    rs = w.pod.rsplit("-", 1)[0]
    _until(lambda: w.pod in _pods(kubectl, w.namespace), "the seeded pod")
    assert all(wl.pod in _pods(kubectl, wl.namespace) for wl in workloads)
    listing = kubectl("get", "rs", "-n", w.namespace, check=True).stdout
    assert rs in listing

    kubectl("delete", "pod", "-n", w.namespace, w.pod, "--wait=false", check=True)
    fresh: list[str] = []

    def replaced() -> bool:
        pods = _pods(kubectl, w.namespace)
        fresh[:] = [n for n in pods if n.startswith(f"{rs}-") and n != w.pod]
        return len(fresh) == 1 and w.pod not in pods

    _until(replaced, "the replacement pod")
    assert len(fresh[0]) == len(rs) + 6 and _pods(kubectl, w.namespace)[fresh[0]]["spec"]["nodeName"] == node

    # cordon: spec.unschedulable and node.kubernetes.io/unschedulable:NoSchedule; uncordon removes both
    kubectl("cordon", node, check=True)

    def taints() -> list[dict]:
        return (
            json.loads(kubectl("get", "node", node, "-o", "json", check=True).stdout)["spec"].get("taints")
            or []
        )

    _until(lambda: {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}.items()
           <= (taints() or [{}])[0].items(), "the unschedulable taint")  # fmt: skip
    kubectl("uncordon", node, check=True)
    _until(lambda: taints() == [], "the taint gone")

    # scale down: the surplus goes (a patch: the simulator serves no scale subresource)
    kubectl("patch", "rs", rs, "-n", w.namespace, "--type=merge", "-p", '{"spec":{"replicas":0}}', check=True)
    _until(lambda: not any(n.startswith(f"{rs}-") for n in _pods(kubectl, w.namespace)), "scaled to 0")

    # a bare pod is not recreated
    kubectl("run", "bare", "-n", w.namespace, "--image=docker.io/library/alpine:3.20", check=True)
    kubectl("delete", "pod", "bare", "-n", w.namespace, "--wait=false", check=True)
    _until(lambda: "bare" not in _pods(kubectl, w.namespace), "bare pod gone")
    time.sleep(0.3)
    assert not [n for n in _pods(kubectl, w.namespace) if n.startswith("bare")]

    # NetworkPolicy: stored and served
    policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "deny-all", "namespace": w.namespace},
        "spec": {"podSelector": {"matchLabels": {"q": "1"}}, "policyTypes": ["Ingress", "Egress"]},
    }
    kubectl("apply", "-f", "-", input=json.dumps(policy), check=True)
    got = json.loads(kubectl("get", "netpol", "deny-all", "-n", w.namespace, "-o", "json", check=True).stdout)
    assert got["spec"] == policy["spec"]
