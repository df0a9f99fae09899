"""More kubectl against the simulator: auth can-i, create (protobuf), describe, label, get --watch."""

from __future__ import annotations

import base64
import subprocess

import yaml

from falcotui.sim.api.auth import Policy


def test_auth_can_i_answers_from_the_policy(kubectl, make_sim_cluster):
    # kubectl sends this SelfSubjectAccessReview protobuf-encoded.
    assert kubectl("auth", "can-i", "update", "configmaps", "-n", "falco").stdout.strip() == "yes"
    ro = make_sim_cluster(nodes=1, policy=Policy.read_only())
    proc = kubectl("auth", "can-i", "patch", "daemonsets", "-n", "falco", kubeconfig=ro.kubeconfig_path)
    assert proc.returncode == 1 and proc.stdout.startswith("no")
    proc = kubectl("auth", "can-i", "watch", "pods", "-n", "falco", kubeconfig=ro.kubeconfig_path)
    assert proc.returncode == 0 and proc.stdout.strip() == "yes"
    rules = kubectl("auth", "can-i", "--list", kubeconfig=ro.kubeconfig_path, check=True).stdout
    assert "[get list watch]" in rules and "patch" not in rules
    denied = kubectl("create", "configmap", "x", "-n", "default", kubeconfig=ro.kubeconfig_path)
    assert denied.returncode == 1
    assert 'configmaps is forbidden: User "falcotui-sim" cannot create' in denied.stderr


def test_describe_pod_shows_its_events(kubectl, manifests_dir):
    kubectl("apply", "--server-side", "-f", str(manifests_dir), check=True)
    kubectl("rollout", "status", "ds/falco", "-n", "falco", "--timeout=30s", check=True)
    pod = kubectl("get", "pods", "-n", "falco", "-o", "name", check=True).stdout.split()[0]
    out = kubectl("describe", pod, "-n", "falco", check=True).stdout
    assert "Controlled By:  DaemonSet/falco" in out
    assert "Events:" in out and "Started container falco" in out


def test_create_subcommands_send_protobuf_the_simulator_decodes(kubectl, tmp_path):
    cert = tmp_path / "ca.crt"
    cert.write_bytes(b"-----BEGIN CERTIFICATE-----\nabc\n")
    kubectl("create", "namespace", "grpc", check=True)
    sources = [f"--from-file={cert}", "--from-literal=mode=mtls"]
    kubectl("create", "secret", "generic", "certs", "-n", "grpc", *sources, check=True)
    kubectl("create", "configmap", "cfg", "-n", "grpc", "--from-literal=a=1", check=True)
    kubectl("create", "serviceaccount", "bot", "-n", "grpc", check=True)
    secret = yaml.safe_load(kubectl("get", "secret", "certs", "-n", "grpc", "-o", "yaml", check=True).stdout)
    assert base64.b64decode(secret["data"]["ca.crt"]) == cert.read_bytes()
    assert base64.b64decode(secret["data"]["mode"]) == b"mtls" and secret["type"] == "Opaque"
    cm = yaml.safe_load(kubectl("get", "cm", "cfg", "-n", "grpc", "-o", "yaml", check=True).stdout)
    assert cm["data"] == {"a": "1"}
    assert kubectl("get", "sa", "bot", "-n", "grpc").returncode == 0


def test_label_and_selector_round_trip(kubectl):
    kubectl("create", "configmap", "one", "-n", "default", check=True)
    kubectl("create", "configmap", "two", "-n", "default", check=True)
    kubectl("label", "cm", "one", "-n", "default", "team=sec", check=True)
    out = kubectl("get", "cm", "-n", "default", "-l", "team in (sec)", "-o", "name", check=True).stdout
    assert out.split() == ["configmap/one"]
    out = kubectl("get", "cm", "-n", "default", "-l", "!team", "-o", "name", check=True).stdout
    assert "configmap/two" in out.split() and "configmap/one" not in out.split()


def test_get_watch_prints_rows_as_objects_change(kubectl, kubectl_path, sim_cluster, tmp_path):
    kubectl("create", "configmap", "first", "-n", "default", check=True)
    cmd = [str(a) for a in (kubectl_path, "--kubeconfig",
                            sim_cluster.kubeconfig_path, "--cache-dir", tmp_path / "w", "get", "cm", "-n",
                            "default", "--watch", "--request-timeout=3s")]  # fmt: skip
    watcher = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = watcher.stdout.readline()  # header
        assert first.split()[:3] == ["NAME", "DATA", "AGE"]
        assert watcher.stdout.readline().split()[0] in ("first", "kube-root-ca.crt")
        kubectl("create", "configmap", "second", "-n", "default", "--from-literal=a=b", check=True)
        for _ in range(5):
            line = watcher.stdout.readline()
            if line.startswith("second"):
                assert line.split()[1] == "1"
                break
        else:
            raise AssertionError("the new ConfigMap never appeared in kubectl get --watch")
    finally:
        watcher.kill()
        watcher.wait()


def test_delete_with_orphan_cascade_keeps_the_pods(kubectl, manifests_dir):
    kubectl("apply", "--server-side", "-f", str(manifests_dir), check=True)
    kubectl("rollout", "status", "ds/falco", "-n", "falco", "--timeout=30s", check=True)
    kubectl("delete", "ds", "falco", "-n", "falco", "--cascade=orphan", check=True)
    pods = yaml.safe_load(kubectl("get", "pods", "-n", "falco", "-o", "yaml", check=True).stdout)["items"]
    assert len(pods) == 3
    assert all("ownerReferences" not in p["metadata"] for p in pods)
