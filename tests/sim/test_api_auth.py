"""TLS with a generated CA and bearer-token authentication, seen by kubectl and by raw HTTPS clients."""

from __future__ import annotations

import base64
import http.client
import json
import ssl
from urllib.parse import urlsplit

import pytest
import yaml

from falcotui.sim.cluster import SimCluster


@pytest.fixture
def tls_cluster(make_sim_cluster) -> SimCluster:
    return make_sim_cluster(nodes=2, tls=True)


def _https(cluster: SimCluster, path: str, token: str | None) -> tuple[int, dict]:
    u = urlsplit(cluster.url)
    ctx = ssl.create_default_context(cadata=cluster.ca_pem.decode())
    conn = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=10)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    conn.request("GET", path, headers=headers)
    resp = conn.getresponse()
    body = json.loads(resp.read())
    conn.close()
    return resp.status, body


def test_kubeconfig_carries_ca_and_token(tls_cluster):
    cfg = yaml.safe_load(tls_cluster.kubeconfig_path.read_text())
    assert cfg["current-context"] == "falcotui-sim"
    ctx = cfg["contexts"][0]["context"]
    assert ctx["namespace"] == "falco"
    cluster = cfg["clusters"][0]["cluster"]
    assert cluster["server"].startswith("https://127.0.0.1:")
    assert base64.b64decode(cluster["certificate-authority-data"]) == tls_cluster.ca_pem
    assert cfg["users"][0]["user"]["token"] == tls_cluster.token


def test_kubectl_works_over_tls_with_the_written_kubeconfig(kubectl, tls_cluster):
    out = kubectl("get", "nodes", "-o", "name", kubeconfig=tls_cluster.kubeconfig_path, check=True).stdout
    assert out.split() == ["node/sim-cp-1", "node/sim-node-01"]


def test_kubectl_with_a_wrong_token_is_unauthorized(kubectl, tls_cluster, tmp_path):
    cfg = yaml.safe_load(tls_cluster.kubeconfig_path.read_text())
    cfg["users"][0]["user"] = {"token": "not-the-token"}
    path = tmp_path / "wrong-token"
    path.write_text(yaml.safe_dump(cfg))
    proc = kubectl("get", "pods", kubeconfig=path)
    assert proc.returncode == 1
    assert "error: You must be logged in to the server" in proc.stderr


def test_missing_or_wrong_token_gets_a_401_status(tls_cluster):
    for token in (None, "wrong"):
        status, body = _https(tls_cluster, "/api/v1/namespaces", token)
        assert status == 401
        assert (body["kind"], body["status"], body["reason"], body["code"]) == (
            "Status",
            "Failure",
            "Unauthorized",
            401,
        )
    status, body = _https(tls_cluster, "/api/v1/namespaces", tls_cluster.token)
    assert status == 200 and body["kind"] == "NamespaceList"


def test_version_is_public(tls_cluster):
    status, body = _https(tls_cluster, "/version", None)
    assert status == 200 and (body["major"], body["minor"]) == ("1", "32")
    assert body["gitVersion"].startswith("v1.32.")


def test_plain_http_client_cannot_talk_to_the_tls_port(tls_cluster):
    u = urlsplit(tls_cluster.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        conn.request("GET", "/version")
        conn.getresponse().read()
    conn.close()
