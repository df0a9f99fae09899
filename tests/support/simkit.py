"""The simulated cluster for tests, on the demo's fast timings (`falcotui.cli.demo.FAST_TIMINGS`): how a
cluster is configured, started (optionally running the simulated Falco) and connected to, the rules the
rules tests push, and the polling waits every area uses.

The fixtures that own the lifecycles (`make_sim_cluster`, `falco_sim`, `clients_for`) are in
`tests/conftest.py`; test modules import the rest as `from simkit import ...` (pyproject puts
`tests/support` on `sys.path`: tests are not packages under `--import-mode=importlib`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from falcotui.cli.demo import FAST_TIMINGS
from falcotui.falco.alerts import Alert, dedup_key, parse_json_alert
from falcotui.kube.client import KubeClients, Timeouts, load_clients
from falcotui.kube.logs import split_timestamp
from falcotui.sim.cluster import SimCluster
from falcotui.sim.config import SimConfig
from falcotui.sim.falco.runtime import FalcoRuntime
from falcotui.sim.falco.wiring import install
from falcotui.sim.scenarios import make_scenario

__all__ = [
    "FAST_TIMINGS",
    "MODIFIER_RULE",
    "NEW_RULE",
    "TEST_TIMEOUTS",
    "FalcoSim",
    "connect",
    "eventually",
    "falco_pods",
    "falco_runtime",
    "fast_config",
    "logged_alerts",
    "new_sim_cluster",
    "pod_log",
    "run_two_falco_versions",
    "set_falco_image_tag",
    "wait_until",
]

#: what test clients allow the simulated API server (a loaded machine answers slowly, never this slowly)
TEST_TIMEOUTS = Timeouts(connect=2, read=10)

NEW_RULE = """
- rule: Netcat started in container
  desc: nc or ncat started in a container
  condition: spawned_process and container and proc.name in (nc, ncat)
  output: Netcat started (cmd=%proc.cmdline container=%container.name)
  priority: WARNING
  tags: [container, network]
"""
"""A rule every Falco version loads: what the rules tests push."""

MODIFIER_RULE = """
- rule: Shell from a known prefix
  desc: uses the string-operator modifiers of Falco 0.44+
  condition: spawned_process and proc.name startswith oneof (ba, zs)
  output: shell (cmd=%proc.cmdline)
  priority: WARNING
"""
"""A rule only Falco 0.44+ loads (libs 0.25 modifiers); 0.43.1 refuses it at `(ba`."""


def fast_config(**overrides: Any) -> SimConfig:
    """A `SimConfig` on the demo's fast timings, with `overrides` (any SimConfig field)."""
    return SimConfig(**{**FAST_TIMINGS, **overrides})


def falco_runtime(scenario: str = "quiet", *, seed: int = 1, **params: Any) -> FalcoRuntime:
    """The simulated Falco every `falcosecurity/falco` container of a cluster runs; alerts per `scenario`."""
    return FalcoRuntime(make_scenario(scenario, seed=seed, **params))


def new_sim_cluster(
    *,
    runtime: FalcoRuntime | None = None,
    bookmark_interval: float = 5.0,
    policy: Any = None,
    runtime_for_image: Callable[[str], Any] | None = None,
    **config: Any,
) -> SimCluster:
    """A started cluster on fast timings; with `runtime`, its Falco pods run that simulated Falco (logs,
    exec, port-forward and gRPC wired in). The caller stops it (the fixtures do)."""
    on_start = []
    if runtime is not None:
        runtime_for_image = runtime.runtime_for_image
        on_start.append(lambda c: install(c.server, c.store, c.controllers, runtime))
    cluster = SimCluster(
        fast_config(**config),
        bookmark_interval=bookmark_interval,
        policy=policy,
        runtime_for_image=runtime_for_image,
        on_start=on_start,
    )
    return cluster.start()


def connect(kubeconfig: Path) -> KubeClients:
    """falcotui's clients through a kubeconfig file, with the test timeouts and no proxy environment."""
    return load_clients(kubeconfig=kubeconfig, environ={}, timeouts=TEST_TIMEOUTS)


@dataclass
class FalcoSim:
    """A running cluster whose Falco pods run `runtime`, and the kubeconfig file that reaches it."""

    cluster: SimCluster
    kubeconfig: Path
    runtime: FalcoRuntime


def set_falco_image_tag(clients: KubeClients, pod: str, tag: str, namespace: str = "falco") -> None:
    """Make one Falco pod name another Falco version (a Pod's container image is a mutable field)."""
    path = f"/api/v1/namespaces/{namespace}/pods/{pod}"
    body = clients.request("GET", path)
    for container in body["spec"]["containers"]:
        if container["name"] == "falco":
            container["image"] = f"docker.io/falcosecurity/falco:{tag}"
    clients.request("PUT", path, body=body)


def falco_pods(clients: KubeClients, namespace: str = "falco") -> list[dict]:
    """The Falco DaemonSet's pods, as the API server lists them now."""
    items = clients.request("GET", f"/api/v1/namespaces/{namespace}/pods")["items"]
    return [p for p in items if p["metadata"]["name"].startswith("falco")]


def run_two_falco_versions(
    clients: KubeClients, old: str = "0.43.1", timeout: float = 60.0
) -> dict[str, dict]:
    """Falco `old` on one node beside the pinned version on the others, as Kubernetes gets there: the
    DaemonSet switched to `OnDelete` with the older image, then one pod deleted (its replacement takes the
    new template, the others keep theirs). Returns one running pod per version (blocking: call it from a
    thread inside an event loop)."""
    from falcotui.ops.rules.incluster import pods_per_version

    path = "/apis/apps/v1/namespaces/falco/daemonsets/falco"
    ds = clients.request("GET", path)
    ds["spec"]["updateStrategy"] = {"type": "OnDelete"}
    for c in ds["spec"]["template"]["spec"]["containers"]:
        if c["name"] == "falco":
            pinned = c["image"].rsplit(":", 1)[1]
            c["image"] = f"docker.io/falcosecurity/falco:{old}"
    clients.request("PUT", path, body=ds)
    victim = sorted(p["metadata"]["name"] for p in falco_pods(clients))[0]
    clients.request("DELETE", f"/api/v1/namespaces/falco/pods/{victim}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        chosen, _ = pods_per_version(falco_pods(clients))
        if set(chosen) == {old, pinned}:
            return chosen
        time.sleep(0.1)
    raise AssertionError(f"Falco {old} and {pinned} never ran side by side")


def pod_log(clients: KubeClients, pod: str, *, previous: bool = False) -> list[tuple[int, str]]:
    """(kubelet timestamp, line) of the Falco container's log (`previous`: the crashed instance's)."""
    query = [("timestamps", "true"), ("container", "falco")] + ([("previous", "true")] if previous else [])
    # a bound on a hang, not a speed: at 1,000 nodes under load the simulator answered a log after more
    # than 10 s (test_throttle_storm_sim, load 9: the whole read of every pod's log took minutes)
    resp = clients.open_stream(f"/api/v1/namespaces/falco/pods/{pod}/log", query=query, read_timeout=60)
    try:
        body = resp.read()
    finally:
        resp.release_conn()
    return [(p[0], p[1].decode()) for raw in body.split(b"\n") if (p := split_timestamp(raw)) is not None]


def logged_alerts(clients: KubeClients) -> dict[bytes, Alert]:
    """The ground truth: every alert the Falco pods' logs hold now (crashed instances' logs included), by
    dedup key."""
    found: dict[bytes, Alert] = {}
    for pod in clients.request("GET", "/api/v1/namespaces/falco/pods")["items"]:
        name, node = pod["metadata"]["name"], pod["spec"].get("nodeName")
        status = (pod.get("status", {}).get("containerStatuses") or [{}])[0]
        logs = pod_log(clients, name, previous=True) if status.get("restartCount") else []
        if status.get("state", {}).get("running") or status.get("restartCount"):
            logs += pod_log(clients, name)
        for _ts, line in logs:
            if line.startswith("{"):
                alert = parse_json_alert(line, node=node, pod=name)
                found[dedup_key(alert)] = alert
    return found


async def eventually(predicate: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    """Let the loop run until `predicate()` holds; fails the test after `timeout` (a bound, not a timing)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for: {what}")
        await asyncio.sleep(0.05)


def wait_until(predicate: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    """`eventually` for synchronous tests: polls until `predicate()` holds, fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for: {what}")
        time.sleep(0.05)
