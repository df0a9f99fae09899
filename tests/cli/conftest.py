"""Fixtures for the CLI tests: a simulated cluster running simulated Falcos (with Falco deployed), and a way
to run `falcotui <command>` as a real subprocess against it."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from falcotui.falco.alerts import Alert, dedup_key, parse_json_alert
from falcotui.kube.apply import Applier
from falcotui.kube.config import KubeClients, Timeouts, load_clients
from falcotui.kube.logs import split_timestamp
from falcotui.kube.rollout import wait_rollout
from falcotui.ops import manifests
from falcotui.sim.cluster import SimCluster
from falcotui.sim.config import NodeSpec, SimConfig
from falcotui.sim.falco_process import FalcoRuntime
from falcotui.sim.falco_wiring import install
from falcotui.sim.scenarios import make_scenario

FAST = dict(
    image_pull_delay=0.01,
    container_start_delay=0.01,
    ready_delay=0.01,
    crash_backoff_base=0.05,
    crash_backoff_max=0.5,
    configmap_propagation_delay=0.05,
)

#: the real entry point (`falcotui` is `python -m falcotui`)
CLI = [sys.executable, "-m", "falcotui"]


class FalcoSim:
    """A running cluster, clients for it and its kubeconfig path."""

    def __init__(self, cluster: SimCluster, clients: KubeClients, kubeconfig: Path) -> None:
        self.cluster = cluster
        self.clients = clients
        self.kubeconfig = kubeconfig

    def cli(self, *args: str, timeout: float = 60, env: dict | None = None) -> subprocess.CompletedProcess:
        """Run `falcotui ARGS --kubeconfig ...` to completion."""
        return subprocess.run([*CLI, *args, "--kubeconfig", str(self.kubeconfig)], capture_output=True,
                              text=True, timeout=timeout, env=env)  # fmt: skip

    def popen(self, *args: str, **kwargs: object) -> subprocess.Popen:
        return subprocess.Popen([*CLI, *args, "--kubeconfig", str(self.kubeconfig)], **kwargs)  # type: ignore[call-overload]

    def alerts(self) -> dict[bytes, Alert]:
        """Every alert the Falco pods' logs hold now (crashed instances included), by dedup key."""
        found: dict[bytes, Alert] = {}
        for pod in self.clients.request("GET", "/api/v1/namespaces/falco/pods")["items"]:
            name, node = pod["metadata"]["name"], pod["spec"].get("nodeName")
            status = (pod.get("status", {}).get("containerStatuses") or [{}])[0]
            if not (status.get("state", {}).get("running") or status.get("restartCount")):
                continue
            lines = self._log(name, previous=True) if status.get("restartCount") else []
            for line in [*lines, *self._log(name)]:
                if line.startswith("{"):
                    alert = parse_json_alert(line, node=node, pod=name)
                    found[dedup_key(alert)] = alert
        return found

    def _log(self, pod: str, *, previous: bool = False) -> list[str]:
        query = [("timestamps", "true"), ("container", "falco")] + (
            [("previous", "true")] if previous else []
        )
        resp = self.clients.open_stream(
            f"/api/v1/namespaces/falco/pods/{pod}/log", query=query, read_timeout=10
        )
        try:
            body = resp.read()
        finally:
            resp.release_conn()
        return [p[1].decode() for raw in body.split(b"\n") if (p := split_timestamp(raw)) is not None]


@pytest.fixture
def falco_sim(tmp_path: Path) -> Iterator[Callable[..., FalcoSim]]:
    """`falco_sim(scenario="flaky", per_minute=600, grpc=True, extra_nodes=[...])`: Falco deployed and rolled
    out on a small cluster of simulated Falcos."""
    made: list[FalcoSim] = []

    def make(*, scenario: str = "quiet", seed: int = 1, nodes: int = 3, grpc: bool = False,
             extra_nodes: list[NodeSpec] | None = None, deploy: bool = True,
             **params: object) -> FalcoSim:  # fmt: skip
        runtime = FalcoRuntime(make_scenario(scenario, seed=seed, **params))  # type: ignore[arg-type]
        cluster = SimCluster(
            SimConfig(**FAST, nodes=nodes, extra_nodes=list(extra_nodes or [])),  # type: ignore[arg-type]
            bookmark_interval=0.2,
            runtime_for_image=runtime.runtime_for_image,
            on_start=[lambda c: install(c.server, c.store, c.controllers, runtime)],
        )
        cluster.start()
        path = cluster.write_kubeconfig(tmp_path / f"kubeconfig-{len(made)}")
        clients = load_clients(kubeconfig=path, environ={}, timeouts=Timeouts(connect=2, read=10))
        sim = FalcoSim(cluster, clients, path)
        made.append(sim)
        if deploy:
            Applier(clients).apply(manifests.render(grpc=grpc))
            asyncio.run(wait_rollout(clients, "falco", "falco", timeout=60))
        return sim

    yield make
    for sim in reversed(made):
        sim.clients.close()
        sim.cluster.stop()


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for: {what}")
        time.sleep(0.05)


@pytest.fixture
def until() -> Callable[..., None]:
    """`until(pred, "what")`: poll until pred() holds; fails after a bound (not a timing assertion)."""
    return wait_for


def cli_parser():
    """`falcotui`'s parser with status/alerts registered (whether or not the lead has wired them yet)."""
    import argparse

    from falcotui import cli
    from falcotui.cli import alerts_cmd, status_cmd

    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for module, name in ((status_cmd, "status"), (alerts_cmd, "alerts")):
        if name not in sub.choices:
            module.register(sub)
    return parser


@pytest.fixture
def run_cli(capfd: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """`code, out, err = run_cli(sim, "status", "--json")`: the command's handler in this process."""

    def run(sim: FalcoSim, *argv: str) -> tuple[int, str, str]:
        capfd.readouterr()
        try:
            args = cli_parser().parse_args([*argv, "--kubeconfig", str(sim.kubeconfig)])
            code = args.handler(args)
        except SystemExit as exc:  # argparse usage errors
            code = exc.code
        out, err = capfd.readouterr()
        return int(code or 0), out, err

    return run
