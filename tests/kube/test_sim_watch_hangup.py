"""The simulated API server stays quiet when a watch client hangs up before it is answered."""

from __future__ import annotations

import json
import logging
import socket
import struct
import threading
import time

import pytest

from falcotui.sim.cluster import SimCluster

pytestmark = pytest.mark.timeout(60)


def hang_up_during_a_stall(cluster: SimCluster, path: str) -> None:
    """Send a GET and reset the connection while the server's loop is busy, so it answers a gone client."""
    host, port = cluster.url.split("//")[1].rsplit(":", 1)
    stalled, done = threading.Event(), threading.Event()

    def stall() -> None:
        stalled.set()
        done.wait(5)

    thread = threading.Thread(target=cluster.call, args=(stall,))
    thread.start()
    stalled.wait(5)
    try:
        with socket.create_connection((host, int(port))) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: sim\r\n\r\n".encode())
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = reset
        time.sleep(0.05)  # the reset reaches the server's socket before its loop runs again
    finally:
        done.set()
        thread.join(10)
    cluster.call(lambda: None)  # the loop has handled the connection


def test_watch_clients_that_hang_up_leave_no_server_traceback(sim: SimCluster, kube, caplog) -> None:
    sim.call(sim.store.expire_history)  # resourceVersion 1 is now too old: the answer is a 410 ERROR event
    expired = "/api/v1/namespaces/falco/pods?watch=true&resourceVersion=1"
    with caplog.at_level(logging.ERROR):
        hang_up_during_a_stall(sim, expired)
        hang_up_during_a_stall(sim, "/api/v1/namespaces/falco/pods?watch=true&timeoutSeconds=1")
    assert [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR] == []
    # a client that stays still gets the 410 as a watch event
    resp = kube.open_stream(expired.split("?")[0], query=[("watch", "true"), ("resourceVersion", "1")],
                            read_timeout=10)  # fmt: skip
    event = json.loads(resp.read().splitlines()[0])
    assert event["type"] == "ERROR" and event["object"]["code"] == 410
