"""Fixtures for the simulated cluster: a running SimCluster, the real kubectl 1.32, the official client."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

from falcotui.sim.cluster import SimCluster
from falcotui.sim.config import SimConfig

KUBECTL = Path("/usr/lib/google-cloud-sdk/bin/kubectl.1.32")

#: kubelet/controller timings that keep tests fast
FAST = dict(
    image_pull_delay=0.01,
    container_start_delay=0.01,
    ready_delay=0.01,
    crash_backoff_base=0.05,
    crash_backoff_max=0.5,
    configmap_propagation_delay=0.05,
)


def fast_config(**overrides: object) -> SimConfig:
    return SimConfig(**{**FAST, **overrides})  # type: ignore[arg-type]


@pytest.fixture
def make_sim_cluster() -> Iterator[Callable[..., SimCluster]]:
    """Start a SimCluster with fast timings: `make_sim_cluster(nodes=5, tls=True, bookmark_interval=0.1)`."""
    started: list[SimCluster] = []

    def make(*, bookmark_interval: float = 5.0, policy=None, **config: object) -> SimCluster:
        cluster = SimCluster(fast_config(**config), bookmark_interval=bookmark_interval, policy=policy)
        cluster.start()
        started.append(cluster)
        return cluster

    yield make
    for cluster in reversed(started):
        cluster.stop()


@pytest.fixture
def sim_cluster(make_sim_cluster: Callable[..., SimCluster]) -> SimCluster:
    """A running 3-node cluster (1 control-plane node), plain HTTP, fast timings."""
    return make_sim_cluster()


@pytest.fixture
def manifests_dir(repo_root: Path) -> Path:
    return repo_root / "manifests"


Kubectl = Callable[..., subprocess.CompletedProcess]


@pytest.fixture
def kubectl(sim_cluster: SimCluster, tmp_path: Path) -> Kubectl:
    """Run the real kubectl 1.32 against `sim_cluster` (or `kubeconfig=`) with a fresh cache dir."""
    if not KUBECTL.exists():
        pytest.skip(f"{KUBECTL} is not installed (it comes with the Google Cloud CLI package)")
    cache = tmp_path / "kubectl-cache"

    def run(*args: str, kubeconfig: Path | None = None, input: str | None = None, timeout: float = 60,
            check: bool = False) -> subprocess.CompletedProcess:  # fmt: skip
        cfg = kubeconfig or sim_cluster.kubeconfig_path
        cmd = [str(KUBECTL), "--kubeconfig", str(cfg), "--cache-dir", str(cache), *args]
        proc = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return proc

    return run


@pytest.fixture
def kube_client(sim_cluster: SimCluster) -> Iterator[k8s_client.ApiClient]:
    """The official client (v37) configured from the cluster's kubeconfig."""
    api = k8s_config.new_client_from_config(config_file=str(sim_cluster.kubeconfig_path))
    yield api
    api.close()


class ApiHttp:
    """A tiny raw HTTP client for the simulated API (plain HTTP clusters): method, path, JSON body."""

    def __init__(self, cluster: SimCluster) -> None:
        self.cluster = cluster

    def __call__(self, method: str, path: str, body: object = None, *, ctype: str = "application/json",
                 accept: str = "application/json") -> tuple[int, dict, dict]:  # fmt: skip
        import http.client
        import json
        from urllib.parse import urlsplit

        u = urlsplit(self.cluster.url)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        data = body if isinstance(body, (str, bytes)) or body is None else json.dumps(body)
        conn.request(method, path, body=data, headers={"Content-Type": ctype, "Accept": accept})
        resp = conn.getresponse()
        raw = resp.read()
        headers = {k.lower(): v for k, v in resp.getheaders()}
        conn.close()
        return resp.status, (json.loads(raw) if raw else {}), headers


@pytest.fixture
def api_http(sim_cluster: SimCluster) -> ApiHttp:
    return ApiHttp(sim_cluster)
