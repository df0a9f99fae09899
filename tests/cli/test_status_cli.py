"""`falcotui status` as a real subprocess against a simulated cluster."""

from __future__ import annotations

import json
import socket

from falcotui.sim.config import NodeSpec

GPU = NodeSpec(name="gpu-node", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}])


def test_status_lists_every_node_its_falco_and_why_a_node_has_none(cli_sim, until, run_cli) -> None:
    sim = cli_sim(per_minute=300, nodes=3, extra_nodes=[GPU])
    nodes = {"sim-cp-1", "sim-node-01", "sim-node-02"}
    # every node has logged an alert (ten in all could come from two of them: a race the test lost once)
    until(lambda: {a.node for a in sim.alerts().values()} >= nodes, "an alert in every Falco pod's log")

    code, table, err = run_cli(sim, "status")
    assert code == 0, err
    lines = table.splitlines()
    assert "\x1b[" not in table, "no colours when piped"
    assert lines[1].startswith("DaemonSet falco: DS 3/3 ready") and "falcosecurity/falco:0.45.0" in lines[1]
    rows = {line.split()[0]: line.split() for line in lines if line.startswith(("sim-", "gpu-"))}
    assert set(rows) == {"sim-cp-1", "sim-node-01", "sim-node-02", "gpu-node"}
    for name in ("sim-cp-1", "sim-node-01", "sim-node-02"):
        node, ready, pod, state, restarts, version, reload = rows[name][:7]
        assert (ready, state, restarts, version, reload) == ("yes", "running", "0", "0.45.0", "none")
        assert pod.startswith("falco-")
    assert rows["gpu-node"][2:4] == ["-", "no-pod"]
    assert "  gpu-node: taint dedicated=gpu:NoSchedule not tolerated" in lines

    doc = json.loads(run_cli(sim, "status", "--json")[1])
    truth = sim.alerts()
    by_node = {n["name"]: n for n in doc["nodes"]}
    assert doc["daemonset"]["desired"] == 3 and doc["daemonset"]["rolled_out"] is True
    assert doc["summary"]["without_falco"] == 1
    assert by_node["gpu-node"]["pod"] is None and "dedicated=gpu" in by_node["gpu-node"]["no_pod_reason"]
    for name in ("sim-cp-1", "sim-node-01", "sim-node-02"):
        node = by_node[name]
        assert node["version"] == "0.45.0" and node["version_source"] == "log"
        held = sum(1 for a in truth.values() if a.node == name)
        assert 0 < node["alerts"] <= held + 20  # the logs kept growing between the two reads
        assert node["pod"]["restarts"] == 0 and node["state"] == "running"


def test_status_exits_non_zero_with_a_clear_message_when_the_api_is_unreachable(cli_sim, run_cli) -> None:
    sim = cli_sim(deploy=False, nodes=1)
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    text = sim.kubeconfig.read_text().replace(sim.cluster.url, f"http://127.0.0.1:{port}")
    sim.kubeconfig.write_text(text)
    code, out, err = run_cli(sim, "status")
    assert code == 1
    assert err.startswith("falcotui: error: cannot reach the Kubernetes API at http://127.0.0.1:")
    assert "connection refused" in err and "Traceback" not in err
    assert out == ""


def test_status_without_falco_deployed_says_so(cli_sim, run_cli) -> None:
    sim = cli_sim(deploy=False, nodes=2)
    code, out, err = run_cli(sim, "status")
    assert code == 0, err
    assert "DaemonSet: none named 'falco' in namespace falco" in out
    assert "Nodes without Falco:" in out


BROKEN_RULES = """\
- rule: Broken rule
  desc: a condition naming a field Falco does not have
  condition: spawned_process and proc.nonexistent_field = x
  output: "broken (proc=%proc.name)"
  priority: WARNING
"""


def test_status_shows_a_crash_looping_falco_and_why(cli_sim, until, run_cli) -> None:
    from falcotui.kube.apply import Applier
    from falcotui.ops.deploy import manifests

    sim = cli_sim(deploy=False, nodes=1)
    docs = manifests.render()
    for doc in docs:
        if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == "falco-rules":
            doc["data"] = {"custom-rules.yaml": BROKEN_RULES}
    Applier(sim.clients).apply(docs)

    def restarts() -> int:
        pods = sim.clients.request("GET", "/api/v1/namespaces/falco/pods")["items"]
        return sum(s.get("restartCount", 0) for p in pods for s in p["status"].get("containerStatuses") or [])

    until(lambda: restarts() >= 2, "Falco exiting on the invalid rules, again and again")
    code, out, err = run_cli(sim, "status", "--json")
    assert code == 0, err
    (node,) = json.loads(out)["nodes"]
    assert node["state"] in ("crash-loop", "failing") and node["pod"]["restarts"] >= 2
    assert node["reload"]["state"] in ("crash-loop", "failed")
    assert node["reload"]["detail"], "the reason Falco gave when it exited"
    code, out, err = run_cli(sim, "status")
    assert code == 0, err
    problems = out.split("Pods with problems:\n", 1)[1].splitlines()
    assert problems[0].startswith(f"  {node['pod']['name']} on sim-cp-1: last exit code 1")
    assert problems[1] == "    Falco said: /etc/falco/rules.d/custom-rules.yaml: Invalid"
