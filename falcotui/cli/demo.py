"""The demo wiring: a simulated cluster running the simulated Falco, Falco deployed into it through the
Deployer, and `Services` for the app — the same code path as a real cluster, only the API is on loopback.

`DemoCluster(nodes=8, scenario="incident", seed=7)` starts the cluster in a background thread (its own
event loop), deploys the manifests and hands out a kubeconfig; `stop()` ends it. One extra node carries a
taint Falco does not tolerate, so the Fleet screen shows a node without Falco and why; one runs Ubuntu's
default kernel.perf_event_paranoid=4, where the least-privilege Falco crash-loops (falcosecurity/charts#921);
one has its container runtime's socket where the DaemonSet does not mount it, so its alerts lack container
and pod names (those two with `problem_nodes=True`, as `falcotui --demo` does). The Fleet screen and node
detail explain both.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from falcotui.kube.client import KubeClients, Timeouts, load_clients
from falcotui.ops.deploy.deployer import Deployer
from falcotui.sim.cluster import SimCluster
from falcotui.sim.config import NodeSpec, SimConfig
from falcotui.sim.controllers.workload_objects import seed_workloads
from falcotui.sim.falco.runtime import FalcoRuntime
from falcotui.sim.falco.wiring import install
from falcotui.sim.scenarios import SCENARIOS, make_scenario

__all__ = ["DEMO_TIMINGS", "FAST_TIMINGS", "SCENARIOS", "DemoCluster"]

#: Realistic order of events, short enough to watch: pulls, starts and a rules change reaching the pods.
DEMO_TIMINGS = dict(
    image_pull_delay=0.8,
    container_start_delay=0.4,
    ready_delay=0.6,
    crash_backoff_base=1.0,
    crash_backoff_max=10.0,
    configmap_propagation_delay=4.0,
)
#: For tests: everything at once.
FAST_TIMINGS = dict(
    image_pull_delay=0.01,
    container_start_delay=0.01,
    ready_delay=0.01,
    crash_backoff_base=0.05,
    crash_backoff_max=0.5,
    configmap_propagation_delay=0.1,
)
GPU_TAINT = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}


@dataclass
class DemoCluster:
    """See the module docstring."""

    nodes: int = 8
    scenario: str = "incident"
    seed: int = 7
    storm_rate: float = 100.0
    per_minute: float | None = None  # quiet alerts per node and minute (None: the scenario's default)
    # the scenario's own parameters in full (falcotui.sim.scenarios.make_scenario), instead of the two above
    scenario_params: dict | None = None
    timings: dict = field(default_factory=lambda: dict(DEMO_TIMINGS))
    tainted_node: bool = True
    # the perf_event_paranoid=4 node and the node without a reachable socket (`falcotui --demo`, screenshots)
    problem_nodes: bool = False
    # the workloads the simulated Falcos report exist as pods (owned by ReplicaSets): response actions work
    workloads: bool = False
    cluster: SimCluster | None = None
    runtime: FalcoRuntime | None = None
    kubeconfig: Path | None = None

    def _scenario(self, name: str):
        if self.scenario_params is not None:
            return make_scenario(name, seed=self.seed, **self.scenario_params)
        params = {} if self.per_minute is None else {"per_minute": self.per_minute}
        return make_scenario(name, seed=self.seed, rate=self.storm_rate, **params)

    def start(self, *, deploy: bool = True) -> DemoCluster:
        """Start the cluster (raises ScenarioError for an unknown scenario) and, by default, deploy Falco."""
        self.runtime = FalcoRuntime(self._scenario(self.scenario))
        runtime = self.runtime
        extra = (
            [NodeSpec("gpu-node-1", labels={"gpu": "true"}, taints=[GPU_TAINT])] if self.tainted_node else []
        )
        if self.problem_nodes:
            extra += [
                NodeSpec("ubuntu-node-1", perf_event_paranoid=4),
                # cri-dockerd's socket: not a default of the container plugin, not mounted by the DaemonSet
                NodeSpec("edge-node-1", runtime_sockets=("/var/run/cri-dockerd.sock",)),
            ]
        config = SimConfig(
            nodes=self.nodes,
            seed=self.seed,
            tls=False,
            extra_nodes=extra,
            scenario=self.scenario,
            storm_rate=self.storm_rate,
            **self.timings,
        )
        self.cluster = SimCluster(
            config,
            bookmark_interval=1.0,
            runtime_for_image=runtime.runtime_for_image,
            on_start=[lambda c: install(c.server, c.store, c.controllers, runtime)],
        )
        self.cluster.start()
        if self.workloads:
            cluster = self.cluster

            def seed() -> int:
                nodes = [n["metadata"]["name"] for n in cluster.store.peek_list("nodes")]
                return seed_workloads(cluster.store, self.seed, nodes)

            cluster.call(seed)
        workdir = Path(tempfile.mkdtemp(prefix="falcotui-demo-"))
        self.kubeconfig = self.cluster.write_kubeconfig(workdir / "kubeconfig")
        if deploy:
            self.deploy()
        return self

    def clients(self) -> KubeClients:
        if self.kubeconfig is None:
            raise RuntimeError("the demo cluster is not started")
        return load_clients(str(self.kubeconfig), None, timeouts=Timeouts(connect=2.0, read=15.0))

    def deploy(self, namespace: str = "falco") -> None:
        """Apply the default manifests the way `falcotui` itself does (server-side apply via the Deployer)."""
        deployer = Deployer(self.clients(), namespace)
        deployer.apply(deployer.plan())

    def run_older_falco_on_one_node(self, version: str = "0.43.1", timeout: float = 60.0) -> str:
        """Leave one node on another Falco the way a cluster gets there: the DaemonSet's update strategy set
        to OnDelete with that image, then one Falco pod deleted; its replacement takes the template, the
        others keep theirs (Kubernetes "Perform a Rolling Update on a DaemonSet": OnDelete creates new pods
        only when old ones are deleted). Returns the new pod's name once its Falco runs."""
        import time

        clients = self.clients()
        try:
            path = "/apis/apps/v1/namespaces/falco/daemonsets/falco"
            ds = clients.request("GET", path)
            ds["spec"]["updateStrategy"] = {"type": "OnDelete"}
            for c in ds["spec"]["template"]["spec"]["containers"]:
                if c["name"] == "falco":
                    c["image"] = f"docker.io/falcosecurity/falco:{version}"
            clients.request("PUT", path, body=ds)
            pods = clients.request("GET", "/api/v1/namespaces/falco/pods")["items"]
            before = {p["metadata"]["name"] for p in pods}
            ready = [
                p["metadata"]["name"]
                for p in pods
                if p["metadata"]["name"].startswith("falco")
                and any(st.get("ready") for st in (p.get("status") or {}).get("containerStatuses") or [])
            ]
            victim = sorted(ready)[0]
            clients.request("DELETE", f"/api/v1/namespaces/falco/pods/{victim}")
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                for pod in clients.request("GET", "/api/v1/namespaces/falco/pods")["items"]:
                    statuses = (pod.get("status") or {}).get("containerStatuses") or []
                    running = any("running" in (st.get("state") or {}) for st in statuses)
                    if pod["metadata"]["name"] not in before and running:
                        return pod["metadata"]["name"]
                time.sleep(0.1)
            raise RuntimeError(f"no Falco {version} pod ran within {timeout:g}s")
        finally:
            clients.close()

    def set_scenario(self, name: str) -> None:
        """Switch every simulated Falco to another scenario from now on."""
        if self.cluster is None or self.runtime is None:
            raise RuntimeError("the demo cluster is not started")
        scenario = self._scenario(name)
        runtime = self.runtime
        self.cluster.call(lambda: runtime.set_scenario(scenario))
        self.scenario = name

    def stop(self) -> None:
        """Stop the simulated cluster and remove the demo's folder (its kubeconfig): every demo made one, each
        tab of `falcotui serve --demo` and each test too, and none was ever removed."""
        if self.cluster is not None:
            self.cluster.stop()
            self.cluster = None
        if self.kubeconfig is not None:
            shutil.rmtree(self.kubeconfig.parent, ignore_errors=True)


def merged_kubeconfig(kubeconfigs: dict[str, Path], path: Path) -> Path:
    """One kubeconfig holding every given cluster as a context of its own name (cluster, user and context
    entries renamed after it), the first one current: what an operator's ~/.kube/config with several
    clusters looks like. Written 0600 (it holds the clusters' tokens)."""
    import os

    import yaml

    merged: dict = {"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [], "contexts": []}
    for name, source in kubeconfigs.items():
        doc = yaml.safe_load(Path(source).read_text())
        cluster, user, context = doc["clusters"][0], doc["users"][0], doc["contexts"][0]
        merged["clusters"].append({"name": name, "cluster": cluster["cluster"]})
        merged["users"].append({"name": name, "user": user["user"]})
        where = {**context["context"], "cluster": name, "user": name}
        merged["contexts"].append({"name": name, "context": where})
    merged["current-context"] = next(iter(kubeconfigs))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(yaml.safe_dump(merged, sort_keys=False))
    return path
