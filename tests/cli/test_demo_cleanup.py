"""The demo cluster leaves nothing behind in the temp folder (one folder per demo: each `falcotui --demo`,
each tab of `falcotui serve --demo`, each test; 1,674 had gathered in /tmp on this machine)."""

from __future__ import annotations

import yaml

from falcotui.cli.demo import DemoCluster


def test_a_stopped_demo_removes_its_kubeconfig_and_folder() -> None:
    demo = DemoCluster(nodes=1, tainted_node=False).start(deploy=False)
    try:
        kubeconfig = demo.kubeconfig
        assert kubeconfig is not None and kubeconfig.exists()
        assert yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
        folder = kubeconfig.parent
    finally:
        demo.stop()
    assert not folder.exists()
