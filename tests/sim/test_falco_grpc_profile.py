"""The 0.43.1 gRPC profile of the simulated Falco, reached directly over TCP with mutual TLS."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest
from grpc import aio

from falcotui.falco.grpc import version_pb2, version_pb2_grpc
from falcotui.sim.falco.process import FalcoContainer
from falcotui.sim.falco.runtime import FalcoRuntime
from falcotui.sim.nodes.runtime import ContainerContext, ContainerLog
from falcotui.sim.scenarios import make_scenario

EXTRA_RULE = """\
- rule: Extra rule after reload
  desc: added by a reload
  condition: evt.type = execve and proc.name = nmap
  output: nmap ran (cmd=%proc.cmdline)
  priority: NOTICE
"""


def falco_files(grpc, **extra: str) -> dict[str, str]:
    """The gRPC profile's falco.yaml and certificates from the `falco_grpc` fixture, plus `extra` files."""
    certs = grpc.certs
    return {
        "/etc/falco-config/falco.yaml": grpc.falco_yaml(),
        "/etc/falco/certs/ca.crt": certs.ca_crt.decode(),
        "/etc/falco/certs/server.crt": certs.server_crt.decode(),
        "/etc/falco/certs/server.key": certs.server_key.decode(),
        **extra,
    }


async def until(predicate, timeout: float = 30.0) -> bool:
    """Poll until `predicate()` holds; a generous bound (a loaded 2-core box boots Falco slowly)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def start_falco(
    rt: FalcoRuntime, files: dict[str, str], *, args: list[str] | None = None
) -> FalcoContainer:
    ctx = ContainerContext("falco", "falco-grpc", "uid", "node-1", "127.0.0.2", "falco",
                           "falcosecurity/falco:0.43.1",
                           args or ["/usr/bin/falco", "-U", "-c", "/etc/falco-config/falco.yaml"],
                           {"FALCO_HOSTNAME": "node-1"}, files, False, 0, ContainerLog())  # fmt: skip
    handle = await rt.start(ctx)
    await until(lambda: handle.ready() or handle.ctx.log.closed)
    return handle


@pytest.fixture
def runtime() -> FalcoRuntime:
    return FalcoRuntime(make_scenario("storm", rate=200, seed=11), tick=0.02)


async def test_grpc_server_starts_with_falcos_log_lines_and_answers_version(runtime, falco_grpc) -> None:
    handle = await start_falco(runtime, falco_files(falco_grpc))
    texts = [r.text.split(": ", 1)[1] for r in handle.ctx.log.records() if r.stream == "stderr"]
    assert texts[-3:] == [
        "gRPC server threadiness equals to 2",
        "Starting gRPC server at 0.0.0.0:5060",
        "Starting health webserver with threadiness 2, listening on 0.0.0.0:8765",
    ]
    host, port = runtime.port_target("falco", "falco-grpc", 5060)
    assert host == "127.0.0.1" and port != 5060
    async with falco_grpc.channel(f"{host}:{port}") as ch:
        v = await version_pb2_grpc.serviceStub(ch).version(version_pb2.request(), timeout=30)
    assert (v.version, v.major, v.minor, v.patch) == ("0.43.1", 0, 43, 1)
    await handle.stop()


async def test_subscribers_split_alerts_and_see_the_same_ones_as_stdout(runtime, falco_grpc) -> None:
    handle = await start_falco(runtime, falco_files(falco_grpc))
    host, port = runtime.port_target("falco", "falco-grpc", 5060)
    a, b, stop = [], [], asyncio.Event()
    async with falco_grpc.channel(f"{host}:{port}") as ch1, falco_grpc.channel(f"{host}:{port}") as ch2:
        tasks = [
            asyncio.create_task(falco_grpc.subscribe(ch1, a, stop)),
            asyncio.create_task(falco_grpc.subscribe(ch2, b, stop)),
        ]
        await until(lambda: len(a) >= 20 and len(b) >= 20)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
    key = lambda r: (r.time.seconds, r.time.nanos, r.rule, r.output)  # noqa: E731
    ka, kb = {key(r) for r in a}, {key(r) for r in b}
    assert len(a) >= 20 and len(b) >= 20
    assert not ka & kb  # one queue: each alert reached exactly one subscriber
    stdout_outputs = {r.text for r in handle.ctx.log.records() if r.stream == "stdout"}
    for r in a[:5]:
        assert r.hostname == "node-1" and r.source == "syscall" and "evt.time" in r.output_fields
        # json_output: true, so `output` is the whole JSON document, the very line on stdout
        # (falco 0.43.1 outputs_grpc.cpp: `*output = msg->msg`, the formatted message every output gets)
        assert r.output in stdout_outputs and r.output.startswith("{")
    await handle.stop()


async def test_client_without_certificate_fails_the_handshake(runtime, falco_grpc) -> None:
    handle = await start_falco(runtime, falco_files(falco_grpc))
    host, port = runtime.port_target("falco", "falco-grpc", 5060)
    async with falco_grpc.channel(f"{host}:{port}", client_cert=False) as ch:
        with pytest.raises(aio.AioRpcError) as err:
            await version_pb2_grpc.serviceStub(ch).version(version_pb2.request(), timeout=30)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    await handle.stop()


async def test_reload_ends_the_stream_and_a_new_subscription_works(runtime, falco_grpc) -> None:
    handle = await start_falco(runtime, falco_files(falco_grpc))
    host, port = runtime.port_target("falco", "falco-grpc", 5060)
    got, stop = [], asyncio.Event()
    async with falco_grpc.channel(f"{host}:{port}") as ch:
        task = asyncio.create_task(falco_grpc.subscribe(ch, got, stop))
        await until(lambda: got or task.done())
        assert got, "no alert reached the subscriber"
        assert not task.done(), f"the stream ended before the reload: {task.result()}"
        handle.files_changed(falco_files(falco_grpc, **{"/etc/falco/rules.d/extra.yaml": EXTRA_RULE}))
        ended = await asyncio.wait_for(task, 30)
        stop.set()
    assert ended in ("UNAVAILABLE", "CANCELLED", "INTERNAL", "END")
    assert handle.reloads == 1
    await until(handle.ready)  # a client reconnects once Falco is back
    host2, port2 = runtime.port_target("falco", "falco-grpc", 5060)
    assert (host2, port2) == (host, port)  # the restarted server listens where the old one did
    again, stop2 = [], asyncio.Event()
    async with falco_grpc.channel(f"{host2}:{port2}") as ch:
        task = asyncio.create_task(falco_grpc.subscribe(ch, again, stop2))
        await until(lambda: len(again) >= 5 or task.done())
        stop2.set()
        await asyncio.wait_for(task, 30)
    assert len(again) >= 5
    await handle.stop()


async def test_missing_tls_files_stop_falco_at_start(runtime, falco_grpc) -> None:
    files = falco_files(falco_grpc)
    del files["/etc/falco/certs/server.key"]
    handle = await start_falco(runtime, files)
    assert await asyncio.wait_for(handle.wait(), 30) == 1
    assert any(r.text.startswith("Error: gRPC server: could not read") for r in handle.ctx.log.records())


async def test_flaky_scenario_cuts_grpc_streams_without_a_reload(falco_grpc) -> None:
    rt = FalcoRuntime(make_scenario("flaky", seed=3, cut_every=0.3, per_minute=3000), tick=0.02)
    handle = await start_falco(rt, falco_files(falco_grpc))
    host, port = rt.port_target("falco", "falco-grpc", 5060)
    got, stop = [], asyncio.Event()
    async with falco_grpc.channel(f"{host}:{port}") as ch:
        ended = await asyncio.wait_for(falco_grpc.subscribe(ch, got, stop), 20)
        stop.set()
    assert ended in ("UNAVAILABLE", "CANCELLED", "INTERNAL", "END")
    assert handle.reloads == 0 and handle.cut_generation >= 1 and handle.ready()
    assert rt.port_target("falco", "falco-grpc", 5060) == (host, port)  # same port after the cut
    await handle.stop()
