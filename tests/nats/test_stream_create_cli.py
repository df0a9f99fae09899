"""The JetStream stream is created only with the operator's yes, as a user meets it (`falcotui alerts` in a
subprocess, the real nats-server with JetStream and no stream yet): missing → said plainly, naming
--create-stream; declined on a terminal → nothing created; no terminal without --yes, or --read-only →
refused; confirmed → exactly the configuration shown, and alerts then flow once each; a stream that exists
with other subjects → explained, never changed."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import orjson
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType

from .conftest import numbered, publish, stream_configs

CLI = [sys.executable, "-m", "falcotui", "alerts"]
WEEK_S, TEN_GIB = 7 * 86_400, 10 * 1024**3


def _run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *argv], capture_output=True, timeout=90, stdin=subprocess.DEVNULL)


class Asked:
    """`falcotui alerts ARGV` with a terminal on stdin (a pty), stdout and stderr piped."""

    def __init__(self, proc: asyncio.subprocess.Process, master: int) -> None:
        self.proc, self.master, self.err = proc, master, b""

    @classmethod
    async def start(cls, *argv: str) -> Asked:
        master, slave = os.openpty()
        proc = await asyncio.create_subprocess_exec(
            *CLI, *argv, stdin=slave, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        os.close(slave)
        return cls(proc, master)

    async def stderr_until(self, needle: bytes) -> None:
        async with asyncio.timeout(60):
            while needle not in self.err:
                chunk = await self.proc.stderr.read(4096)
                assert chunk, f"stderr ended without {needle!r}: {self.err.decode()}"
                self.err += chunk

    async def answer(self, text: bytes) -> None:
        await self.stderr_until(b"[y/N] ")
        os.write(self.master, text)

    async def finish(self) -> tuple[int, bytes]:
        async with asyncio.timeout(60):
            out, rest = await self.proc.communicate()
        os.close(self.master)
        self.err += rest
        return self.proc.returncode, out


async def test_missing_stream_is_said_and_names_the_option(bare_nats_server):
    done = await asyncio.to_thread(_run, "--from", bare_nats_server.url)
    assert done.returncode == 1, done.stderr
    err = done.stderr.decode()
    assert "no JetStream stream captures falco.>" in err and "Pass --create-stream" in err, err
    done = await asyncio.to_thread(_run, "--from", bare_nats_server.url, "--stream", "ALERTS", "-f")
    assert done.returncode == 1 and "no JetStream stream named ALERTS" in done.stderr.decode()
    assert await stream_configs(bare_nats_server.url) == {}


async def test_declined_on_a_terminal_creates_nothing(bare_nats_server):
    asked = await Asked.start("--from", bare_nats_server.url, "--create-stream")
    await asked.answer(b"n\n")
    code, out = await asked.finish()
    err = asked.err.decode()
    assert code == 1 and "stream FALCO not created" in err, err
    for shown in ("name       FALCO", "subjects   falco.>", "retention  limits", "storage    file",
                  "max age    7d", "max bytes  10 GiB", "discard    old", "replicas   1",
                  "same as: nats stream add FALCO --subjects 'falco.>'"):  # fmt: skip
        assert shown in err, err
    assert out == b""
    assert await stream_configs(bare_nats_server.url) == {}


async def test_refused_without_a_terminal_or_read_only(bare_nats_server):
    url = bare_nats_server.url
    done = await asyncio.to_thread(_run, "--from", url, "--create-stream")
    assert done.returncode == 2 and b"refusing without --yes (stdin is not a terminal)" in done.stderr
    done = await asyncio.to_thread(_run, "--from", url, "--create-stream", "--yes", "--read-only")
    assert done.returncode == 2 and b"--read-only: --create-stream would create" in done.stderr
    done = await asyncio.to_thread(_run, "--from", url, "--yes")
    assert done.returncode == 2 and b"only with --create-stream" in done.stderr
    assert await stream_configs(url) == {}


async def test_confirmed_creates_exactly_that_stream_and_alerts_flow(bare_nats_server, sample_alerts):
    url = bare_nats_server.url
    asked = await Asked.start("--from", url, "--create-stream", "--json", "-f")
    await asked.answer(b"y\n")
    await asked.stderr_until(b"created stream FALCO (falco.>)")
    (name, config), *others = (await stream_configs(url)).items()
    assert name == "FALCO" and others == []
    assert config.subjects == ["falco.>"]
    assert (config.retention, config.storage, config.discard) == (
        RetentionPolicy.LIMITS, StorageType.FILE, DiscardPolicy.OLD,
    )  # fmt: skip
    assert (config.max_age, config.max_bytes, config.num_replicas) == (WEEK_S, TEN_GIB, 1)
    alerts = list(numbered(sample_alerts, 500, node="ip-10-0-3-3"))
    await publish(url, alerts, customfields={"cluster": "prod-eu"})
    got: list[int] = []
    try:
        async with asyncio.timeout(60):
            while len(got) < 500:
                line = await asked.proc.stdout.readline()
                assert line, asked.err.decode()
                got.append(orjson.loads(line)["output_fields"]["evt.time"])
    finally:
        os.kill(asked.proc.pid, signal.SIGINT)
    code, rest = await asked.finish()
    assert rest == b"" and code == 130
    assert got == [a.time_ns for a in alerts]  # 500 of 500, each once, in order


async def test_chosen_limits_and_names_with_yes(bare_nats_server, sample_alerts):
    url = bare_nats_server.url
    argv = ["--from", url, "--stream", "PROD_EU", "--subject", "falco.prod-eu.>", "--create-stream",
            "--yes", "--stream-max-age", "36h", "--stream-max-bytes", "500M", "--json"]  # fmt: skip
    done = await asyncio.to_thread(_run, *argv)
    assert done.returncode == 0, done.stderr
    assert b"max age    36h" in done.stderr and b"max bytes  500 MiB" in done.stderr
    config = (await stream_configs(url))["PROD_EU"]
    assert config.subjects == ["falco.prod-eu.>"]
    assert (config.max_age, config.max_bytes, config.num_replicas) == (36 * 3600, 500 * 1024**2, 1)
    alerts = list(numbered(sample_alerts, 40))
    await publish(url, alerts, template="falco.prod-eu.<priority>.<rule>")
    done = await asyncio.to_thread(_run, "--from", url, "--stream", "PROD_EU", "--subject", "falco.prod-eu.>",
                                   "--json", "--create-stream", "--yes")  # fmt: skip
    assert done.returncode == 0 and b"stream PROD_EU already captures falco.prod-eu.>: nothing to create" in (
        done.stderr
    )
    assert [orjson.loads(x)["output_fields"]["evt.time"] for x in done.stdout.splitlines()] == [
        a.time_ns for a in alerts
    ]


async def test_a_stream_with_other_subjects_is_explained_not_changed(bare_nats_server):
    import nats

    url = bare_nats_server.url
    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_stream(name="FALCO", subjects=["audit.>"])
    before = await stream_configs(url)
    done = await asyncio.to_thread(_run, "--from", url, "--stream", "FALCO", "--create-stream", "--yes")
    err = done.stderr.decode()
    assert done.returncode == 1, err
    assert "stream FALCO exists but captures audit.>, not falco.>" in err, err
    assert "falcotui does not change an existing stream" in err
    # no stream captures falco.>, but the name FALCO is taken: the server refuses, we say why
    done = await asyncio.to_thread(_run, "--from", url, "--create-stream", "--yes")
    err = done.stderr.decode()
    assert done.returncode == 1, err
    assert "a stream named FALCO exists with another configuration (unchanged)" in err, err
    assert await stream_configs(url) == before
    await js.add_stream(name="CRIT", subjects=["falco.critical.>"])
    await nc.close()
    before = await stream_configs(url)
    # found by its subject: CRIT collides with falco.> but does not capture all of it
    done = await asyncio.to_thread(_run, "--from", url, "--create-stream", "--yes")
    err = done.stderr.decode()
    assert done.returncode == 1, err
    assert "stream CRIT exists but captures falco.critical.>, not falco.>" in err, err
    assert await stream_configs(url) == before  # nothing created, nothing changed
