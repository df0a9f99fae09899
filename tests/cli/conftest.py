"""Fixtures for the CLI tests: a simulated cluster running simulated Falcos (with Falco deployed), and a way
to run `falcotui <command>` as a real subprocess against it."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from simkit import logged_alerts, wait_until

from falcotui.falco.alerts import Alert
from falcotui.kube.client import KubeClients
from falcotui.kube.rollout import wait_rollout
from falcotui.sim.cluster import SimCluster

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
        return logged_alerts(self.clients)


@pytest.fixture
def cli_sim(deployed_falco, tmp_path: Path) -> Callable[..., FalcoSim]:
    """`cli_sim(scenario="flaky", per_minute=600, grpc=True, extra_nodes=[...])`: tests/conftest.py's
    `deployed_falco` with its rollout waited for, a kubeconfig file for the CLI and `sim.cli(...)`
    (`deploy=False`: nothing deployed yet)."""

    def make(*, deploy: bool = True, **kw: object) -> FalcoSim:
        cluster, clients = deployed_falco(deploy=deploy, **kw)
        sim = FalcoSim(cluster, clients, cluster.write_kubeconfig(tmp_path / f"kubeconfig-{id(cluster)}"))
        if deploy:
            asyncio.run(wait_rollout(clients, "falco", "falco", timeout=60))
        return sim

    return make


@pytest.fixture
def until() -> Callable[..., None]:
    """`until(pred, "what")`: poll until pred() holds; fails after a bound (not a timing assertion)."""
    return wait_until


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
