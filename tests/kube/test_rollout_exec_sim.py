"""Rollout tracking, exec and port-forward against the simulated cluster."""

from __future__ import annotations

import asyncio
import socketserver
import threading

import pytest

from falcotui.kube.apply import Applier
from falcotui.kube.exec import ExecError, exec_command, falco_validate, read_file
from falcotui.kube.logs import read_log
from falcotui.kube.portforward import PortForwarder
from falcotui.kube.rollout import wait_rollout
from falcotui.sim.cluster import SimCluster
from falcotui.sim.config import NodeSpec, SimConfig
from falcotui.sim.nodes.portforward import make_portforward_handler


def with_image(manifests: list[dict], image: str) -> list[dict]:
    for o in manifests:
        if o["kind"] == "DaemonSet":
            o["spec"]["template"]["spec"]["containers"][0]["image"] = image
    return manifests


async def test_rollout_completes_and_explains_nodes_without_a_pod(make_sim, connect, manifests) -> None:
    gpu = NodeSpec(name="gpu-node", taints=[{"key": "gpu", "value": "true", "effect": "NoSchedule"}])
    kube = connect(make_sim(nodes=3, extra_nodes=[gpu]))
    Applier(kube).apply(manifests)
    seen: list[str] = []
    status = await wait_rollout(
        kube, "falco", "falco", timeout=30, on_update=lambda s: seen.append(s.message)
    )
    assert status.done and status.message == 'daemon set "falco" successfully rolled out'
    assert seen[-1] == status.message
    by = {n.node: n for n in status.nodes}
    assert by["gpu-node"].state == "not-eligible"
    assert by["gpu-node"].message == "taint gpu=true:NoSchedule not tolerated"
    others = [n for n in status.nodes if n.node != "gpu-node"]
    assert len(others) == 3 and all(n.state == "ready" and n.revision == "new" for n in others)


async def test_unpullable_image_tag_reports_stuck_nodes_with_the_reason(make_sim, connect, manifests) -> None:
    kube = connect(make_sim(nodes=3))
    Applier(kube).apply(with_image(manifests, "falcosecurity/falco:9.9.9-nope"))
    status = await wait_rollout(kube, "falco", "falco", timeout=30, stuck_grace=0.5)
    assert not status.done
    assert status.message.startswith('Waiting for daemon set "falco" rollout to finish:')
    assert {n.node for n in status.stuck} == {n.node for n in status.nodes}
    assert {n.reason for n in status.stuck} <= {"ImagePullBackOff", "ErrImagePull"}
    assert all("falcosecurity/falco:9.9.9-nope" in n.message for n in status.stuck)


async def test_exec_reads_a_mounted_file_and_runs_falco_validate(make_falco_sim, connect, manifests) -> None:
    kube = connect(make_falco_sim(nodes=1))
    Applier(kube).apply(manifests)
    status = await wait_rollout(kube, "falco", "falco", timeout=30)
    pod = status.nodes[0].pod
    config_map = next(o for o in manifests if o["metadata"]["name"] == "falco-config")
    assert read_file(kube, "falco", pod, "/etc/falco-config/falco.yaml") == config_map["data"]["falco.yaml"]
    rules_cm = next(o for o in manifests if o["metadata"]["name"] == "falco-rules")
    custom = [f"/etc/falco/rules.d/{key}" for key in rules_cm["data"]]
    # The custom rules use macros of the image's default rules: alone they do not load, with them they do.
    alone = falco_validate(kube, "falco", pod, custom)
    assert alone.exit_code != 0 and "Invalid" in alone.stdout
    result = falco_validate(kube, "falco", pod, ["/etc/falco/falco_rules.yaml", *custom])
    assert result.exit_code == 0, result.stdout
    with pytest.raises(ExecError, match="No such file"):
        read_file(kube, "falco", pod, "/etc/falco/nope.yaml")
    missing = exec_command(kube, "falco", pod, ["cat", "/nope"])
    assert missing.exit_code != 0 and missing.stdout == ""
    with pytest.raises(ExecError, match="no-such-pod"):
        exec_command(kube, "falco", "no-such-pod", ["cat", "/etc/hostname"])


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data.upper())


async def test_port_forward_reaches_a_pod_port_one_websocket_per_connection(connect, manifests) -> None:
    echo = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    echo.daemon_threads = True
    threading.Thread(target=echo.serve_forever, daemon=True).start()
    target = echo.server_address[:2]

    def resolve(namespace: str, pod: str, port: int):
        return target if port == 5060 else None

    cluster = SimCluster(
        SimConfig(nodes=1, image_pull_delay=0.01, container_start_delay=0.01, ready_delay=0.01),
        on_start=[
            lambda c: c.server.add_pod_subresource("portforward", make_portforward_handler(c.store, resolve))
        ],
    )
    cluster.start()
    try:
        kube = connect(cluster)
        Applier(kube).apply(manifests)
        status = await wait_rollout(kube, "falco", "falco", timeout=30)
        pod = status.nodes[0].pod
        async with PortForwarder(kube, "falco", pod, 5060) as pf:
            host, port = pf.address
            for i in range(3):  # three connections, each its own websocket
                reader, writer = await asyncio.open_connection(host, port)
                payload = f"hello {i} ".encode() * 5000
                writer.write(payload)
                await writer.drain()
                got = await asyncio.wait_for(reader.readexactly(len(payload)), 20)
                assert got == payload.upper()
                writer.close()
            assert pf.connections == 3
            assert pf.errors == []
        async with PortForwarder(kube, "falco", "no-such-pod", 5060) as pf:
            reader, writer = await asyncio.open_connection(*pf.address)
            assert await asyncio.wait_for(reader.read(), 20) == b""  # closed, not hanging
            writer.close()
            assert len(pf.errors) == 1 and "no-such-pod" in pf.errors[0]
    finally:
        cluster.stop()
        echo.shutdown()
        echo.server_close()


async def test_tls_with_a_bearer_token_works_for_watch_logs_and_exec(
    make_falco_sim, connect, manifests
) -> None:
    cluster = make_falco_sim(nodes=1, tls=True, per_minute=600)
    kube = connect(cluster)
    assert kube.host.startswith("https://")
    Applier(kube).apply(manifests)
    status = await wait_rollout(kube, "falco", "falco", timeout=30)  # informers (list + watch) over TLS
    assert status.done
    pod = status.nodes[0].pod
    assert "rules_files" in read_file(kube, "falco", pod, "/etc/falco-config/falco.yaml")  # wss exec
    assert any("Falco version" in line for _, line in read_log(kube, "falco", pod, container="falco"))


async def test_crash_loop_is_reported_with_restarts_and_the_last_log_lines(
    make_falco_sim, connect, manifests
):
    kube = connect(make_falco_sim(nodes=1))
    rules = next(o for o in manifests if o["metadata"]["name"] == "falco-rules")
    key = next(iter(rules["data"]))
    rules["data"][key] = "- rule: broken\n  desc: no condition, no output\n  priority: WARNING\n"
    Applier(kube).apply(manifests)
    status = await wait_rollout(kube, "falco", "falco", timeout=30, stuck_grace=1.0)
    assert not status.done
    (node,) = [n for n in status.nodes if n.state == "stuck"]
    assert node.reason == "CrashLoopBackOff"
    assert node.restarts >= 1 and f"restarted {node.restarts} times" in node.message
    last = read_log(kube, "falco", node.pod, container="falco", previous=True, tail_lines=5)
    assert any("Item has no mapping for key 'condition'" in line for _, line in last), last
