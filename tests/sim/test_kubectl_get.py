"""The real kubectl 1.32 prints the simulated cluster's objects with the columns a real server gives."""

from __future__ import annotations

import yaml


def _rows(out: str) -> list[list[str]]:
    return [line.split() for line in out.strip().splitlines()]


def _deploy(kubectl, manifests_dir) -> None:
    kubectl("apply", "--server-side", "-f", str(manifests_dir), check=True)
    kubectl("rollout", "status", "ds/falco", "-n", "falco", "--timeout=30s", check=True)


def test_get_nodes_shows_status_roles_and_version(kubectl):
    out = kubectl("get", "nodes", check=True).stdout
    header, *rows = out.strip().splitlines()
    assert header.split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert len(rows) == 3
    by_name = {r.split()[0]: r.split() for r in rows}
    roles = sorted(r[2] for r in by_name.values())
    assert roles == ["<none>", "<none>", "control-plane"]
    assert all(r[1] == "Ready" and r[4].startswith("v1.32") for r in by_name.values())


def test_get_nodes_wide_has_internal_ip(kubectl):
    rows = _rows(kubectl("get", "nodes", "-o", "wide", check=True).stdout)
    assert rows[0][:7] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP", "EXTERNAL-IP"]
    ips = [r[5] for r in rows[1:]]
    assert all(ip.startswith("127.0.0.") for ip in ips) and len(set(ips)) == 3


def test_get_pods_wide_shows_ip_and_node_per_pod(kubectl, manifests_dir):
    _deploy(kubectl, manifests_dir)
    rows = _rows(kubectl("get", "pods", "-n", "falco", "-o", "wide", check=True).stdout)
    assert rows[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED", "NODE",
                       "READINESS", "GATES"]  # fmt: skip
    pods = rows[1:]
    assert len(pods) == 3
    nodes = {r[0] for r in _rows(kubectl("get", "nodes", "-o", "name", check=True).stdout)}
    for name, ready, status, restarts, _age, ip, node, *_ in pods:
        assert name.startswith("falco-")
        assert (ready, status, restarts) == ("1/1", "Running", "0")
        assert ip.count(".") == 3 and f"node/{node}" in nodes
    assert len({r[6] for r in pods}) == 3  # one pod per node


def test_get_daemonset_columns_report_rollout(kubectl, manifests_dir):
    _deploy(kubectl, manifests_dir)
    rows = _rows(kubectl("get", "ds", "-n", "falco", check=True).stdout)
    assert rows[0] == ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE", "SELECTOR",
                       "AGE"]  # fmt: skip
    assert rows[1][:6] == ["falco", "3", "3", "3", "3", "3"]
    wide = _rows(kubectl("get", "ds", "falco", "-n", "falco", "-o", "wide", check=True).stdout)
    assert wide[1][8:] == ["falco", "falcosecurity/falco:0.45.0", "app.kubernetes.io/name=falco"]


def test_get_configmap_yaml_returns_the_rules(kubectl, manifests_dir):
    kubectl("apply", "--server-side", "-f", str(manifests_dir), check=True)
    out = kubectl("get", "cm", "falco-rules", "-n", "falco", "-o", "yaml", check=True).stdout
    cm = yaml.safe_load(out)
    applied = yaml.safe_load((manifests_dir / "31-falco-rules.yaml").read_text())
    assert cm["kind"] == "ConfigMap" and cm["metadata"]["name"] == "falco-rules"
    assert cm["data"] == applied["data"]
    assert int(cm["metadata"]["resourceVersion"]) > 0 and cm["metadata"]["uid"]


def test_get_all_kinds_by_short_name(kubectl, manifests_dir):
    kubectl("apply", "--server-side", "-f", str(manifests_dir), check=True)
    out = kubectl("get", "ns,sa,cm,ds", "-n", "falco", check=True).stdout
    assert "namespace/falco" in out and "serviceaccount/falco" in out
    assert "configmap/falco-rules" in out and "daemonset.apps/falco" in out
    events = kubectl("get", "ev", "-n", "falco", check=True).stdout
    assert events.splitlines()[0].split()[:4] == ["LAST", "SEEN", "TYPE", "REASON"]


def test_unknown_object_is_a_not_found_error(kubectl):
    proc = kubectl("get", "cm", "nope", "-n", "default")
    assert proc.returncode == 1
    assert 'Error from server (NotFound): configmaps "nope" not found' in proc.stderr
