"""`falcotui act`: each response action done and undone against the simulated cluster over HTTP, through
the real entry point (a subprocess): the cluster back to its state, RBAC refusals with the reason, read-only
refused, the action log with who/when/what/alert, JSONL export, hostile alert text never raw."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from simkit import wait_until

from falcotui.falco.alerts import format_iso8601_ns
from falcotui.kube.apply import Applier
from tests.cli.conftest import CLI

NS = "shop"
RS = "web-7d9c4b"


def _workload(sim, *, bare: bool = False) -> tuple[str, str]:
    """A namespace with a one-replica ReplicaSet (or a bare pod) on the first node: (node, pod name)."""
    node = sim.clients.request("GET", "/api/v1/nodes")["items"][0]["metadata"]["name"]
    docs: list[dict] = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}]
    spec = {"nodeName": node, "containers": [{"name": "web", "image": "docker.io/library/nginx:1.27"}]}
    if bare:
        docs.append(
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "debug", "namespace": NS}, "spec": spec}
        )
    else:
        docs.append(
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {"name": RS, "namespace": NS},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}}, "spec": spec},
                },
            }
        )
    Applier(sim.clients).apply(docs)
    pods: list[str] = []

    def running() -> bool:
        pods[:] = [
            p["metadata"]["name"]
            for p in sim.clients.request("GET", f"/api/v1/namespaces/{NS}/pods")["items"]
            if not p["metadata"].get("deletionTimestamp")
        ]
        return len(pods) == 1

    wait_until(running, "the workload pod")
    return node, pods[0]


def _alert(node: str, pod: str, output: str = "Shell spawned in a container") -> str:
    t = 1_764_000_000_000_000_000
    return json.dumps(
        {
            "hostname": node,
            "node": node,
            "priority": "Warning",
            "rule": "Terminal shell in container",
            "source": "syscall",
            "time": format_iso8601_ns(t),
            "tags": ["container"],
            "output": f"09:00:00.000000000: Warning {output}",
            "output_fields": {"evt.time": t, "k8s.pod.name": pod, "k8s.ns.name": NS, "proc.cmdline": "sh -i"},
        }
    )


def _pod(sim, name: str) -> dict:
    return sim.clients.request("GET", f"/api/v1/namespaces/{NS}/pods/{name}")


def _netpols(sim) -> list[dict]:
    return sim.clients.request("GET", f"/apis/networking.k8s.io/v1/namespaces/{NS}/networkpolicies")["items"]


def _act(sim, log: Path, *argv: str, code: int = 0):
    proc = sim.cli("act", *argv, "--action-log", str(log), timeout=60)
    assert proc.returncode == code, f"act {argv} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def _log(log: Path, *argv: str) -> str:
    """`falcotui act log ...` (it reads the local log only: no cluster options)."""
    proc = subprocess.run(
        [*CLI, "act", "log", *argv, "--action-log", str(log)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_each_action_done_and_undone_and_logged(cli_sim, tmp_path, hostile):
    sim = cli_sim(nodes=2, deploy=False)
    node, pod = _workload(sim)
    log = tmp_path / "actions.jsonl"
    alert = _alert(node, pod, output=f"Shell {hostile.CORPUS} in {pod}")
    before_pod, before_node = _pod(sim, pod), sim.clients.request("GET", f"/api/v1/nodes/{node}")

    # quarantine: the label and a deny-all policy (ingress and egress); undo removes both
    out = _act(sim, log, "quarantine", "--alert", alert, "--yes").stdout
    assert "CREATE NetworkPolicy shop/falcotui-quarantine-q" in out and "- Egress" in out
    hostile.assert_clean(out, "act quarantine")
    qid = _pod(sim, pod)["metadata"]["labels"]["falcotui.io/quarantine"]
    (policy,) = _netpols(sim)
    assert policy["spec"] == {
        "podSelector": {"matchLabels": {"falcotui.io/quarantine": qid}},
        "policyTypes": ["Ingress", "Egress"],
    }
    _act(sim, log, "unquarantine", "--pod", f"{NS}/{pod}", "--yes")
    assert _netpols(sim) == []
    assert _pod(sim, pod)["metadata"]["labels"] == before_pod["metadata"]["labels"]

    # cordon: spec.unschedulable and the taint the node controller adds; uncordon: both gone
    _act(sim, log, "cordon", "--alert", alert, "--yes")
    wait_until(
        lambda: any(
            t["key"] == "node.kubernetes.io/unschedulable"
            for t in sim.clients.request("GET", f"/api/v1/nodes/{node}")["spec"].get("taints") or []
        ),
        "the unschedulable taint",
    )
    refused = _act(sim, log, "cordon", "--node", node, "--yes", code=1)
    assert "already cordoned" in refused.stderr
    _act(sim, log, "uncordon", "--node", node, "--yes")
    wait_until(
        lambda: sim.clients.request("GET", f"/api/v1/nodes/{node}")["spec"] == before_node["spec"],
        "uncordoned",
    )

    # annotate: the alert as bounded, sanitized JSON
    _act(sim, log, "annotate", "--alert", alert, "--yes")
    value = _pod(sim, pod)["metadata"]["annotations"]["falcotui.io/alert"]
    assert len(value) <= 2048
    hostile.assert_clean(value, "the alert annotation")
    assert json.loads(value)["rule"] == "Terminal shell in container"

    # delete: the ReplicaSet recreates it under a new name
    out = _act(sim, log, "delete-pod", "--alert", alert, "--yes").stdout
    assert f"its ReplicaSet {RS} recreates it under a new name" in out
    new: list[str] = []

    def replaced() -> bool:
        items = sim.clients.request("GET", f"/api/v1/namespaces/{NS}/pods")["items"]
        new[:] = [p["metadata"]["name"] for p in items if p["metadata"]["name"] != pod]
        return len(new) == 1 and all(p["metadata"]["name"] != pod for p in items)

    wait_until(replaced, "the recreated pod")
    assert new[0].startswith(f"{RS}-") and len(new[0]) == len(RS) + 6

    # the log: who, when, what, which alert; undo linked to what it undoes; exported as JSONL
    records = [json.loads(line) for line in _log(log, "--jsonl").splitlines()]
    assert [(r["action"], r["result"]) for r in records] == [
        ("quarantine", "done"),
        ("unquarantine", "done"),
        ("cordon", "done"),
        ("uncordon", "done"),
        ("annotate", "done"),
        ("delete-pod", "done"),
    ]
    assert {r["who"] for r in records} == {"falcotui-sim"}
    assert records[3]["undo_of"] == records[2]["at"] and records[1]["undo_of"] == records[0]["at"]
    assert records[0]["alert"]["rule"] == "Terminal shell in container" and records[0]["alert"]["pod"] == pod
    assert records[0]["target"] == f"Pod {NS}/{pod}" and records[2]["target"] == f"Node {node}"
    exported = tmp_path / "export" / "actions.jsonl"
    assert f"6 actions exported to {exported}" in _log(log, "-o", str(exported))
    assert [json.loads(line) for line in exported.read_text().splitlines()] == records
    listing = _log(log)
    assert "falcotui-sim@falcotui-sim  cordon Node" in listing
    hostile.assert_clean(listing, "act log")


def test_bare_pod_is_said_to_be_gone_for_good(cli_sim, tmp_path):
    sim = cli_sim(nodes=1, deploy=False)
    _node, pod = _workload(sim, bare=True)
    out = _act(sim, tmp_path / "log.jsonl", "delete-pod", "--pod", f"{NS}/{pod}", "--yes").stdout
    assert "a bare pod: no controller owns it, so NOTHING recreates it" in out
    wait_until(lambda: sim.clients.request("GET", f"/api/v1/namespaces/{NS}/pods")["items"] == [], "pod gone")


def test_rbac_refusal_and_read_only(cli_sim, tmp_path):
    sim = cli_sim(nodes=1, deploy=False)
    node, pod = _workload(sim)
    # a responder who may patch pods but not create NetworkPolicies nor touch nodes
    Applier(sim.clients).apply(
        [
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": "responder", "namespace": NS},
                "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "patch"]}],
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": "responder", "namespace": NS},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "responder"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "rita"}],
            },
        ]
    )
    policy = sim.cluster.add_user("rita")
    rita = type(sim)(
        sim.cluster, sim.clients, sim.cluster.write_kubeconfig(tmp_path / "kc-rita", user="rita")
    )
    log = tmp_path / "log.jsonl"
    alert = _alert(node, pod)
    proc = _act(rita, log, "quarantine", "--alert", alert, "--yes", code=1)
    assert "RBAC: rita may not create networkpolicies.networking.k8s.io in namespace shop" in proc.stderr
    proc = _act(rita, log, "cordon", "--alert", alert, "--yes", code=1)
    assert "RBAC: rita may not patch nodes" in proc.stderr
    _act(rita, log, "annotate", "--alert", alert, "--yes")  # what the role allows works
    assert not [d for d in policy.decisions if not d.allowed]  # asked first: no request was refused
    assert _netpols(sim) == [] and "falcotui.io/quarantine" not in (
        _pod(sim, pod)["metadata"].get("labels") or {}
    )

    argv = [
        "act",
        "annotate",
        "--alert",
        alert,
        "--action-log",
        str(log),
        "--kubeconfig",
        str(sim.kubeconfig),
    ]
    proc = subprocess.run([*CLI, *argv], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2  # no terminal to ask on, and no --yes
    assert "refusing without --yes (stdin is not a terminal)" in proc.stderr
    proc = sim.cli("--read-only", "act", "cordon", "--node", node, "--yes")
    assert (
        proc.returncode == 2 and "--read-only" in proc.stderr and "would write to the cluster" in proc.stderr
    )


@pytest.mark.parametrize("action", ["delete-pod", "quarantine", "annotate"])
def test_an_alert_without_a_pod_offers_node_actions_only(cli_sim, tmp_path, action):
    sim = cli_sim(nodes=1, deploy=False)
    node = sim.clients.request("GET", "/api/v1/nodes")["items"][0]["metadata"]["name"]
    data = json.loads(_alert(node, "x"))
    del data["output_fields"]["k8s.pod.name"], data["output_fields"]["k8s.ns.name"]
    proc = _act(sim, tmp_path / "log.jsonl", action, "--alert", json.dumps(data), "--yes", code=1)
    assert "the alert names no pod: Falco adds k8s.pod.name" in proc.stderr
