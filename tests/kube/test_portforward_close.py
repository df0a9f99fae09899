"""Closing a port-forward listener while connections are live: they end cleanly, nothing is logged."""

from __future__ import annotations

import asyncio
import socketserver
import threading
from collections.abc import Iterator

import pytest

from falcotui.kube.apply import Applier
from falcotui.kube.portforward import PortForwarder
from falcotui.kube.rollout import wait_rollout
from falcotui.sim.cluster import SimCluster
from falcotui.sim.config import SimConfig
from falcotui.sim.nodes.portforward import make_portforward_handler


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)


@pytest.fixture
def echo_cluster() -> Iterator[SimCluster]:
    echo = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    echo.daemon_threads = True
    threading.Thread(target=echo.serve_forever, daemon=True).start()
    target = echo.server_address[:2]
    cluster = SimCluster(
        SimConfig(nodes=1, image_pull_delay=0.01, container_start_delay=0.01, ready_delay=0.01),
        on_start=[
            lambda c: c.server.add_pod_subresource(
                "portforward", make_portforward_handler(c.store, lambda ns, pod, port: target)
            )
        ],
    )
    cluster.start()
    yield cluster
    cluster.stop()
    echo.shutdown()
    echo.server_close()


async def test_close_cuts_live_connections_without_an_unhandled_error(
    echo_cluster, connect, manifests
) -> None:
    kube = connect(echo_cluster)
    Applier(kube).apply(manifests)
    pod = (await wait_rollout(kube, "falco", "falco", timeout=30)).nodes[0].pod
    loop = asyncio.get_running_loop()
    reported: list[dict] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        pf = PortForwarder(kube, "falco", pod, 5060)
        host, port = await pf.start()
        streams = [await asyncio.open_connection(host, port) for _ in range(2)]
        for reader, writer in streams:
            writer.write(b"ping")
            await writer.drain()
            assert await asyncio.wait_for(reader.readexactly(4), 20) == b"ping"
        assert pf.active_connections == 2
        await pf.close()
        assert pf.active_connections == 0
        for reader, writer in streams:
            assert await asyncio.wait_for(reader.read(), 20) == b""  # the client sees the end
            writer.close()
        for _ in range(5):  # let done-callbacks of the finished connections run
            await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(previous)
    assert [c.get("message") for c in reported] == []
    assert pf.errors == []
