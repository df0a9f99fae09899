"""The checks a reviewer makes on the shipped manifests: pinned image, least privilege, mounts, probes."""

from __future__ import annotations

import re

import pytest
import yaml

from falcotui.falco.config import validate_falco_yaml
from falcotui.ops import manifests

LABELS = {
    "app.kubernetes.io/name": "falco",
    "app.kubernetes.io/part-of": "falcotui",
    "app.kubernetes.io/managed-by": "falcotui",
}
LEAST_PRIVILEGE = {"BPF", "PERFMON", "SYS_RESOURCE", "SYS_PTRACE"}


@pytest.fixture(scope="module")
def base(shipped_docs):
    return [doc for name, doc in shipped_docs if name != "operator-rbac.yaml"]


@pytest.fixture(scope="module")
def pod_spec(base, k8s):
    return k8s.find(base, "DaemonSet")["spec"]["template"]["spec"]


@pytest.fixture(scope="module")
def container(base, k8s):
    return k8s.falco_container(base)


def test_files_apply_in_dependency_order(manifest_dir) -> None:
    names = sorted(p.name for p in manifest_dir.glob("*.yaml"))
    kinds = [yaml.safe_load_all((manifest_dir / n).read_text()).__next__()["kind"] for n in names]
    assert kinds.index("Namespace") == 0
    assert kinds.index("ServiceAccount") < kinds.index("DaemonSet")
    assert kinds.index("ConfigMap") < kinds.index("DaemonSet")


def test_loader_returns_the_files_in_apply_order_without_operator_roles(base) -> None:
    assert manifests.load_base() == base
    assert [r["metadata"]["name"] for r in manifests.operator_rbac()] == [
        "falcotui-viewer",
        "falcotui-operator",
    ]


def test_everything_carries_the_falcotui_labels(shipped_docs, pod_spec, k8s, base) -> None:
    for name, doc in shipped_docs:
        labels = doc["metadata"].get("labels", {})
        assert labels.get("app.kubernetes.io/part-of") == "falcotui", name
        assert labels.get("app.kubernetes.io/managed-by") == "falcotui", name
    for doc in base:
        assert LABELS.items() <= doc["metadata"]["labels"].items()
    daemonset = k8s.find(base, "DaemonSet")
    assert daemonset["spec"]["selector"] == {"matchLabels": {"app.kubernetes.io/name": "falco"}}
    assert LABELS.items() <= daemonset["spec"]["template"]["metadata"]["labels"].items()


def test_namespace_admits_falco_under_pod_security(base, k8s) -> None:
    labels = k8s.find(base, "Namespace")["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "privileged"


def test_image_is_pinned(container) -> None:
    image = container["image"]
    assert image == f"falcosecurity/falco:{manifests.DEFAULT_IMAGE_TAG}"
    assert re.fullmatch(r"falcosecurity/falco:\d+\.\d+\.\d+", image)
    assert "latest" not in image


def test_not_privileged_but_least_capabilities(shipped_docs, container, pod_spec) -> None:
    for name, doc in shipped_docs:
        assert "privileged: true" not in yaml.safe_dump(doc), name
    security = container["securityContext"]
    assert security["privileged"] is False
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert set(security["capabilities"]["add"]) == LEAST_PRIVILEGE
    assert len(security["capabilities"]["add"]) == len(LEAST_PRIVILEGE)
    assert security["appArmorProfile"] == {"type": "Unconfined"}
    assert "hostNetwork" not in pod_spec and "hostPID" not in pod_spec


def test_nothing_is_mounted_over_etc_falco_and_no_subpath(container, pod_spec) -> None:
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert "/etc/falco" not in mounts
    assert all("subPath" not in m and "subPathExpr" not in m for m in mounts.values())
    volumes = {v["name"]: v for v in pod_spec["volumes"]}
    config_mounts = {path for path, m in mounts.items() if "configMap" in volumes[m["name"]]}
    assert config_mounts == {"/etc/falco-config", "/etc/falco/rules.d"}
    assert volumes[mounts["/etc/falco/rules.d"]["name"]]["configMap"] == {"name": "falco-rules"}
    assert volumes[mounts["/etc/falco-config"]["name"]]["configMap"] == {"name": "falco-config"}
    # Falco reads the config from the mounted directory.
    args = container["args"]
    assert args[:1] == ["/usr/bin/falco"]
    assert args[args.index("-c") + 1] == "/etc/falco-config/falco.yaml"


def test_host_mounts_are_read_only(container, pod_spec) -> None:
    volumes = {v["name"]: v for v in pod_spec["volumes"]}
    host = {
        m["mountPath"]: (volumes[m["name"]]["hostPath"]["path"], m.get("readOnly"))
        for m in container["volumeMounts"]
        if "hostPath" in volumes[m["name"]]
    }
    assert host == {
        "/host/proc": ("/proc", True),
        "/host/etc": ("/etc", True),
        "/sys/kernel": ("/sys/kernel", True),
        "/host/run/containerd": ("/run/containerd", True),
        "/host/run/crio": ("/run/crio", True),
        "/host/run/k3s/containerd": ("/run/k3s/containerd", True),
        "/host/run/host-containerd": ("/run/host-containerd", True),
        "/host/var/run/docker.sock": ("/var/run/docker.sock", True),
    }
    for unneeded in ("/dev", "/sys/kernel/debug", "/var/lib/kubelet", "/var/log/pods"):
        assert all(v["hostPath"]["path"] != unneeded for v in volumes.values() if "hostPath" in v)


def test_health_port_and_probes(container, base, k8s) -> None:
    assert container["ports"] == [{"name": "health", "containerPort": 8765, "protocol": "TCP"}]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": 8765}, probe
    webserver = k8s.falco_yaml(base)["webserver"]
    assert webserver["enabled"] is True
    assert webserver["listen_port"] == 8765
    assert webserver["k8s_healthz_endpoint"] == "/healthz"
    assert "grpc" not in k8s.falco_yaml(base)


def test_hostname_resources_tolerations_and_rollout(container, pod_spec, base, k8s) -> None:
    env = {e["name"]: e for e in container["env"]}
    assert env["FALCO_HOSTNAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
    assert env["HOST_ROOT"]["value"] == "/host"
    assert set(container["resources"]) == {"requests", "limits"}
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert {"cpu", "memory"} <= set(container["resources"]["limits"])
    tolerated = {(t["key"], t["effect"]) for t in pod_spec["tolerations"]}
    assert ("node-role.kubernetes.io/control-plane", "NoSchedule") in tolerated
    assert k8s.find(base, "DaemonSet")["spec"]["updateStrategy"]["type"] == "RollingUpdate"
    assert pod_spec["serviceAccountName"] == "falco"
    assert pod_spec["automountServiceAccountToken"] is False


def test_linux_nodes_only_and_critical_priority(pod_spec) -> None:
    assert pod_spec["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert pod_spec["priorityClassName"] == "system-node-critical"
    assert all(t.get("key") for t in pod_spec["tolerations"]), "tolerate-all is opt-in (--tolerate-all)"


def test_falco_yaml_is_valid_for_the_pinned_version(base, k8s) -> None:
    config = k8s.falco_yaml(base)
    assert validate_falco_yaml(config, manifests.DEFAULT_IMAGE_TAG) == []
    assert config["rules_files"] == ["/etc/falco/falco_rules.yaml", "/etc/falco/rules.d"]
    assert not any(c in path for path in config["rules_files"] for c in "*?[")
    assert config["config_files"] == ["/etc/falco/config.d"]
    assert config["watch_config_files"] is True
    assert config["engine"]["kind"] == "modern_ebpf"
    for key in ("json_output", "json_include_output_property", "json_include_tags_property"):
        assert config[key] is True, key
    assert config["json_include_output_fields_property"] is True
    assert config["stdout_output"] == {"enabled": True}
    assert config["buffered_outputs"] is False
    for seed_key in ("outputs", "json_output_layout", "alert_output_layout", "rules"):
        assert seed_key not in config


def test_no_rbac_for_falco_itself(base) -> None:
    assert not [d for d in base if d["kind"] in {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}]


def test_operator_roles_list_exactly_the_calls_falcotui_makes() -> None:
    viewer, operator = manifests.operator_rbac()

    def grants(role):
        return {
            (group, resource, verb, tuple(rule.get("resourceNames", ())))
            for rule in role["rules"]
            for group in rule["apiGroups"]
            for resource in rule["resources"]
            for verb in rule["verbs"]
        }

    viewer_grants, operator_grants = grants(viewer), grants(operator)
    read = {("", r, v, ()) for r in ("nodes", "pods", "events") for v in ("get", "list", "watch")}
    assert read | {("", "pods/log", "get", ())} <= viewer_grants
    # Websocket exec/port-forward is a GET (`get`); Kubernetes >= 1.35 also checks `create`.
    assert {("", "pods/portforward", v, ()) for v in ("get", "create")} <= viewer_grants
    assert (
        "authorization.k8s.io",
        "selfsubjectaccessreviews",
        "create",
        (),
    ) in viewer_grants & operator_grants
    assert viewer_grants <= operator_grants
    # A shell in a Falco pod is close to root on the node: operators only. Viewers never touch Secrets.
    assert {("", "pods/exec", v, ()) for v in ("get", "create")} <= operator_grants
    assert not any(g[1] == "pods/exec" for g in viewer_grants)
    assert not any(g[1] == "secrets" for g in viewer_grants)
    assert ("", "secrets", "get", ("falco-grpc-certs",)) in operator_grants
    assert ("", "secrets", "get", ()) not in operator_grants
    assert ("", "configmaps", "update", ()) in operator_grants
    assert ("apps", "daemonsets", "patch", ()) in operator_grants
    # Server-side apply of every kind falcotui applies (create + patch), and uninstall (delete).
    group_of = {"DaemonSet": "apps"}
    resource_of = {"Namespace": "namespaces", "ServiceAccount": "serviceaccounts", "ConfigMap": "configmaps"}
    resource_of |= {"DaemonSet": "daemonsets", "Secret": "secrets"}
    for doc in manifests.render(grpc=True):
        group, resource = group_of.get(doc["kind"], ""), resource_of[doc["kind"]]
        assert (group, resource, "create", ()) in operator_grants, doc["kind"]
        names = ("falco-grpc-certs",) if resource == "secrets" else ()
        assert (group, resource, "patch", names) in operator_grants, doc["kind"]
        assert (group, resource, "delete", names) in operator_grants, doc["kind"]
    # No wildcard, no escalation paths.
    for group, resource, verb, _ in operator_grants:
        assert "*" not in (group, resource, verb)
        assert verb not in {"escalate", "bind", "impersonate"}
        assert resource not in {"roles", "clusterroles", "rolebindings", "clusterrolebindings"}
