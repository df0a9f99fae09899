"""What real clusters do to a DaemonSet that the default simulated cluster does not: admission that refuses
its pods, a GPU node's taint, a Windows node, a registry answering 429 toomanyrequests - through HTTP and
the real kubectl, as falcotui and an operator would see them."""

from __future__ import annotations

import json
import time

from falcotui.sim.config import GPU_TAINT, AdmissionRule, NodeSpec

DSS = "/apis/apps/v1/namespaces/falco/daemonsets"
PODS = "/api/v1/namespaces/falco/pods"


def _daemonset(**pod_spec_extra) -> dict:
    pod_spec = {"containers": [{"name": "falco", "image": "falcosecurity/falco:0.45.0"}], **pod_spec_extra}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "falco", "namespace": "falco"},
        "spec": {
            "selector": {"matchLabels": {"app": "falco"}},
            "template": {"metadata": {"labels": {"app": "falco"}}, "spec": pod_spec},
        },
    }


def _wait(pred, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def _setup(http, **pod_spec_extra) -> None:
    http("POST", "/api/v1/namespaces", {"metadata": {"name": "falco"}})
    status, body, _ = http("POST", DSS, _daemonset(**pod_spec_extra))
    assert status == 201, body


def _pods(http) -> dict[str, dict]:
    return {p["spec"]["nodeName"]: p for p in http("GET", PODS)[1]["items"]}


def _failed_creates(http) -> list[dict]:
    events = http("GET", "/api/v1/namespaces/falco/events")[1]["items"]
    return [e for e in events if e["reason"] == "FailedCreate" and e["involvedObject"]["kind"] == "DaemonSet"]


def _waiting(pod: dict) -> dict:
    return ((pod.get("status", {}).get("containerStatuses") or [{}])[0].get("state") or {}).get(
        "waiting"
    ) or {}


def test_a_refusing_webhook_gives_failed_create_events_and_no_pods_until_lifted(make_sim_cluster, api_http):
    rule = AdmissionRule(
        "webhook",
        "validation error: Privileged mode is disallowed. rule privileged-containers failed",
        webhook="validate.kyverno.svc-fail",
        namespace="falco",
    )
    cluster = make_sim_cluster(nodes=2, control_plane_nodes=0, admission=[rule])
    http = api_http.__class__(cluster)
    _setup(http)
    events = _wait(lambda: _failed_creates(http), "FailedCreate")
    assert events[0]["type"] == "Warning"
    assert events[0]["message"] == (
        'Error creating: admission webhook "validate.kyverno.svc-fail" denied the request: '
        "validation error: Privileged mode is disallowed. rule privileged-containers failed"
    )
    assert events[0]["source"]["component"] == "daemonset-controller"
    # the controller keeps retrying with back-off: the event's count grows, no pod appears
    _wait(lambda: any(e.get("count", 1) > 2 for e in _failed_creates(http)), "repeated refusals")
    assert _pods(http) == {}
    # other namespaces are not concerned
    status, _, _ = http("POST", "/api/v1/namespaces/default/pods", {
        "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}})  # fmt: skip
    assert status == 201
    cluster.config.admission.clear()
    _wait(lambda: len(_pods(http)) == 2, "pods once admission lets them through")


def test_scc_refusal_names_the_generate_name_and_the_critical_quota_wants_a_covering_quota(
    make_sim_cluster, api_http, kubectl
):
    detail = (
        'spec.volumes[2]: Invalid value: "hostPath": hostPath volumes are not allowed to be used, '
        'provider "restricted-v2": Forbidden: not usable by user or serviceaccount'
    )
    scc = AdmissionRule("scc", detail)
    cluster = make_sim_cluster(nodes=1, control_plane_nodes=0, admission=[scc])
    http = api_http.__class__(cluster)
    _setup(http)
    message = _wait(lambda: _failed_creates(http), "FailedCreate")[0]["message"]
    assert message.startswith(
        'Error creating: pods "falco-" is forbidden: unable to validate against any security context '
        'constraint: [spec.volumes[2]: Invalid value: "hostPath"'
    )
    out = kubectl("get", "events", "-n", "falco", "--field-selector", "reason=FailedCreate", "-o", "json",
                  kubeconfig=cluster.kubeconfig_path, check=True).stdout  # fmt: skip
    assert json.loads(out)["items"][0]["message"] == message

    quota = AdmissionRule("quota", "", namespace="falco")
    cluster = make_sim_cluster(nodes=1, control_plane_nodes=0, admission=[quota])
    http = api_http.__class__(cluster)
    _setup(http, priorityClassName="system-node-critical")
    message = _wait(lambda: _failed_creates(http), "FailedCreate")[0]["message"]
    assert message == (
        "Error creating: insufficient quota to match these scopes: "
        "[{PriorityClass In [system-node-critical system-cluster-critical]}]"
    )
    assert _pods(http) == {}
    # a ResourceQuota whose scope covers the class admits the pods (the controller's retry gets through)
    quota = {
        "metadata": {"name": "critical-pods"},
        "spec": {
            "hard": {"pods": "1G"},
            "scopeSelector": {
                "matchExpressions": [
                    {"scopeName": "PriorityClass", "operator": "In", "values": ["system-node-critical"]}
                ]
            },
        },
    }
    status, body, _ = http("POST", "/api/v1/namespaces/falco/resourcequotas", quota)
    assert status == 201, body
    _wait(lambda: len(_pods(http)) == 1, "the pod once a quota covers its priority class")


def test_gpu_node_is_skipped_unless_tolerated(make_sim_cluster, api_http):
    gpu = NodeSpec("gpu-1", taints=[dict(GPU_TAINT)])
    cluster = make_sim_cluster(nodes=1, control_plane_nodes=0, extra_nodes=[gpu])
    http = api_http.__class__(cluster)
    _setup(http)
    _wait(lambda: http("GET", f"{DSS}/falco")[1].get("status", {}).get("numberReady") == 1, "ready")
    assert set(_pods(http)) == {"sim-node-01"}
    node = http("GET", "/api/v1/nodes/gpu-1")[1]
    assert node["spec"]["taints"] == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]
    assert http("GET", f"{DSS}/falco")[1]["status"]["desiredNumberScheduled"] == 1
    patch = {"spec": {"template": {"spec": {"tolerations": [{"operator": "Exists"}]}}}}
    http("PATCH", f"{DSS}/falco", patch, ctype="application/strategic-merge-patch+json")
    _wait(lambda: set(_pods(http)) == {"sim-node-01", "gpu-1"}, "a pod on the tolerated GPU node")


def test_windows_node_gets_no_linux_pod_with_the_selector_and_a_platform_error_without(
    make_sim_cluster, api_http, kubectl
):
    cluster = make_sim_cluster(nodes=1, control_plane_nodes=0, extra_nodes=[NodeSpec("win-1", os="windows")])
    http = api_http.__class__(cluster)
    node = http("GET", "/api/v1/nodes/win-1")[1]
    assert node["metadata"]["labels"]["kubernetes.io/os"] == "windows"
    assert node["status"]["nodeInfo"]["operatingSystem"] == "windows"
    wide = kubectl("get", "nodes", "-L", "kubernetes.io/os", "-o", "wide", kubeconfig=cluster.kubeconfig_path)
    [row] = [line for line in wide.stdout.splitlines() if line.startswith("win-1 ")]
    assert "Windows Server 2022 Datacenter" in row and row.split()[-1] == "windows"
    _setup(http)  # no nodeSelector: the DaemonSet controller puts a (Linux) pod on the Windows node
    waiting = _wait(lambda: _waiting(_pods(http).get("win-1", {})).get("message"), "a pull error on win-1")
    assert "no match for platform in manifest: not found" in waiting
    assert "linux" not in _waiting(_pods(http)["sim-node-01"]).get("message", "")
    patch = {"spec": {"template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"}}}}}
    http("PATCH", f"{DSS}/falco", patch, ctype="application/strategic-merge-patch+json")
    _wait(lambda: set(_pods(http)) == {"sim-node-01"}, "the Windows node's pod removed")


def test_rate_limited_registry_answers_toomanyrequests(make_sim_cluster, api_http):
    cluster = make_sim_cluster(nodes=2, control_plane_nodes=0, registry_rate_limited_nodes={"sim-node-02"})
    http = api_http.__class__(cluster)
    _setup(http)
    waiting = _wait(lambda: _waiting(_pods(http).get("sim-node-02", {})).get("message"), "a pull error")
    assert (
        "429 Too Many Requests - Server message: toomanyrequests: You have reached your pull rate limit"
        in (waiting)
    )
    assert "https://registry-1.docker.io/v2/falcosecurity/falco/manifests/sha256:" in waiting
    _wait(lambda: _waiting(_pods(http)["sim-node-02"]).get("reason") == "ImagePullBackOff", "back-off")
    events = http("GET", "/api/v1/namespaces/falco/events")[1]["items"]
    assert any("toomanyrequests" in e["message"] and e["reason"] == "Failed" for e in events)
    cluster.config.registry_rate_limited_nodes.clear()
    _wait(lambda: _waiting(_pods(http)["sim-node-02"]) == {}, "the pull succeeding once the limit lifts")
