"""The checks a reviewer makes on the shipped manifests: pinned image, least privilege, mounts, probes."""

from __future__ import annotations

import re

import pytest
import yaml

from falcotui.falco.config import validate_falco_yaml
from falcotui.ops.deploy import manifests

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
        "falcotui-viewer-cluster",
        "falcotui-operator",
        "falcotui-operator-cluster",
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


def _grants(role: dict) -> set[tuple[str, str, str, tuple[str, ...]]]:
    return {
        (group, resource, verb, tuple(rule.get("resourceNames", ())))
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def test_operator_roles_are_namespaced_except_what_must_be_cluster_wide() -> None:
    roles = {(d["kind"], d["metadata"]["name"]): d for d in manifests.operator_rbac()}
    assert set(roles) == {
        ("Role", "falcotui-viewer"),
        ("ClusterRole", "falcotui-viewer-cluster"),
        ("Role", "falcotui-operator"),
        ("ClusterRole", "falcotui-operator-cluster"),
    }
    assert all(d["metadata"]["namespace"] == "falco" for (kind, _), d in roles.items() if kind == "Role")
    viewer, operator = _grants(roles["Role", "falcotui-viewer"]), _grants(roles["Role", "falcotui-operator"])
    viewer_c = _grants(roles["ClusterRole", "falcotui-viewer-cluster"])
    operator_c = _grants(roles["ClusterRole", "falcotui-operator-cluster"])
    # Cluster-wide: nodes, Falco's namespace by name, SelfSubjectAccessReview. Nothing namespaced.
    for _group, resource, verb, names in viewer_c | operator_c:
        assert resource in {"nodes", "namespaces", "selfsubjectaccessreviews"}, resource
        if resource == "namespaces":
            assert names == ("falco",) and verb in {"get", "patch"}
    assert {("", "nodes", v, ()) for v in ("get", "list", "watch")} <= viewer_c
    assert viewer <= operator and viewer_c <= operator_c
    # Namespaced reads, logs and port-forward (websocket: `get`, and `create` since 1.35).
    assert {
        ("", r, v, ()) for r in ("pods", "configmaps", "events") for v in ("get", "list", "watch")
    } <= viewer
    assert {
        ("", "pods/log", "get", ()),
        ("", "pods/portforward", "get", ()),
        ("", "pods/portforward", "create", ()),
    } <= viewer
    # A shell in a Falco pod is close to root on the node: operators only. Viewers never touch Secrets.
    assert {("", "pods/exec", v, ()) for v in ("get", "create")} <= operator
    assert not any(g[1] == "pods/exec" for g in viewer)
    assert not any(g[1] == "secrets" for g in viewer | viewer_c | operator_c)
    # `create secrets` cannot be limited by name (RBAC docs), so only the Role has it; every other Secret
    # verb names the gRPC Secret(s).
    secret_grants = {g for g in operator if g[1] == "secrets"}
    assert ("", "secrets", "create", ()) in secret_grants
    assert all(names for _, _, verb, names in secret_grants if verb != "create")
    # Writes are limited to falcotui's objects by name wherever RBAC allows it (not for create).
    for _group, resource, verb, names in operator:
        if verb in {"patch", "update", "delete"}:
            assert names, (resource, verb)
    # Server-side apply of every kind falcotui applies in the namespace (create + patch by name) and delete.
    group_of = {"DaemonSet": "apps", "NetworkPolicy": "networking.k8s.io"}
    resource_of = {"ServiceAccount": "serviceaccounts", "ConfigMap": "configmaps", "DaemonSet": "daemonsets"}
    resource_of |= {"Secret": "secrets", "NetworkPolicy": "networkpolicies"}
    resource_of |= {"ResourceQuota": "resourcequotas"}
    for doc in manifests.render(grpc=True):
        if doc["kind"] == "Namespace":
            continue
        group, resource, name = (
            group_of.get(doc["kind"], ""),
            resource_of[doc["kind"]],
            doc["metadata"]["name"],
        )
        assert (group, resource, "create", ()) in operator, doc["kind"]
        for verb in ("patch", "delete"):
            assert any(g[:3] == (group, resource, verb) and name in g[3] for g in operator), (
                doc["kind"],
                verb,
            )
    # No wildcard, no escalation paths.
    for group, resource, verb, _ in operator | operator_c:
        assert "*" not in (group, resource, verb)
        assert verb not in {"escalate", "bind", "impersonate"}
        assert resource not in {"roles", "clusterroles", "rolebindings", "clusterrolebindings"}


def test_example_bindings_pair_each_role_with_its_cluster_companion() -> None:
    bindings = manifests.operator_bindings("security")
    pairs = {(b["kind"], b["roleRef"]["name"], b["subjects"][0]["name"]) for b in bindings}
    assert pairs == {
        ("RoleBinding", "falcotui-viewer", "falcotui-viewers"),
        ("ClusterRoleBinding", "falcotui-viewer-cluster", "falcotui-viewers"),
        ("RoleBinding", "falcotui-operator", "falcotui-operators"),
        ("ClusterRoleBinding", "falcotui-operator-cluster", "falcotui-operators"),
    }
    assert all(b["metadata"]["namespace"] == "security" for b in bindings if b["kind"] == "RoleBinding")
    moved = manifests.operator_rbac("security")
    ns_rule = next(r for d in moved for r in d["rules"] if "namespaces" in r["resources"])
    assert ns_rule["resourceNames"] == ["security"]


def test_falco_pods_take_no_connections_over_the_pod_network(base, k8s) -> None:
    policy = next(d for d in base if d["kind"] == "NetworkPolicy")
    pod_labels = k8s.find(base, "DaemonSet")["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()
    # Ingress isolation with no rule: deny everything a NetworkPolicy can see (node traffic, i.e. the
    # kubelet's probes, and port-forwards never pass through it).
    assert policy["spec"]["policyTypes"] == ["Ingress"] and not policy["spec"].get("ingress")


def test_container_security_context_is_explicit(base, k8s) -> None:
    security = k8s.falco_container(base)["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["seccompProfile"] == {"type": "Unconfined"}  # the reason is in the manifest
    assert security["allowPrivilegeEscalation"] is False and security["privileged"] is False
    pod = k8s.find(base, "DaemonSet")["spec"]["template"]["spec"]["securityContext"]
    assert pod == {"runAsUser": 0, "runAsNonRoot": False}  # root, stated: the capabilities need uid 0


def test_critical_priority_comes_with_the_quota_that_admits_it(base, pod_spec) -> None:
    # GKE limits the critical priority classes to namespaces whose ResourceQuota covers them.
    quota = next(d for d in base if d["kind"] == "ResourceQuota")
    assert quota["metadata"]["namespace"] == "falco"
    [expr] = quota["spec"]["scopeSelector"]["matchExpressions"]
    assert expr == {"scopeName": "PriorityClass", "operator": "In", "values": [pod_spec["priorityClassName"]]}
    assert quota["spec"]["hard"] == {"pods": "1G"}
