"""Fixtures for the simulated cluster (started by tests/conftest.py's `make_sim_cluster`): a running
SimCluster, the real kubectl (found at run time), the
official client; a cluster whose Falco pods run the simulated Falco; the certificates, config and grpcio
client for the simulated Falco's mutual-TLS gRPC outputs (0.43 profile)."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from grpc import aio
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from simkit import fast_config

from falcotui.falco.certs import GrpcCerts, generate_grpc_certs
from falcotui.falco.grpc import outputs_pb2, outputs_pb2_grpc
from falcotui.falco.image import image_plugin_settings
from falcotui.sim.cluster import SimCluster
from falcotui.sim.falco.runtime import FalcoRuntime
from falcotui.sim.falco.wiring import install
from falcotui.sim.scenarios import make_scenario


@pytest.fixture
def sim_cluster(make_sim_cluster: Callable[..., SimCluster]) -> SimCluster:
    """A running 3-node cluster (1 control-plane node), plain HTTP, fast timings."""
    return make_sim_cluster()


@pytest.fixture
def manifests_dir(repo_root: Path) -> Path:
    return repo_root / "manifests"


Kubectl = Callable[..., subprocess.CompletedProcess]


@pytest.fixture
def kubectl(sim_cluster: SimCluster, tmp_path: Path, kubectl_path: str) -> Kubectl:
    """Run the real kubectl against `sim_cluster` (or `kubeconfig=`) with a fresh cache dir."""
    cache = tmp_path / "kubectl-cache"

    def run(*args: str, kubeconfig: Path | None = None, input: str | None = None, timeout: float = 60,
            check: bool = False) -> subprocess.CompletedProcess:  # fmt: skip
        cfg = kubeconfig or sim_cluster.kubeconfig_path
        cmd = [kubectl_path, "--kubeconfig", str(cfg), "--cache-dir", str(cache), *args]
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


class FalcoCluster:
    """A running simulated cluster whose `falcosecurity/falco` containers run `runtime`'s simulated Falco,
    the official client on it and the `falco` namespace to deploy into (no control-plane node)."""

    def __init__(
        self, runtime: FalcoRuntime, cache: Path, kubectl: Callable[[], str], *, nodes: int = 1
    ) -> None:
        self.runtime = runtime
        self._kubectl = kubectl
        self.nodes = nodes
        self.cache = cache
        self.cluster = SimCluster(
            fast_config(nodes=nodes, control_plane_nodes=0),
            runtime_for_image=runtime.runtime_for_image,
            on_start=[lambda c: install(c.server, c.store, c.controllers, runtime)],
        ).start()
        self.api = k8s_config.new_client_from_config(config_file=str(self.cluster.kubeconfig_path))
        self.core = k8s_client.CoreV1Api(self.api)
        self.core.create_namespace({"metadata": {"name": "falco"}})

    def wait(self, predicate: Callable[[], object], what: str, timeout: float = 60.0):
        """The first truthy value of `predicate()`; fails the test after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")

    def ready_pods(self) -> list[k8s_client.V1Pod]:
        """The Falco pods whose container is ready (in list order)."""
        pods = self.core.list_namespaced_pod("falco").items
        return [p for p in pods if p.status.container_statuses and p.status.container_statuses[0].ready]

    def kubectl_command(self, *args: str) -> list[str]:
        """The real kubectl against this cluster with its own cache dir (skips the test without it)."""
        config = str(self.cluster.kubeconfig_path)
        return [self._kubectl(), "--kubeconfig", config, "--cache-dir", str(self.cache), *args]

    def close(self) -> None:
        self.api.close()
        self.cluster.stop()


@pytest.fixture
def falco_cluster(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[..., FalcoCluster]]:
    """Start a FalcoCluster: `falco_cluster(FalcoRuntime(scenario), nodes=2)`; stopped after the test."""
    made: list[FalcoCluster] = []

    def kubectl() -> str:  # only tests that run kubectl need (and may skip for) it
        return request.getfixturevalue("kubectl_path")

    def make(runtime: FalcoRuntime, *, nodes: int = 1) -> FalcoCluster:
        made.append(FalcoCluster(runtime, tmp_path / f"kubectl-cache-{len(made)}", kubectl, nodes=nodes))
        return made[-1]

    yield make
    for cluster in reversed(made):
        cluster.close()


GRPC_FALCO_YAML = """\
config_files: [/etc/falco/config.d]
rules_files: [/etc/falco/falco_rules.yaml, /etc/falco/rules.d]
json_output: true
grpc:
  enabled: true
  bind_address: "0.0.0.0:{port}"
  threadiness: 0
  private_key: /etc/falco/certs/server.key
  cert_chain: /etc/falco/certs/server.crt
  root_certs: /etc/falco/certs/ca.crt
grpc_output:
  enabled: true
"""


@pytest.fixture(scope="session")
def grpc_certs() -> GrpcCerts:
    """A CA with server (`localhost`, `127.0.0.1`) and client certificates for Falco's gRPC over mTLS."""
    return generate_grpc_certs(("localhost", "127.0.0.1"))


class FalcoGrpc:
    """The simulated Falco's gRPC outputs over mutual TLS: the certificates, a falco.yaml that serves them
    from /etc/falco/certs, and a raw grpcio client of `falco.outputs` as the tests drive it."""

    def __init__(self, certs: GrpcCerts) -> None:
        self.certs = certs

    @staticmethod
    def falco_yaml(port: int = 5060) -> str:
        # ours replaces the image's falco.yaml, so it carries the image's plugin definition
        return GRPC_FALCO_YAML.format(port=port) + image_plugin_settings("0.43.1")

    def channel(self, target: str, *, client_cert: bool = True) -> aio.Channel:
        """A channel to `host:port` that trusts the CA; without `client_cert` the mTLS handshake must fail."""
        creds = grpc.ssl_channel_credentials(
            root_certificates=self.certs.ca_crt,
            private_key=self.certs.client_key if client_cert else None,
            certificate_chain=self.certs.client_crt if client_cert else None,
        )
        return aio.secure_channel(target, creds, options=[("grpc.ssl_target_name_override", "localhost")])

    @staticmethod
    async def subscribe(ch: aio.Channel, received: list, stop: asyncio.Event) -> str:
        """Falco's `sub`: keep sending requests, collect responses; returns how the stream ended."""

        async def requests():
            while not stop.is_set():
                yield outputs_pb2.request()
                await asyncio.sleep(0.02)

        try:
            async for response in outputs_pb2_grpc.serviceStub(ch).sub(requests()):
                received.append(response)
        except aio.AioRpcError as exc:
            return exc.code().name
        return "END"

    async def collect(self, ch: aio.Channel, count: int, timeout: float = 30.0) -> list:
        """Subscribe until `count` alerts arrived, the stream ended or `timeout` passed."""
        got, stop = [], asyncio.Event()
        task = asyncio.create_task(self.subscribe(ch, got, stop))
        for _ in range(int(timeout / 0.02)):
            if len(got) >= count or task.done():
                break
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.wait_for(task, 10)
        return got


@pytest.fixture
def falco_grpc(grpc_certs: GrpcCerts) -> FalcoGrpc:
    return FalcoGrpc(grpc_certs)


@pytest.fixture
async def storm_runtime():
    """A Falco runtime with a 200 alerts/s storm, for a simulated Falco process on its own (falco_process)."""
    rt = FalcoRuntime(make_scenario("storm", rate=200, seed=7), tick=0.02)
    yield rt
