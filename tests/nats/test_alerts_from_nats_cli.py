"""`falcotui alerts --from nats://…` as a user runs it (a subprocess, the real nats-server, no cluster):
the stream's alerts once each, `--since` from the stream, `-f` through a server restart, options checked."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import orjson

from .conftest import STREAM, NatsServer, numbered, publish

CLI = [sys.executable, "-m", "falcotui", "alerts"]


def _run(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, *argv],
        capture_output=True,
        timeout=90,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )


async def test_reads_the_stream_once_and_exits(nats_server, sample_alerts):
    alerts = list(numbered(sample_alerts, 400, node="ip-10-0-1-7"))
    await publish(nats_server.url, alerts, customfields={"cluster": "prod-eu"})
    done = await asyncio.to_thread(_run, "--from", nats_server.url, "--json")
    assert done.returncode == 0, done.stderr
    lines = [orjson.loads(x) for x in done.stdout.splitlines()]
    assert [x["output_fields"]["evt.time"] for x in lines] == [a.time_ns for a in alerts]
    assert {x["channel"] for x in lines} == {"nats"} and {x["node"] for x in lines} == {"ip-10-0-1-7"}
    assert {x["output_fields"]["cluster"] for x in lines} == {"prod-eu"}
    assert "uuid" not in lines[0]


async def test_options_are_checked():
    done = await asyncio.to_thread(_run, "--from", "http://x:1")
    assert done.returncode == 2 and b"not a nats:// URL" in done.stderr
    done = await asyncio.to_thread(_run, "--creds", "x.creds")
    assert done.returncode == 2 and b"only with --from" in done.stderr
    done = await asyncio.to_thread(_run, "--from", "nats://127.0.0.1:1", "--cluster-from", "subject:x")
    assert done.returncode == 2 and b"N counts tokens from 1" in done.stderr


async def test_follow_through_a_server_restart(nats_server, sample_alerts):
    alerts = list(numbered(sample_alerts, 3000))
    await publish(nats_server.url, alerts[:1000])
    proc = await asyncio.create_subprocess_exec(
        *CLI, "--from", nats_server.url, "--json", "-f",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    got: list[int] = []

    async def read(n: int) -> None:
        while len(got) < n:
            line = await proc.stdout.readline()
            assert line, (await proc.stderr.read()).decode()
            got.append(orjson.loads(line)["output_fields"]["evt.time"])

    try:
        async with asyncio.timeout(90):
            await read(1000)
            nats_server.kill()
            nats_server.start()
            await nats_server.wait_ready()
            await publish(nats_server.url, alerts[1000:])
            await read(3000)
    finally:
        os.kill(proc.pid, signal.SIGINT)
        await proc.wait()
    assert got == [a.time_ns for a in alerts]  # 0 lost, 0 twice, in order


async def test_credentials_from_the_nats_clis_environment_variables(tmp_path, sample_alerts):
    """A server that wants a user and password: $NATS_USER/$NATS_PASSWORD (as the nats CLI reads them) are
    enough, so the password need not be on the command line where `ps` shows it; a typed --password wins
    over the environment; a wrong one is said at once (exit 1), not retried."""
    import nats

    server = NatsServer(tmp_path / "js", auth=("falcotui", "s3cret-pass"))
    server.start()
    try:
        await server.wait_ready()
        url = f"nats://falcotui:s3cret-pass@127.0.0.1:{server.port}"
        nc = await nats.connect(url)
        await nc.jetstream().add_stream(name=STREAM, subjects=["falco.>"])
        await nc.close()
        alerts = list(numbered(sample_alerts, 30))
        await publish(url, alerts)
        good = {"NATS_USER": "falcotui", "NATS_PASSWORD": "s3cret-pass"}
        done = await asyncio.to_thread(_run, "--from", server.url, "--json", env=good)
        assert done.returncode == 0, done.stderr
        assert len(done.stdout.splitlines()) == len(alerts)
        bad = {**good, "NATS_PASSWORD": "wrong"}
        done = await asyncio.to_thread(_run, "--from", server.url, "--json", env=bad)
        assert done.returncode == 1 and done.stdout == b"", done.stderr
        assert b"Authorization Violation" in done.stderr and b"refused the credentials" in done.stderr
        assert done.stderr.count(b"\n") == 1  # said once, at once: no retrying what the server refused
        done = await asyncio.to_thread(
            _run, "--from", server.url, "--json", "--password", "s3cret-pass", env=bad
        )
        assert done.returncode == 0 and len(done.stdout.splitlines()) == len(alerts), done.stderr
    finally:
        server.kill()
