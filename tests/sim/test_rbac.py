"""The simulator's RBAC: a user added with `add_user` is authorized only by the Roles, ClusterRoles and
bindings stored in the cluster, like Kubernetes' RBAC authorizer (resourceNames, subresources, scopes,
server-side-apply creates, SelfSubjectAccessReview), as seen by falcotui's client and by real kubectl."""

from __future__ import annotations

import pytest

from falcotui.kube.client import Timeouts, load_clients
from falcotui.kube.errors import KubeApiError

RBAC = "rbac.authorization.k8s.io/v1"


def _admin(cluster, tmp_path):
    return load_clients(cluster.write_kubeconfig(tmp_path / "admin"), environ={}, timeouts=Timeouts(2, 10))


def _as(cluster, tmp_path, user):
    path = cluster.write_kubeconfig(tmp_path / f"kc-{user}", user=user)
    return load_clients(path, environ={}, timeouts=Timeouts(2, 10)), path


def _post(admin, path, obj):
    admin.request("POST", path, body=obj)


@pytest.fixture
def rbac_cluster(make_sim_cluster, tmp_path):
    cluster = make_sim_cluster(nodes=1, tls=True)  # kubectl sends a bearer token only over TLS
    admin = _admin(cluster, tmp_path)
    _post(admin, "/api/v1/namespaces", {"metadata": {"name": "falco"}})
    for ns in ("falco", "default"):
        for name in ("allowed-cm", "other-cm"):
            _post(admin, f"/api/v1/namespaces/{ns}/configmaps", {"metadata": {"name": name}, "data": {}})
    _post(admin, "/apis/rbac.authorization.k8s.io/v1/namespaces/falco/roles", {
        "apiVersion": RBAC, "kind": "Role", "metadata": {"name": "r", "namespace": "falco"},
        "rules": [
            {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["allowed-cm"],
             "verbs": ["get", "update", "create"]},
            {"apiGroups": [""], "resources": ["*/log"], "verbs": ["get"]},
            {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create", "patch"]},
        ],
    })  # fmt: skip
    _post(admin, "/apis/rbac.authorization.k8s.io/v1/namespaces/falco/rolebindings", {
        "apiVersion": RBAC, "kind": "RoleBinding", "metadata": {"name": "rb", "namespace": "falco"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
        "subjects": [{"kind": "Group", "name": "team", "apiGroup": "rbac.authorization.k8s.io"}],
    })  # fmt: skip
    _post(admin, "/apis/rbac.authorization.k8s.io/v1/clusterroles", {
        "apiVersion": RBAC, "kind": "ClusterRole", "metadata": {"name": "node-reader"},
        "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]}],
    })  # fmt: skip
    _post(admin, "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
        "apiVersion": RBAC, "kind": "ClusterRoleBinding", "metadata": {"name": "alice-nodes"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "node-reader"},
        "subjects": [{"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}],
    })  # fmt: skip
    policy = cluster.add_user("alice", ("team",))
    clients, path = _as(cluster, tmp_path, "alice")
    yield cluster, clients, path, policy
    clients.close()
    admin.close()


def _status(fn) -> int:
    try:
        fn()
    except KubeApiError as exc:
        return exc.code
    return 200


def test_resource_names_scope_and_subresources(rbac_cluster):
    _cluster, c, _path, policy = rbac_cluster
    get = lambda ns, name: _status(lambda: c.request("GET", f"/api/v1/namespaces/{ns}/configmaps/{name}"))  # noqa: E731
    assert get("falco", "allowed-cm") == 200
    assert get("falco", "other-cm") == 403  # resourceNames
    assert get("default", "allowed-cm") == 403  # a RoleBinding grants in its own namespace only
    assert _status(lambda: c.request("GET", "/api/v1/namespaces/falco/configmaps")) == 403  # list has no name
    assert _status(lambda: c.request("GET", "/api/v1/nodes")) == 200  # ClusterRoleBinding, by user name
    assert _status(lambda: c.request("GET", "/api/v1/nodes/sim-node-1")) == 403  # list only, not get
    # POST carries no name: a create rule with resourceNames never matches it.
    body = {"metadata": {"name": "allowed-cm2"}, "data": {}}
    assert _status(lambda: c.request("POST", "/api/v1/namespaces/falco/configmaps", body=body)) == 403
    denied = policy.denied()
    assert [(d.verb, d.resource, d.namespace, d.name) for d in denied] == [
        ("get", "configmaps", "falco", "other-cm"),
        ("get", "configmaps", "default", "allowed-cm"),
        ("list", "configmaps", "falco", ""),
        ("get", "nodes", "", "sim-node-1"),
        ("create", "configmaps", "falco", ""),
    ]


def test_server_side_apply_creating_needs_create(rbac_cluster):
    _cluster, c, _path, policy = rbac_cluster
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s1", "namespace": "falco"}}
    path = "/api/v1/namespaces/falco/secrets/s1"
    q = [("fieldManager", "t")]
    ct = "application/apply-patch+yaml"
    assert _status(lambda: c.request("PATCH", path, query=q, body=secret, content_type=ct)) == 200
    assert ("create", "secrets", "s1") in [(d.verb, d.resource, d.name) for d in policy.decisions]
    # configmaps: create only by name, no patch -> apply is refused before any create check.
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "allowed-cm", "namespace": "falco"}}
    code = _status(
        lambda: c.request(
            "PATCH", "/api/v1/namespaces/falco/configmaps/allowed-cm", query=q, body=cm, content_type=ct
        )
    )
    assert code == 403


def test_access_reviews_answer_like_the_authorizer(rbac_cluster):
    _cluster, c, _path, _policy = rbac_cluster
    assert c.can_i("get", "configmaps", "falco", name="allowed-cm")
    assert not c.can_i("get", "configmaps", "falco", name="other-cm")
    assert c.can_i("get", "pods", "falco", subresource="log")
    assert not c.can_i("get", "pods", "falco")
    assert not c.can_i("get", "pods", "default", subresource="log")
    assert c.can_i("list", "nodes")


def test_kubectl_sees_the_same_answers(rbac_cluster, kubectl):
    _cluster, _c, path, _policy = rbac_cluster

    def kc(*args: str):
        return kubectl(*args, kubeconfig=path)

    assert kc("auth", "can-i", "get", "pods", "--subresource=log", "-n", "falco").stdout.strip() == "yes"
    assert kc("auth", "can-i", "delete", "configmaps", "-n", "falco").stdout.strip() == "no"
    denied = kc("get", "configmaps", "-n", "falco")
    assert denied.returncode == 1
    assert 'User "alice" cannot list resource "configmaps"' in denied.stderr
    assert kc("get", "configmap", "allowed-cm", "-n", "falco", "-o", "name").stdout.strip() == (
        "configmap/allowed-cm"
    )
