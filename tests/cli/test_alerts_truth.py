"""`falcotui alerts` exit codes and `--since` tell the truth (issue 13, finding 4): a window starting in
year 1 is sent as RFC 3339 (`0001-...`), an empty `--since` is an error, and when the pods' logs cannot be
read the command fails instead of printing "no alerts"."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from falcotui.kube.logs_resume import since_time_param

RBAC = "rbac.authorization.k8s.io/v1"


def test_since_year_one_is_sent_padded_and_reads_everything(cli_sim, until) -> None:
    assert since_time_param(-62135596800 * 10**9) == "0001-01-01T00:00:00Z"
    sim = cli_sim(per_minute=600, nodes=2)
    until(lambda: len(sim.alerts()) >= 10, "alerts in the pods' logs")
    before = sim.alerts()
    proc = sim.cli("alerts", "--json", "--since", "0001-01-01T00:00:00Z")
    assert proc.returncode == 0, proc.stderr
    assert "could not be read" not in proc.stderr
    printed = {json.loads(line)["output"] for line in proc.stdout.splitlines()}
    assert {a.output for a in before.values()} <= printed


def test_empty_filters_are_usage_errors(cli_sim) -> None:
    sim = cli_sim(deploy=False, nodes=1)
    for option in ("--since", "--node", "--rule"):
        proc = sim.cli("alerts", option, "")
        assert proc.returncode == 2, (option, proc.stderr)
        assert f"falcotui: error: {option}: empty value" in proc.stderr


def test_alerts_fails_when_no_pod_log_can_be_read(cli_sim, until, tmp_path) -> None:
    sim = cli_sim(per_minute=600, nodes=2)
    until(lambda: len(sim.alerts()) >= 4, "alerts in the pods' logs")
    admin = sim.clients
    # a user who may list the Falco pods but not read their logs (no pods/log)
    admin.request("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/falco/roles", body={
        "apiVersion": RBAC, "kind": "Role", "metadata": {"name": "pods-only", "namespace": "falco"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}],
    })  # fmt: skip
    admin.request("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/falco/rolebindings", body={
        "apiVersion": RBAC, "kind": "RoleBinding", "metadata": {"name": "pods-only", "namespace": "falco"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pods-only"},
        "subjects": [{"kind": "User", "name": "no-logs", "apiGroup": "rbac.authorization.k8s.io"}],
    })  # fmt: skip
    sim.cluster.add_user("no-logs")
    kubeconfig = sim.cluster.write_kubeconfig(tmp_path / "no-logs.kubeconfig", user="no-logs")
    proc = subprocess.run(
        [sys.executable, "-m", "falcotui", "alerts", "--json", "--kubeconfig", str(kubeconfig)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == ""
    assert "2 of 2 Falco pods' logs could not be read: no Falco pod's log could be read" in proc.stderr


def test_oversize_alert_is_kept_truncated_and_unreadable_lines_are_counted(cli_sim, until) -> None:
    """Issue 13 finding 6: a >4 MiB alert line is printed truncated with a marker, not dropped; lines that
    look like alerts but cannot be read are counted on stderr."""
    sim = cli_sim(nodes=1)
    pods = sim.clients.request("GET", "/api/v1/namespaces/falco/pods")["items"]
    pod = next(p for p in pods if p["status"].get("phase") == "Running")
    name, node = pod["metadata"]["name"], pod["spec"]["nodeName"]
    big = {
        "hostname": node, "output": "09:00:00.000000000: Warning " + "A" * (5 * 1024 * 1024),
        "output_fields": {}, "priority": "Warning", "rule": "Oversize alert", "source": "syscall", "tags": [],
        "time": time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime()),
    }  # fmt: skip
    log = sim.cluster.call(lambda: sim.cluster.controllers.container_log("falco", name, "falco"))
    sim.cluster.call(lambda: log.append("stdout", json.dumps(big)))
    until(lambda: any(a.rule == "Oversize alert" for a in sim.alerts().values()), "the oversize alert")
    for line in ('{"rule": "cut short', '{"output": "no rule, no time"}'):
        sim.cluster.call(lambda line=line: log.append("stdout", line))
    proc = sim.cli("alerts", "--json", "--rule", "Oversize")
    assert proc.returncode == 0, proc.stderr
    (printed,) = [json.loads(x) for x in proc.stdout.splitlines()]
    cut = len(big["output"]) - 65536
    assert printed["output"].endswith(f"…[truncated by falcotui: {cut} more characters]")
    assert "falcotui.truncated" in printed["output_fields"]
    assert "falcotui: warning: 2 log lines looked like alerts but could not be read (last: " in proc.stderr
    status = sim.cli("status", "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["unreadable_lines"] == 2
    assert "2 log lines looked like alerts but could not be read" in sim.cli("status").stdout
