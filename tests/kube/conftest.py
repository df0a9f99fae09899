"""Fixtures for the kube layer: a simulated cluster over real HTTP and `KubeClients` pointed at it."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable
from pathlib import Path

import pytest
from simkit import eventually as simkit_eventually
from simkit import falco_runtime

from falcotui.kube.apply import load_manifests
from falcotui.kube.client import KubeClients, Timeouts, load_clients
from falcotui.sim.cluster import SimCluster
from falcotui.sim.config import SimConfig


@pytest.fixture
def make_sim(make_sim_cluster: Callable[..., SimCluster]) -> Callable[..., SimCluster]:
    """`make_sim(nodes=3, tls=True, policy=Policy.read_only())`: a running cluster, fast timings, bookmarks
    every 0.2 s."""

    def make(*, bookmark_interval: float = 0.2, **kw: object) -> SimCluster:
        return make_sim_cluster(bookmark_interval=bookmark_interval, **kw)

    return make


@pytest.fixture
def make_falco_sim(make_sim_cluster: Callable[..., SimCluster]) -> Callable[..., SimCluster]:
    """A cluster whose Falco pods run the simulated Falco (logs, exec, port-forward):
    `make_falco_sim(scenario="flaky", per_minute=600, cut_every=0.3, nodes=3)`."""

    def make(*, scenario: str = "quiet", seed: int = 1, bookmark_interval: float = 0.2, **params: object):
        config = {k: params.pop(k) for k in list(params) if k in SimConfig.__dataclass_fields__}
        runtime = falco_runtime(scenario, seed=seed, **params)
        return make_sim_cluster(runtime=runtime, bookmark_interval=bookmark_interval, **config)

    return make


@pytest.fixture
def sim(make_sim: Callable[..., SimCluster]) -> SimCluster:
    return make_sim()


@pytest.fixture
def connect(clients_for: Callable[[SimCluster], KubeClients]) -> Callable[[SimCluster], KubeClients]:
    """`connect(cluster)`: KubeClients through the cluster's kubeconfig file (tests/conftest.py)."""
    return clients_for


@pytest.fixture
def kube(sim: SimCluster, connect: Callable[[SimCluster], KubeClients]) -> KubeClients:
    return connect(sim)


@pytest.fixture
def manifests(repo_root: Path) -> list[dict]:
    return load_manifests(p.read_text() for p in sorted((repo_root / "manifests").glob("*.yaml")))


@pytest.fixture
def eventually() -> Callable:
    """`await eventually(predicate, "what", timeout=60)`: simkit's wait, with the kube tests' longer bound."""
    return functools.partial(simkit_eventually, timeout=60.0)


class FreezingProxy:
    """A loopback TCP proxy whose `freeze()` makes every open connection go silent (no bytes, no close)."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.frozen: set[asyncio.Task] = set()
        self.tasks: set[asyncio.Task] = set()
        self.connections = 0

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    def freeze(self) -> None:
        self.frozen |= self.tasks

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, task_set: set) -> None:
        me = asyncio.current_task()
        task_set.add(me)
        self.tasks.add(me)
        try:
            while data := await src.read(65536):
                if me in self.frozen:
                    await asyncio.Event().wait()  # swallow everything from now on, never close
                dst.write(data)
                await dst.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.tasks.discard(me)
            dst.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        both: set = set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(self._pipe(reader, up_writer, both), self._pipe(up_reader, writer, both))

    async def close(self) -> None:
        self.server.close()
        for t in list(self.tasks):
            t.cancel()


@pytest.fixture
async def via_proxy(tmp_path: Path):
    """`proxy, clients = await via_proxy(cluster)`: KubeClients that reach the cluster via a FreezingProxy."""
    made: list[tuple[FreezingProxy, KubeClients]] = []

    async def make(cluster: SimCluster, read_timeout: float = 5.0) -> tuple[FreezingProxy, KubeClients]:
        proxy = FreezingProxy(int(cluster.url.rsplit(":", 1)[1]))
        port = await proxy.start()
        cfg = cluster.write_kubeconfig(tmp_path / f"kc-proxy-{len(made)}")
        cfg.write_text(cfg.read_text().replace(cluster.url, f"http://127.0.0.1:{port}"))
        clients = load_clients(kubeconfig=cfg, environ={}, timeouts=Timeouts(connect=2, read=read_timeout))
        made.append((proxy, clients))
        return proxy, clients

    yield make
    for proxy, clients in made:
        clients.close()
        await proxy.close()
