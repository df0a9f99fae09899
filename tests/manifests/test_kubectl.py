"""The real kubectl (>= 1.30, found at run time) accepts the manifests: `kubectl apply --dry-run=client`.

kubectl needs API discovery to map kinds to resources even for a client-side dry run, and it GETs each
object to decide between create and patch. A tiny loopback server answers discovery for the kinds we ship
and 404 for every object; nothing is created. OpenAPI validation needs the server's schema, so it is off
(`--validate=false`); the models test covers the fields.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

RESOURCES = {
    "/api/v1": (
        "v1",
        [
            ("namespaces", "Namespace", False),
            ("serviceaccounts", "ServiceAccount", True),
            ("configmaps", "ConfigMap", True),
            ("secrets", "Secret", True),
            ("resourcequotas", "ResourceQuota", True),
        ],
    ),
    "/apis/apps/v1": ("apps/v1", [("daemonsets", "DaemonSet", True)]),
    "/apis/rbac.authorization.k8s.io/v1": (
        "rbac.authorization.k8s.io/v1",
        [("clusterroles", "ClusterRole", False), ("roles", "Role", True)],
    ),
    "/apis/networking.k8s.io/v1": ("networking.k8s.io/v1", [("networkpolicies", "NetworkPolicy", True)]),
}
GROUPS = ("apps", "rbac.authorization.k8s.io", "networking.k8s.io")


class _Discovery(BaseHTTPRequestHandler):
    seen: list[str]

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, code: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        self.seen.append(f"GET {path}")
        if path == "/version":
            return self._send(200, {"major": "1", "minor": "32", "gitVersion": "v1.32.0"})
        if path == "/api":
            return self._send(
                200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
            )
        if path == "/apis":
            groups = [
                {
                    "name": g,
                    "versions": [{"groupVersion": f"{g}/v1", "version": "v1"}],
                    "preferredVersion": {"groupVersion": f"{g}/v1", "version": "v1"},
                }
                for g in GROUPS
            ]
            return self._send(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
        if path in RESOURCES:
            group_version, resources = RESOURCES[path]
            listed = [
                {
                    "name": n,
                    "singularName": "",
                    "namespaced": ns,
                    "kind": k,
                    "verbs": ["create", "get", "patch"],
                }
                for n, k, ns in resources
            ]
            return self._send(
                200, {"kind": "APIResourceList", "groupVersion": group_version, "resources": listed}
            )
        return self._send(404, {"kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404})

    def do_POST(self) -> None:  # a client dry run must never write
        self.seen.append(f"POST {self.path}")
        self._send(500, {"kind": "Status", "status": "Failure", "code": 500})

    do_PATCH = do_PUT = do_DELETE = do_POST


@pytest.fixture
def api_server() -> Iterator[tuple[str, list[str]]]:
    seen: list[str] = []
    handler = type("Handler", (_Discovery,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def _kubectl(
    kubectl: str, server: str, tmp_path: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("")
    connection = [f"--server={server}", f"--kubeconfig={kubeconfig}", f"--cache-dir={tmp_path / 'cache'}"]
    return subprocess.run(
        [kubectl, "apply", "--dry-run=client", "--validate=false", "-o", "name", *args, *connection],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_kubectl_accepts_the_manifest_directory(api_server, tmp_path, manifest_dir, kubectl_path) -> None:
    server, seen = api_server
    result = _kubectl(kubectl_path, server, tmp_path, "-f", str(manifest_dir))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "namespace/falco",
        "serviceaccount/falco",
        "resourcequota/falco-critical-pods",
        "configmap/falco-config",
        "configmap/falco-rules",
        "networkpolicy.networking.k8s.io/falco",
        "daemonset.apps/falco",
        "role.rbac.authorization.k8s.io/falcotui-viewer",
        "clusterrole.rbac.authorization.k8s.io/falcotui-viewer-cluster",
        "role.rbac.authorization.k8s.io/falcotui-operator",
        "clusterrole.rbac.authorization.k8s.io/falcotui-operator-cluster",
    ]
    assert "GET /apis/apps/v1/namespaces/falco/daemonsets/falco" in seen
    assert not [s for s in seen if not s.startswith("GET ")]


def test_kubectl_accepts_the_rendered_grpc_profile(
    api_server, tmp_path, grpc_cli_output, kubectl_path
) -> None:
    server, seen = api_server
    result = _kubectl(kubectl_path, server, tmp_path, "-f", "-", stdin=grpc_cli_output)
    assert result.returncode == 0, result.stderr
    assert "daemonset.apps/falco" in result.stdout.split()
    assert not [o for o in result.stdout.split() if o.startswith("secret/")]  # never printed
    assert not [s for s in seen if not s.startswith("GET ")]
