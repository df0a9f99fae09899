"""Shared helpers for the deployer/rules tests: a simulated cluster whose Falco pods run the simulated Falco.

Test modules load this file by path (tests are not packages under --import-mode=importlib) and re-export
the fixtures: `falco_cluster(nodes=2)` starts a cluster with fast kubelet timings and returns it with a
kubeconfig path; `clients_for(cluster)` gives KubeClients.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from falcotui.kube.config import KubeClients, Timeouts, load_clients
from falcotui.sim.cluster import SimCluster
from falcotui.sim.config import SimConfig
from falcotui.sim.falco_process import FalcoRuntime
from falcotui.sim.falco_wiring import install
from falcotui.sim.scenarios import make_scenario

FAST = dict(
    image_pull_delay=0.01,
    container_start_delay=0.01,
    ready_delay=0.01,
    crash_backoff_base=0.05,
    crash_backoff_max=0.5,
    configmap_propagation_delay=0.1,
)


@dataclass
class FalcoSim:
    cluster: SimCluster
    kubeconfig: Path
    runtime: FalcoRuntime


@pytest.fixture
def falco_sim(tmp_path: Path) -> Iterator[Callable[..., FalcoSim]]:
    """`falco_sim(nodes=2, per_minute=600)`: a started cluster running the simulated Falco."""
    started: list[SimCluster] = []

    def make(*, nodes: int = 2, per_minute: float = 600.0, seed: int = 1, **config: object) -> FalcoSim:
        runtime = FalcoRuntime(make_scenario("quiet", seed=seed, per_minute=per_minute))
        cluster = SimCluster(
            SimConfig(**{**FAST, "nodes": nodes, "control_plane_nodes": 0, **config}),  # type: ignore[arg-type]
            bookmark_interval=0.2,
            runtime_for_image=runtime.runtime_for_image,
            on_start=[lambda c: install(c.server, c.store, c.controllers, runtime)],
        )
        cluster.start()
        started.append(cluster)
        path = cluster.write_kubeconfig(tmp_path / f"kubeconfig-{len(started)}")
        return FalcoSim(cluster, path, runtime)

    yield make
    for cluster in reversed(started):
        cluster.stop()


@pytest.fixture
def clients_for() -> Iterator[Callable[[FalcoSim], KubeClients]]:
    made: list[KubeClients] = []

    def make(sim: FalcoSim) -> KubeClients:
        clients = load_clients(sim.kubeconfig, environ={}, timeouts=Timeouts(connect=2, read=10))
        made.append(clients)
        return clients

    yield make
    for c in made:
        c.close()


MODIFIER_RULE = """
- rule: Shell from a known prefix
  desc: uses the string-operator modifiers of Falco 0.44+
  condition: spawned_process and proc.name startswith oneof (ba, zs)
  output: shell (cmd=%proc.cmdline)
  priority: WARNING
"""
"""A rule only Falco 0.44+ loads (libs 0.25 modifiers); 0.43.1 refuses it at `(ba`."""


def set_falco_image_tag(clients: KubeClients, pod: str, tag: str, namespace: str = "falco") -> None:
    """Make one Falco pod name another Falco version (a Pod's container image is a mutable field)."""
    path = f"/api/v1/namespaces/{namespace}/pods/{pod}"
    body = clients.request("GET", path)
    for container in body["spec"]["containers"]:
        if container["name"] == "falco":
            container["image"] = f"docker.io/falcosecurity/falco:{tag}"
    clients.request("PUT", path, body=body)


NETCAT_RULE = """
- rule: Netcat started in container
  desc: nc or ncat started in a container
  condition: spawned_process and container and proc.name in (nc, ncat)
  output: Netcat started (cmd=%proc.cmdline container=%container.name)
  priority: WARNING
"""
"""A rule every Falco version loads."""


def falco_pods(clients: KubeClients, namespace: str = "falco") -> list[dict]:
    items = clients.request("GET", f"/api/v1/namespaces/{namespace}/pods")["items"]
    return [p for p in items if p["metadata"]["name"].startswith("falco")]


def run_two_falco_versions(
    clients: KubeClients, old: str = "0.43.1", timeout: float = 60.0
) -> dict[str, dict]:
    """Falco `old` on one node beside the pinned version on the others, as Kubernetes gets there: the
    DaemonSet switched to `OnDelete` with the older image, then one pod deleted (its replacement takes the
    new template, the others keep theirs). Returns one running pod per version (blocking: call it from a
    thread inside an event loop)."""
    from falcotui.ops.rules_incluster import pods_per_version

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
