"""The DaemonSet mounts every runtime socket the container plugin looks for by default, under HOST_ROOT.

The image's falco.yaml leaves the plugin's `engines` to its defaults (checked here against the real file of
each version); the defaults are falcosecurity/plugins container/src/plugin_config.cpp (in the simulator's
falco_node.DEFAULT_ENGINE_SOCKETS, with the source named there)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from falcotui.ops.deploy import manifests
from falcotui.sim.config import NodeSpec
from falcotui.sim.falco.config import FalcoConfig
from falcotui.sim.falco.node import DEFAULT_ENGINE_SOCKETS, reachable_sockets
from falcotui.sim.nodes.kubelet_volumes import host_path_mounts
from falcotui.sim.nodes.runtime import ContainerContext, ContainerLog

# What the issue asks for: containerd, CRI-O, Docker, k3s/RKE2 and Bottlerocket's host-containerd. Podman's
# default socket is left out: Kubernetes does not run pods on podman.
KUBERNETES_SOCKETS = sorted(
    {s for name, socks in DEFAULT_ENGINE_SOCKETS.items() if name != "podman" for s in socks}
)


def _image_configs(shared_data: Path) -> list[Path]:
    return sorted((shared_data / "falco_image").glob("*/falco.yaml"))


def test_the_images_leave_the_container_plugin_on_its_default_sockets(shared_data) -> None:
    configs = _image_configs(shared_data)
    assert configs
    for path in configs:
        doc = yaml.safe_load(path.read_text())
        plugin = next(p for p in doc["plugins"] if p["name"] == "container")
        assert "engines" not in (plugin.get("init_config") or {}), path
        assert 'We use default config values for "engines" key.' in path.read_text(), path


def _context(node: NodeSpec, objects: list[dict]) -> ContainerContext:
    ds = next(o for o in objects if o["kind"] == "DaemonSet")
    pod_spec = ds["spec"]["template"]["spec"]
    container = pod_spec["containers"][0]
    env = {e["name"]: e.get("value", "") for e in container.get("env") or []}
    return ContainerContext(
        namespace="falco", pod_name="falco-x", pod_uid="u", node_name=node.name, node_ip="127.0.0.2",
        container_name="falco", image=container["image"], args=[], env=env, files={}, host_network=False,
        restart_count=0, log=ContainerLog(), security=container.get("securityContext") or {},
        host_paths=host_path_mounts(pod_spec, container), node=node,
    )  # fmt: skip


@pytest.mark.parametrize("socket", KUBERNETES_SOCKETS)
def test_each_default_socket_is_reachable_on_a_node_that_has_only_it(socket, shared_data) -> None:
    image_yaml = yaml.safe_load(_image_configs(shared_data)[0].read_text())
    cfg = FalcoConfig(data={"plugins": image_yaml["plugins"], "load_plugins": ["container"]}, validation={})
    ctx = _context(NodeSpec("n", runtime_sockets=(socket,)), manifests.render())
    assert ctx.env.get("HOST_ROOT") == "/host"
    assert "/host" + socket in reachable_sockets(ctx, cfg)
    assert reachable_sockets(_context(NodeSpec("n", runtime_sockets=()), manifests.render()), cfg) == []
