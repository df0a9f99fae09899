"""Kubeconfig loading the way kubectl merges files: KUBECONFIG with several paths, contexts, namespaces."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest
import urllib3
import yaml

from falcotui.kube.client import Timeouts, list_contexts, load_clients
from falcotui.kube.errors import KubeConfigError, KubeConnectionError


def write_kubeconfig(path: Path, current: str | None, contexts: dict[str, tuple[str, str | None]]) -> Path:
    """contexts: name -> (server URL, namespace)."""
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": f"c-{n}", "cluster": {"server": url}} for n, (url, _) in contexts.items()],
        "users": [{"name": f"u-{n}", "user": {"token": f"token-{n}"}} for n in contexts],
        "contexts": [
            {
                "name": n,
                "context": {"cluster": f"c-{n}", "user": f"u-{n}", **({"namespace": ns} if ns else {})},
            }
            for n, (_, ns) in contexts.items()
        ],
    }
    if current:
        doc["current-context"] = current
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.fixture
def two_files(tmp_path: Path) -> dict[str, str]:
    a = write_kubeconfig(tmp_path / "a.yaml", "alpha", {"alpha": ("http://127.0.0.1:1001", "team-a")})
    b = write_kubeconfig(
        tmp_path / "b.yaml",
        "beta",
        {"beta": ("http://127.0.0.1:1002", None), "alpha": ("http://127.0.0.1:9999", "shadowed")},
    )
    return {"KUBECONFIG": os.pathsep.join([str(a), str(tmp_path / "missing.yaml"), str(b)])}


def test_kubeconfig_env_merges_files_first_one_wins(two_files: dict[str, str]) -> None:
    contexts, current = list_contexts(environ=two_files)
    assert current == "alpha"  # the first file that sets current-context
    assert {c.name for c in contexts} == {"alpha", "beta"}
    alpha = next(c for c in contexts if c.name == "alpha")
    assert alpha.namespace == "team-a"  # the first definition of a name wins

    clients = load_clients(environ=two_files)
    try:
        assert clients.context == "alpha"
        assert clients.host == "http://127.0.0.1:1001"
        assert clients.namespace == "team-a"
    finally:
        clients.close()


def test_context_flag_selects_cluster_credentials_and_default_namespace(two_files: dict[str, str]) -> None:
    clients = load_clients(context="beta", environ=two_files)
    try:
        assert clients.host == "http://127.0.0.1:1002"
        assert clients.namespace == "default"
        assert clients.api_client.configuration.api_key["BearerToken"].endswith("token-beta")
    finally:
        clients.close()


def test_unknown_context_names_the_known_ones(two_files: dict[str, str]) -> None:
    with pytest.raises(KubeConfigError, match=r"context 'gamma' not found.*alpha, beta"):
        load_clients(context="gamma", environ=two_files)


def test_explicit_kubeconfig_must_exist(tmp_path: Path) -> None:
    with pytest.raises(KubeConfigError, match="does not exist"):
        load_clients(kubeconfig=tmp_path / "nope.yaml", environ={})


def test_no_kubeconfig_and_not_in_cluster_is_a_clear_error(tmp_path: Path) -> None:
    env = {"KUBECONFIG": str(tmp_path / "absent.yaml")}
    with pytest.raises(KubeConfigError, match="not running inside a cluster"):
        load_clients(environ=env)


def test_broken_kubeconfig_yaml_is_our_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("clusters: [unclosed\n")
    with pytest.raises(KubeConfigError, match="cannot read kubeconfig"):
        load_clients(kubeconfig=bad, environ={})


def test_typed_calls_give_up_on_a_silent_server(tmp_path: Path) -> None:
    """A server that accepts and never answers: the typed API raises instead of hanging forever."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept_and_hold() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept_and_hold, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    path = write_kubeconfig(tmp_path / "k.yaml", "s", {"s": (f"http://127.0.0.1:{port}", None)})
    clients = load_clients(kubeconfig=path, environ={}, timeouts=Timeouts(connect=1, read=0.3))
    try:
        with pytest.raises(urllib3.exceptions.HTTPError):
            clients.core.list_node()
        with pytest.raises(KubeConnectionError, match="cannot reach the API server"):
            clients.request("GET", "/api/v1/nodes")
        assert held, "the client did connect"
    finally:
        stop.set()
        thread.join()
        clients.close()
        for s in held:
            s.close()
        listener.close()
