"""The official Python client (v37, which validates required fields) reads every kind the simulator serves."""

from __future__ import annotations

import json

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from falcotui.sim.api.auth import Policy


@pytest.fixture
def deployed(kubectl, manifests_dir):
    kubectl("apply", "--server-side", "-f", str(manifests_dir), check=True)
    kubectl("rollout", "status", "ds/falco", "-n", "falco", "--timeout=30s", check=True)


def _create_rbac_and_secret(api: client.ApiClient) -> None:
    core, rbac = client.CoreV1Api(api), client.RbacAuthorizationV1Api(api)
    meta = client.V1ObjectMeta
    core.create_namespaced_secret(
        "falco", client.V1Secret(metadata=meta(name="grpc"), string_data={"ca.crt": "x"})
    )
    rbac.create_namespaced_role(
        "falco",
        client.V1Role(
            metadata=meta(name="reader"),
            rules=[client.V1PolicyRule(verbs=["get", "list"], api_groups=[""], resources=["pods"])],
        ),
    )
    ref = client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name="reader")
    sa = client.RbacV1Subject(kind="ServiceAccount", name="falco", namespace="falco")
    rbac.create_namespaced_role_binding(
        "falco", client.V1RoleBinding(metadata=meta(name="reader"), role_ref=ref, subjects=[sa])
    )
    cref = client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name="falcotui-viewer")
    rbac.create_cluster_role_binding(client.V1ClusterRoleBinding(metadata=meta(name="viewer"), role_ref=cref,
                                                                 subjects=[sa]))  # fmt: skip


def test_every_kind_deserializes_into_the_typed_models(kube_client, deployed):
    _create_rbac_and_secret(kube_client)
    core = client.CoreV1Api(kube_client)
    apps = client.AppsV1Api(kube_client)
    rbac = client.RbacAuthorizationV1Api(kube_client)
    lists = {
        "namespaces": core.list_namespace(),
        "nodes": core.list_node(),
        "pods": core.list_pod_for_all_namespaces(),
        "configmaps": core.list_namespaced_config_map("falco"),
        "secrets": core.list_namespaced_secret("falco"),
        "serviceaccounts": core.list_namespaced_service_account("falco"),
        "events": core.list_namespaced_event("falco"),
        "daemonsets": apps.list_namespaced_daemon_set("falco"),
        "clusterroles": rbac.list_cluster_role(),
        "clusterrolebindings": rbac.list_cluster_role_binding(),
        "roles": rbac.list_namespaced_role("falco"),
        "rolebindings": rbac.list_namespaced_role_binding("falco"),
    }
    for kind, result in lists.items():
        assert result.items, f"no {kind}"
        assert int(result.metadata.resource_version) > 0
    pod = lists["pods"].items[0]
    assert pod.status.phase == "Running" and pod.status.container_statuses[0].ready
    assert pod.metadata.owner_references[0].kind == "DaemonSet"
    node = core.read_node(lists["nodes"].items[0].metadata.name)
    assert {c.type for c in node.status.conditions} >= {"Ready"}
    ds = apps.read_namespaced_daemon_set_status("falco", "falco")
    assert ds.status.desired_number_scheduled == ds.status.number_available == 3
    assert ds.status.observed_generation == ds.metadata.generation
    assert lists["events"].items[0].involved_object.kind
    assert lists["secrets"].items[0].data == {"ca.crt": "eA=="}  # stringData became base64 data


def test_typed_server_side_apply_and_conflict_exception(kube_client, deployed):
    apps = client.AppsV1Api(kube_client)
    body = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "falco", "namespace": "falco"},
        "spec": {
            "template": {"spec": {"containers": [{"name": "falco", "image": "falcosecurity/falco:0.44.0"}]}}
        },
    }
    with pytest.raises(ApiException) as err:
        apps.patch_namespaced_daemon_set("falco", "falco", body, field_manager="falcotui",
                                         _content_type="application/apply-patch+yaml")  # fmt: skip
    assert err.value.status == 409
    ds = apps.patch_namespaced_daemon_set("falco", "falco", body, field_manager="falcotui", force=True,
                                          _content_type="application/apply-patch+yaml")  # fmt: skip
    assert ds.spec.template.spec.containers[0].image == "falcosecurity/falco:0.44.0"
    assert {m.manager for m in ds.metadata.managed_fields} >= {"kubectl", "falcotui"}


def test_stale_replace_raises_conflict_with_the_kubernetes_message(kube_client, deployed):
    core = client.CoreV1Api(kube_client)
    cm = core.read_namespaced_config_map("falco-rules", "falco")
    fresh = core.read_namespaced_config_map("falco-rules", "falco")
    fresh.data["custom-rules.yaml"] += "\n# edited\n"
    core.replace_namespaced_config_map("falco-rules", "falco", fresh)
    cm.data["custom-rules.yaml"] = "# lost update\n"
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_config_map("falco-rules", "falco", cm)
    assert err.value.status == 409
    assert (
        'Operation cannot be fulfilled on configmaps "falco-rules": the object has been modified; please '
        "apply your changes to the latest version and try again"
    ) == json.loads(err.value.body)["message"]


def test_client_watch_streams_typed_events(kube_client):
    core = client.CoreV1Api(kube_client)
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    core.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="w"),
                                                                    data={"a": "b"}))  # fmt: skip
    w = watch.Watch()
    events = []
    for ev in w.stream(core.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=2):
        events.append((ev["type"], ev["object"].metadata.name))
        w.stop()
    assert events == [("ADDED", "w")]


def test_self_subject_access_review_follows_the_policy(make_sim_cluster):
    from kubernetes import config as k8s_config

    for policy, allowed in ((Policy.allow_all(), True), (Policy.read_only(), False)):
        cluster = make_sim_cluster(nodes=1, policy=policy)
        api = k8s_config.new_client_from_config(config_file=str(cluster.kubeconfig_path))
        authz = client.AuthorizationV1Api(api)
        review = authz.create_self_subject_access_review(client.V1SelfSubjectAccessReview(
            spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=client.V1ResourceAttributes(
                verb="update", resource="configmaps", namespace="falco"))))  # fmt: skip
        assert review.status.allowed is allowed
        read = authz.create_self_subject_access_review(client.V1SelfSubjectAccessReview(
            spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=client.V1ResourceAttributes(
                verb="list", resource="pods", namespace="falco"))))  # fmt: skip
        assert read.status.allowed is True
        core = client.CoreV1Api(api)
        if not allowed:
            with pytest.raises(ApiException) as err:
                core.create_namespaced_config_map("default", client.V1ConfigMap(
                    metadata=client.V1ObjectMeta(name="nope")))  # fmt: skip
            assert err.value.status == 403
            assert 'cannot create resource "configmaps"' in json.loads(err.value.body)["message"]
        assert core.list_node().items
        api.close()
