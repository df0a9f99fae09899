"""A failed request is tried once (no urllib3 retries, no warning per retry) and reads as a short reason."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from falcotui.kube.client import Timeouts, load_clients
from falcotui.kube.errors import KubeConnectionError, KubeError, short_reason


@pytest.fixture
def hanging_up_server() -> Iterator[tuple[str, list[int]]]:
    """Accepts each connection and closes it before answering; counts the connections."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.05)
    accepted = [0]
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            accepted[0] += 1
            conn.recv(65536)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", accepted
    stop.set()
    thread.join(5)
    listener.close()


def kubeconfig_for(path: Path, server: str) -> Path:
    path.write_text(
        yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "x",
            "clusters": [{"name": "c", "cluster": {"server": server}}],
            "users": [{"name": "u", "user": {"token": "t"}}],
            "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        })
    )  # fmt: skip
    return path


def test_a_request_the_server_drops_is_sent_once_without_retry_warnings(
    tmp_path: Path, hanging_up_server: tuple[str, list[int]], caplog: pytest.LogCaptureFixture
) -> None:
    url, accepted = hanging_up_server
    clients = load_clients(kubeconfig_for(tmp_path / "kc", url), environ={}, timeouts=Timeouts(2, 5))
    try:
        with caplog.at_level(logging.WARNING, logger="urllib3"), pytest.raises(KubeConnectionError):
            clients.request("GET", "/version")
        assert accepted[0] == 1
        with caplog.at_level(logging.WARNING, logger="urllib3"), pytest.raises(KubeConnectionError):
            clients.call(clients.core.list_namespaced_pod, "falco")
        assert accepted[0] == 2
    finally:
        clients.close()
    assert [r.getMessage() for r in caplog.records if r.name.startswith("urllib3")] == []


def test_a_refused_connection_reads_as_its_cause(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    clients = load_clients(kubeconfig_for(tmp_path / "kc", f"http://127.0.0.1:{port}"), environ={})
    try:
        with pytest.raises(KubeConnectionError) as err:
            clients.request("GET", "/version")
    finally:
        clients.close()
    assert err.value.short == "connection refused"
    assert short_reason(err.value) == "connection refused"
    assert "Max retries" in str(err.value)  # the full story stays in the message
    assert KubeError("pods is forbidden").short == "pods is forbidden"


def test_a_stream_released_before_its_end_does_not_spoil_the_next_request(sim, kube) -> None:
    """A watch left after its first event (an informer meeting a 410 ERROR event does that) must not hand
    its still-open connection, with more of the watch to come, to the next request."""
    resp = kube.open_stream(
        "/api/v1/namespaces",
        query=[("watch", "true"), ("allowWatchBookmarks", "true"), ("timeoutSeconds", 30)],
        read_timeout=10,
    )
    assert b'"ADDED"' in resp.read1(65536)
    resp.release_conn()
    for _ in range(3):  # the watch keeps writing bookmarks meanwhile
        assert "major" in kube.request("GET", "/version")
        time.sleep(0.3)
