"""`falcotui status --from nats://…` reports Falcosidekick's stream beside the fleet, and exits 1 when the
NATS server cannot be reached (the simulated cluster and the real nats-server, as a user runs it)."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import orjson

from ..ops.test_engine_sim import falco_cluster  # noqa: F401 - a fixture
from .conftest import free_port, numbered, publish, stream_configs


def _status(kubeconfig, *argv: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "falcotui", "status", "--kubeconfig", str(kubeconfig), *argv]
    return subprocess.run(cmd, capture_output=True, timeout=90, stdin=subprocess.DEVNULL)


async def test_status_reports_the_stream(falco_cluster, nats_server, sample_alerts, tmp_path):  # noqa: F811
    cluster, _ = falco_cluster(nodes=1)
    kubeconfig = cluster.write_kubeconfig(tmp_path / "status-kubeconfig")
    await publish(nats_server.url, numbered(sample_alerts, 25))
    done = await asyncio.to_thread(_status, kubeconfig, "--from", nats_server.url)
    assert done.returncode == 0, done.stderr
    assert (
        f"NATS {nats_server.url}: stream FALCO (falco.>): 25 alerts kept (seq 1-25), newest"
        in done.stdout.decode()
    )
    done = await asyncio.to_thread(_status, kubeconfig, "--from", nats_server.url, "--json")
    doc = orjson.loads(done.stdout)["nats"]
    assert (doc["connected"], doc["stream"], doc["messages"], doc["last_seq"]) == (True, "FALCO", 25, 25)
    gone = f"nats://127.0.0.1:{free_port()}"
    done = await asyncio.to_thread(_status, kubeconfig, "--from", gone)
    assert done.returncode == 1 and f"NATS {gone}: not reachable" in done.stdout.decode()


async def test_status_says_the_stream_is_missing_and_creates_it_when_told(
    falco_cluster,  # noqa: F811
    bare_nats_server,
    tmp_path,
):
    cluster, _ = falco_cluster(nodes=1)
    kubeconfig = cluster.write_kubeconfig(tmp_path / "status-kubeconfig")
    url = bare_nats_server.url
    done = await asyncio.to_thread(_status, kubeconfig, "--from", url)
    assert done.returncode == 1, done.stderr
    said = f"NATS {url}: no JetStream stream captures falco.>: alerts are not being kept (--create-stream"
    assert said in done.stdout.decode()
    assert await stream_configs(url) == {}
    done = await asyncio.to_thread(_status, kubeconfig, "--from", url, "--create-stream", "--yes", "--json")
    assert done.returncode == 0, done.stderr
    assert b"created stream FALCO (falco.>)" in done.stderr
    doc = orjson.loads(done.stdout)["nats"]
    assert (doc["connected"], doc["stream"], doc["subjects"], doc["messages"], doc["missing"]) == (
        True, "FALCO", ["falco.>"], 0, None,
    )  # fmt: skip
    assert list(await stream_configs(url)) == ["FALCO"]
