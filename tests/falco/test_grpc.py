"""Falco's gRPC output end to end: the async client against the Falco-semantics server, over TCP with mTLS."""

from __future__ import annotations

import asyncio
import dataclasses
import socket

import grpc
import pytest
from grpc import aio

from falcotui.falco.alerts import Priority, dedup_key, parse_json_alert
from falcotui.falco.certs import generate_grpc_certs
from falcotui.falco.grpc import outputs_pb2, outputs_pb2_grpc
from falcotui.ops.channels.grpc_client import (
    NO_GRPC_MESSAGE,
    ClientState,
    FalcoGrpcClient,
    FalcoGrpcError,
    GrpcTls,
)
from falcotui.sim.falco.grpc import FalcoGrpcServer

pytestmark = pytest.mark.timeout(60)

FAST = {"poll_interval": 0.05, "backoff_initial": 0.05, "backoff_max": 0.3, "call_timeout": 3.0}


@pytest.fixture(scope="module")
def certs():
    return generate_grpc_certs(("localhost", "127.0.0.1"))


@pytest.fixture
async def server(certs):
    srv = FalcoGrpcServer(
        version="0.43.1", ca_crt=certs.ca_crt, server_crt=certs.server_crt, server_key=certs.server_key
    )
    await srv.start()
    yield srv
    await srv.stop(None)


@pytest.fixture
def sample_alerts(shared_data):
    lines = (shared_data / "falco_stdout_sample.log").read_bytes().splitlines()
    return [parse_json_alert(line, node="node-a", pod="falco-1") for line in lines if line.startswith(b"{")]


def client_for(server, certs, **kw) -> FalcoGrpcClient:
    opts = {**FAST, "credentials": GrpcTls.from_certs(certs), "node": "node-a", "pod": "falco-1"} | kw
    return FalcoGrpcClient(f"127.0.0.1:{server.port}", **opts)


class Collector:
    """Runs client.subscribe() in a task and records alerts and every state change."""

    def __init__(self, client: FalcoGrpcClient) -> None:
        self.client = client
        self.alerts = []
        self.states = []
        client.on_state = lambda status: self.states.append(status.state)
        self._arrived = asyncio.Event()
        self.task = asyncio.create_task(self._run())

    async def _run(self):
        async for alert in self.client.subscribe():
            self.alerts.append(alert)
            self._arrived.set()

    async def wait_for(self, count: int, timeout: float = 10) -> None:
        async with asyncio.timeout(timeout):
            while len(self.alerts) < count:
                self._arrived.clear()
                await self._arrived.wait()

    async def close(self) -> None:
        await self.client.stop()
        await asyncio.wait_for(self.task, 5)


async def test_version_over_mutual_tls(server, certs):
    v = await client_for(server, certs).version()
    assert (v.version, v.major, v.minor, v.patch, v.prerelease, v.build) == ("0.43.1", 0, 43, 1, "", "")
    assert v.engine_version == f"{v.engine_major}.{v.engine_minor}.{v.engine_patch}"
    assert len(v.engine_fields_checksum) == 64


async def test_subscribe_receives_published_alerts_equal_to_their_log_lines(server, certs, sample_alerts):
    for alert in sample_alerts:
        server.publish(alert)
    c = Collector(client_for(server, certs))
    await c.wait_for(len(sample_alerts))
    await c.close()
    assert c.states[:2] == [ClientState.CONNECTING, ClientState.STREAMING]
    assert c.states[-1] is ClientState.STOPPED and c.client.status.state is ClientState.STOPPED
    for got, logged in zip(c.alerts, sample_alerts, strict=True):
        assert (got.rule, got.time_ns, got.priority, got.output) == (
            logged.rule,
            logged.time_ns,
            logged.priority,
            logged.output,
        )
        assert (got.hostname, got.source, got.tags) == (logged.hostname, logged.source, logged.tags)
        assert (got.node, got.pod, got.channel) == ("node-a", "falco-1", "grpc")
        assert got.output_fields == {k: str(v) for k, v in logged.output_fields.items()}
        assert dedup_key(got) == dedup_key(logged)  # the same alert seen via logs and via gRPC
    assert server.queued == 0


async def test_two_subscribers_split_the_queue_without_duplicates_or_loss(server, certs, sample_alerts):
    template = sample_alerts[1]
    published = []
    a = Collector(client_for(server, certs))
    b = Collector(client_for(server, certs))
    await a.client.wait_for_state(ClientState.STREAMING, timeout=5)
    await b.client.wait_for_state(ClientState.STREAMING, timeout=5)
    for i in range(300):
        alert = parse_json_alert(
            f'{{"rule":"{template.rule}","priority":"Warning","time":"2026-11-26T10:00:00.{i:09d}Z",'
            f'"hostname":"node-a","output":"n={i}","source":"syscall"}}'
        )
        server.publish(alert)
        published.append(alert)
        if i % 10 == 9:
            await asyncio.sleep(0.01)
    async with asyncio.timeout(10):
        while len(a.alerts) + len(b.alerts) < len(published):
            await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)  # nothing more may arrive
    await a.close()
    await b.close()
    received = [x.output for x in a.alerts + b.alerts]
    assert len(received) == len(published) == len(set(received))
    assert set(received) == {x.output for x in published}
    assert a.alerts and b.alerts  # each alert went to exactly one of the two


async def test_get_drains_the_queue_and_ends(server, certs, sample_alerts):
    for alert in sample_alerts:
        server.publish(alert)
    tls = GrpcTls.from_certs(certs)
    async with aio.secure_channel(f"127.0.0.1:{server.port}", tls.channel_credentials()) as channel:
        stub = outputs_pb2_grpc.serviceStub(channel)
        first = [r async for r in stub.get(outputs_pb2.request(), timeout=5)]
        second = [r async for r in stub.get(outputs_pb2.request(), timeout=5)]
    assert [r.rule for r in first] == [a.rule for a in sample_alerts]
    assert second == []


async def test_server_restart_client_reconnects_and_continues(server, certs, sample_alerts):
    c = Collector(client_for(server, certs))
    server.publish(sample_alerts[0])
    await c.wait_for(1)
    await server.restart()  # what a hot reload does to Falco's gRPC server
    server.publish(sample_alerts[1])
    server.publish(sample_alerts[2])
    await c.wait_for(3)
    await c.close()
    assert [a.rule for a in c.alerts] == [a.rule for a in sample_alerts]
    assert ClientState.UNAVAILABLE in c.states
    after_drop = c.states[c.states.index(ClientState.UNAVAILABLE) :]
    assert ClientState.CONNECTING in after_drop and ClientState.STREAMING in after_drop


async def test_server_down_for_a_while_then_back(server, certs, sample_alerts):
    c = Collector(client_for(server, certs))
    await c.client.wait_for_state(ClientState.STREAMING, timeout=5)
    mark = len(c.states)
    await server.stop()
    async with asyncio.timeout(10):  # several refused reconnects: it once answered, so it keeps trying
        while c.states[mark:].count(ClientState.UNAVAILABLE) < 3:
            await asyncio.sleep(0.02)
    assert c.client.status.state in (ClientState.UNAVAILABLE, ClientState.CONNECTING)
    assert "connect" in c.client.status.reason.lower() or c.client.status.state is ClientState.CONNECTING
    await server.start()
    server.publish(sample_alerts[0])
    await c.wait_for(1)
    await c.close()


async def test_missing_client_certificate_is_a_clear_terminal_error(server, certs):
    client = client_for(server, certs, credentials=GrpcTls(certs.ca_crt))
    with pytest.raises(FalcoGrpcError) as err:
        await client.version()
    assert err.value.state is ClientState.FAILED
    assert "no client certificate configured" in str(err.value)
    alerts = [a async for a in client.subscribe()]  # ends instead of retrying forever
    assert alerts == []
    assert client.status.state is ClientState.FAILED
    assert "TLS handshake failed: no client certificate" in client.status.reason


async def test_certificate_from_another_ca_and_wrong_name_are_clear_errors(server, certs):
    other = generate_grpc_certs(("localhost",))
    foreign_ca = client_for(
        server, certs, credentials=GrpcTls(other.ca_crt, certs.client_crt, certs.client_key)
    )
    with pytest.raises(FalcoGrpcError, match="not signed by the configured CA") as err:
        await foreign_ca.version()
    assert err.value.state is ClientState.FAILED
    wrong_name = GrpcTls(certs.ca_crt, certs.client_crt, certs.client_key, server_name="falco.example")
    with pytest.raises(FalcoGrpcError, match="not valid for this name"):
        await client_for(server, certs, credentials=wrong_name).version()


async def test_server_name_override_for_port_forwarded_targets():
    named = generate_grpc_certs(("falco-grpc.falco.svc",))
    srv = FalcoGrpcServer(ca_crt=named.ca_crt, server_crt=named.server_crt, server_key=named.server_key)
    await srv.start()
    try:
        tls = GrpcTls.from_certs(named, server_name="falco-grpc.falco.svc")
        assert (await FalcoGrpcClient(f"127.0.0.1:{srv.port}", credentials=tls).version()).minor == 43
    finally:
        await srv.stop(None)


async def test_a_server_without_falcos_api_means_no_grpc_output(certs):
    bare = aio.server()  # speaks gRPC (and mTLS) but implements nothing, like a non-Falco endpoint
    creds = grpc.ssl_server_credentials([(certs.server_key, certs.server_crt)], certs.ca_crt, True)
    port = bare.add_secure_port("127.0.0.1:0", creds)
    await bare.start()
    try:
        client = FalcoGrpcClient(f"127.0.0.1:{port}", credentials=GrpcTls.from_certs(certs), **FAST)
        with pytest.raises(FalcoGrpcError) as err:
            await client.version()
        assert err.value.state is ClientState.NO_GRPC and NO_GRPC_MESSAGE in str(err.value)
        assert [a async for a in client.subscribe()] == []
        assert client.status.state is ClientState.NO_GRPC
    finally:
        await bare.stop(None)


async def test_nothing_ever_listening_ends_as_no_grpc_instead_of_retrying_forever(certs):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: connections are refused
    client = FalcoGrpcClient(
        f"127.0.0.1:{port}", credentials=GrpcTls.from_certs(certs), **FAST | {"max_initial_attempts": 3}
    )
    states = []
    client.on_state = lambda st: states.append(st)
    assert [a async for a in client.subscribe()] == []
    assert client.status.state is ClientState.NO_GRPC
    assert NO_GRPC_MESSAGE in client.status.reason and "3 attempts" in client.status.reason
    retries = [st for st in states if st.state is ClientState.UNAVAILABLE]
    assert [st.attempt for st in retries] == [1, 2]
    assert all(0 < st.retry_in <= 0.3 for st in retries)


async def test_a_falco_version_without_grpc_is_known_before_connecting(certs):
    client = FalcoGrpcClient("127.0.0.1:1", credentials=GrpcTls.from_certs(certs), falco_version="0.45.0")
    assert [a async for a in client.subscribe()] == []
    assert client.status.state is ClientState.NO_GRPC
    assert client.status.reason == f"{NO_GRPC_MESSAGE} (this pod runs Falco 0.45.0)"


async def test_invalid_messages_are_skipped_and_counted(server, certs, sample_alerts):
    broken = parse_json_alert(b'{"rule":"x","priority":"Debug","time":"2026-11-26T10:00:00Z"}')
    broken.priority = 9  # not a Falco priority: what a buggy server might send
    server.publish(broken)
    server.publish(sample_alerts[0])
    c = Collector(client_for(server, certs))
    await c.wait_for(1)
    await c.close()
    assert [a.rule for a in c.alerts] == [sample_alerts[0].rule]
    assert c.client.bad_messages == 1
    assert c.alerts[0].priority is Priority.CRITICAL


async def test_leaving_the_iteration_early_stops_the_client(server, certs, sample_alerts):
    for alert in sample_alerts:
        server.publish(alert)
    client = client_for(server, certs)
    stream = client.subscribe()
    async for alert in stream:
        assert alert.rule == sample_alerts[0].rule
        break
    await stream.aclose()
    assert client.status.state is ClientState.STOPPED


async def test_json_output_document_in_the_output_field_is_the_same_alert_as_its_log_line(
    server, certs, shared_data
):
    """Falco 0.43.1 with `json_output: true` sends the whole JSON document as `output` (outputs_grpc.cpp
    copies msg->msg; formats.cpp returns event.dump()): the client reads it like the log line."""
    lines = [ln for ln in (shared_data / "falco_stdout_sample.log").read_text().splitlines() if ln[:1] == "{"]
    logged = [parse_json_alert(line, node="node-a", pod="falco-1") for line in lines]
    for line, alert in zip(lines, logged, strict=True):
        server.publish(dataclasses.replace(alert, output=line))  # what Falco's gRPC output carries
    c = Collector(client_for(server, certs))
    await c.wait_for(len(logged))
    await c.close()
    for got, log_copy in zip(c.alerts, logged, strict=True):
        assert got.channel == "grpc" and (got.node, got.pod) == ("node-a", "falco-1")
        assert got.output == log_copy.output and not got.output.startswith("{")
        assert got.output_fields == log_copy.output_fields  # typed, as in the JSON document
        assert dedup_key(got) == dedup_key(log_copy)
