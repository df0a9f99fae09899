"""The gRPC client through a port-forward-like relay: a pod port that is not listening shows as a socket
closed during the TLS handshake, transient once the server has answered, a clear failure before."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from falcotui.falco.alerts import parse_json_alert
from falcotui.falco.certs import generate_grpc_certs
from falcotui.ops.channels.grpc_client import ClientState, FalcoGrpcClient, GrpcTls
from falcotui.sim.falco.grpc import FalcoGrpcServer

pytestmark = pytest.mark.timeout(60)

FAST = {"poll_interval": 0.05, "backoff_initial": 0.05, "backoff_max": 0.2, "call_timeout": 3.0}


class Relay:
    """Accepts every TCP connection and bridges it to `port`; when nothing listens there, closes it
    right away — what a kubectl-style port-forward does when the pod's port is closed."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cut = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError:
            self.cut += 1
            writer.close()
            return

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        except asyncio.CancelledError:
            writer.close()
            up_writer.close()


@pytest.fixture(scope="module")
def certs():
    return generate_grpc_certs(("localhost", "127.0.0.1"))


@pytest.fixture
def alert(shared_data):
    lines = (shared_data / "falco_stdout_sample.log").read_bytes().splitlines()
    return next(
        parse_json_alert(line, node="node-a", pod="falco-1") for line in lines if line.startswith(b"{")
    )


async def test_pod_port_closed_after_a_first_answer_is_retried_until_the_server_is_back(certs, alert):
    server = FalcoGrpcServer.with_certs(certs)
    port = await server.start()
    relay = Relay(port)
    relay_port = await relay.start()
    tls = GrpcTls.from_certs(certs, server_name="localhost")
    client = FalcoGrpcClient(f"127.0.0.1:{relay_port}", credentials=tls, node="node-a", pod="falco-1", **FAST)
    reasons: list[tuple[ClientState, str]] = []
    client.on_state = lambda status: reasons.append((status.state, status.reason))
    received = []

    async def consume() -> None:
        async for a in client.subscribe():
            received.append(a)

    task = asyncio.create_task(consume())
    try:
        await client.wait_for_state(ClientState.STREAMING, timeout=10)
        server.publish(alert)
        async with asyncio.timeout(10):
            while not received:
                await asyncio.sleep(0.02)
        await server.stop(None)  # the pod restarts: its port is closed, the port-forward still accepts
        async with asyncio.timeout(10):
            while relay.cut < 3:  # several reconnection attempts hit the closed port
                await asyncio.sleep(0.02)
        assert client.status.state in (ClientState.UNAVAILABLE, ClientState.CONNECTING)
        await server.start()  # back on the same port
        server.publish(alert)
        async with asyncio.timeout(15):
            while len(received) < 2:
                await asyncio.sleep(0.02)
        assert client.status.state is ClientState.STREAMING
        down = [reason for state, reason in reasons if state is ClientState.UNAVAILABLE]
        assert any("socket closed during the handshake" in r for r in down), down
        assert ClientState.FAILED not in {state for state, _ in reasons}
    finally:
        await client.stop()
        await asyncio.wait_for(task, 5)
        await relay.stop()
        await server.stop(None)


async def test_pod_port_closed_before_any_answer_stays_a_clear_failure(certs):
    server = FalcoGrpcServer.with_certs(certs)
    port = await server.start()
    await server.stop(None)  # nothing ever answers behind the forward
    relay = Relay(port)
    relay_port = await relay.start()
    try:
        for tls in (
            GrpcTls.from_certs(certs, server_name="localhost"),
            GrpcTls(certs.ca_crt, server_name="localhost"),
        ):
            client = FalcoGrpcClient(f"127.0.0.1:{relay_port}", credentials=tls, **FAST)
            async for _ in client.subscribe():
                pass
            assert client.status.state is ClientState.FAILED
            assert "TLS handshake failed" in client.status.reason
        assert "no client certificate configured" in client.status.reason
    finally:
        await relay.stop()
