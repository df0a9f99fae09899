"""The 0.43.1 gRPC profile in a simulated cluster: a grpcio client reaches a Falco pod through the official
client's `portforward()` (one websocket per TCP connection) over mutual TLS, or at the node's address
with hostNetwork."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Iterator

import aiohttp
import grpc
import pytest
from grpc import aio
from kubernetes import client as k8s
from kubernetes.stream import portforward

from falcotui.falco.grpc import version_pb2, version_pb2_grpc
from falcotui.sim.falco.runtime import FalcoRuntime
from falcotui.sim.scenarios import make_scenario

RULE = """\
- rule: Nmap in container
  desc: a scanner ran
  condition: evt.type = execve and proc.name = nmap
  output: nmap ran (cmd=%proc.cmdline)
  priority: {priority}
"""


class GrpcSim:
    """A one-node simulated cluster running Falco's 0.43.1 gRPC profile as a DaemonSet, its pod ready."""

    def __init__(self, falco_cluster, grpc, *, host_network: bool = False, port: int = 5060) -> None:
        """`falco_cluster` and `grpc` are the conftest fixtures of those names."""
        fc = falco_cluster(FalcoRuntime(make_scenario("storm", rate=100, seed=4), tick=0.02))
        self.runtime, self.cluster, self.core = fc.runtime, fc.cluster, fc.core
        self.core.create_namespaced_config_map(
            "falco", {"metadata": {"name": "falco-config"}, "data": {"falco.yaml": grpc.falco_yaml(port)}}
        )
        self.core.create_namespaced_config_map(
            "falco",
            {"metadata": {"name": "falco-rules"}, "data": {"custom.yaml": RULE.format(priority="NOTICE")}},
        )
        self.core.create_namespaced_secret(
            "falco", {"metadata": {"name": "falco-grpc-certs"}, "data": grpc.certs.to_secret_data()}
        )
        container = {
            "name": "falco",
            "image": "falcosecurity/falco:0.43.1",
            "args": ["/usr/bin/falco", "-U", "-c", "/etc/falco-config/falco.yaml"],
            "ports": [{"name": "grpc", "containerPort": port}],
            "volumeMounts": [
                {"name": "config", "mountPath": "/etc/falco-config"},
                {"name": "rules", "mountPath": "/etc/falco/rules.d"},
                {"name": "certs", "mountPath": "/etc/falco/certs", "readOnly": True},
            ],
        }
        spec = {
            "hostNetwork": host_network,
            "containers": [container],
            "volumes": [
                {"name": "config", "configMap": {"name": "falco-config"}},
                {"name": "rules", "configMap": {"name": "falco-rules"}},
                {"name": "certs", "secret": {"secretName": "falco-grpc-certs"}},
            ],
        }
        k8s.AppsV1Api(fc.api).create_namespaced_daemon_set("falco", {
            "metadata": {"name": "falco"},
            "spec": {"selector": {"matchLabels": {"app": "falco"}},
                     "template": {"metadata": {"labels": {"app": "falco"}}, "spec": spec}},
        })  # fmt: skip
        self.pod: k8s.V1Pod = fc.wait(fc.ready_pods, "the Falco pod ready")[0]

    def set_rules(self, text: str) -> None:
        cm = self.core.read_namespaced_config_map("falco-rules", "falco")
        cm.data = {"custom.yaml": text}
        self.core.replace_namespaced_config_map("falco-rules", "falco", cm)


class PortForwardBridge:
    """A local TCP listener; each accepted connection gets its own port-forward websocket (kubectl-style)."""

    def __init__(self, core: k8s.CoreV1Api, namespace: str, pod: str, port: int) -> None:
        self.core, self.namespace, self.pod, self.port = core, namespace, pod, port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.websockets = 0
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            try:
                pf = portforward(self.core.connect_get_namespaced_pod_portforward, self.pod, self.namespace,
                                 ports=str(self.port))  # fmt: skip
            except Exception:  # the cluster is going away: refuse this connection, keep accepting
                conn.close()
                continue
            self.websockets += 1
            remote = pf.socket(self.port)
            threading.Thread(target=self._pipe, args=(conn, remote), daemon=True).start()
            threading.Thread(target=self._pipe, args=(remote, conn), daemon=True).start()

    @staticmethod
    def _pipe(src, dst) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self._closed = True
        self.listener.close()


@pytest.fixture
def forwarded(falco_cluster, falco_grpc) -> Iterator[tuple[GrpcSim, PortForwardBridge]]:
    sim = GrpcSim(falco_cluster, falco_grpc)
    bridge = PortForwardBridge(sim.core, "falco", sim.pod.metadata.name, 5060)
    yield sim, bridge
    bridge.close()


async def test_subscribe_over_mtls_through_portforward(forwarded, falco_grpc) -> None:
    sim, bridge = forwarded
    async with falco_grpc.channel(bridge.address) as ch:
        v = await version_pb2_grpc.serviceStub(ch).version(version_pb2.request(), timeout=10)
        got = await falco_grpc.collect(ch, 10)
    assert v.version == "0.43.1"
    assert len(got) >= 10
    assert all(r.hostname == sim.pod.metadata.name and r.rule for r in got)  # no FALCO_HOSTNAME: pod name
    assert bridge.websockets >= 1


async def test_without_client_certificate_the_handshake_fails(forwarded, falco_grpc) -> None:
    _, bridge = forwarded
    async with falco_grpc.channel(bridge.address, client_cert=False) as ch:
        with pytest.raises(aio.AioRpcError) as err:
            await version_pb2_grpc.serviceStub(ch).version(version_pb2.request(), timeout=10)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_two_subscribers_split_the_alerts(forwarded, falco_grpc) -> None:
    _, bridge = forwarded
    async with falco_grpc.channel(bridge.address) as c1, falco_grpc.channel(bridge.address) as c2:
        a, b = await asyncio.gather(falco_grpc.collect(c1, 15), falco_grpc.collect(c2, 15))
    key = lambda r: (r.time.seconds, r.time.nanos, r.rule, r.output)  # noqa: E731
    assert len(a) >= 15 and len(b) >= 15
    assert not {key(r) for r in a} & {key(r) for r in b}


async def test_reload_ends_the_stream_and_resubscribing_works(forwarded, falco_grpc) -> None:
    sim, bridge = forwarded
    async with falco_grpc.channel(bridge.address) as ch:
        got, stop = [], asyncio.Event()
        task = asyncio.create_task(falco_grpc.subscribe(ch, got, stop))
        for _ in range(500):
            if got:
                break
            await asyncio.sleep(0.02)
        await asyncio.to_thread(sim.set_rules, RULE.format(priority="CRITICAL"))
        ended = await asyncio.wait_for(task, 20)  # the reload restarts Falco's gRPC server
        stop.set()
    assert got and ended in ("UNAVAILABLE", "CANCELLED", "INTERNAL", "END")
    falco = sim.runtime.find("falco", sim.pod.metadata.name)
    for _ in range(500):  # a client reconnects once Falco is back
        if falco is not None and falco.ready() and falco.reloads == 1:
            break
        await asyncio.sleep(0.02)
    async with falco_grpc.channel(bridge.address) as ch:
        again = await falco_grpc.collect(ch, 5)
    assert len(again) >= 5


async def test_host_network_pod_serves_grpc_at_the_node_address(falco_cluster, falco_grpc) -> None:
    sim = await asyncio.to_thread(GrpcSim, falco_cluster, falco_grpc, host_network=True, port=15060)
    node_ip = sim.pod.status.host_ip
    assert sim.pod.status.pod_ip == node_ip and node_ip.startswith("127.0.0.")
    async with falco_grpc.channel(f"{node_ip}:15060") as ch:
        got = await falco_grpc.collect(ch, 5)
    assert len(got) >= 5


async def test_v4_framing_and_an_error_for_a_port_nothing_listens_on(forwarded) -> None:
    sim, _ = forwarded
    url = f"{sim.cluster.url}/api/v1/namespaces/falco/pods/{sim.pod.metadata.name}/portforward"
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url, params={"ports": "9999"}, protocols=["v4.channel.k8s.io"]) as ws:
            assert ws.protocol == "v4.channel.k8s.io"
            frames = [msg.data async for msg in ws]
        async with session.get(url, params={"ports": "9999"}) as plain:
            assert plain.status == 400
    assert frames[:2] == [b"\x00" + struct.pack("<H", 9999), b"\x01" + struct.pack("<H", 9999)]
    assert frames[2][0] == 1 and b"error forwarding port 9999" in frames[2]
