"""Read-only mode works with the viewer role alone: a user bound only to falcotui-viewer (and its cluster
companion) opens the TUI on a cluster that enforces RBAC; the app finds out it is read-only, every screen
works, and the simulator's journal holds no denied request (issue 13, finding 2)."""

from __future__ import annotations

from falcotui.cli.demo import FAST_TIMINGS, DemoCluster
from falcotui.cli.tui_cmd import build_services
from falcotui.kube.apply import Applier
from falcotui.kube.client import Timeouts, load_clients
from falcotui.ops.deploy import manifests
from falcotui.ui.app import FalcoTuiApp


async def test_the_viewer_role_is_enough_for_the_read_only_tui(tmp_path, screen_text, until):
    demo = DemoCluster(nodes=2, scenario="incident", seed=3, timings=dict(FAST_TIMINGS), problem_nodes=False)
    demo.start(deploy=True)
    try:
        admin = demo.clients()
        Applier(admin).apply([*manifests.operator_rbac(), *manifests.operator_bindings()])
        policy = demo.cluster.add_user("vic", ("falcotui-viewers",))
        kubeconfig = demo.cluster.write_kubeconfig(tmp_path / "kubeconfig-vic", user="vic")
        clients = load_clients(kubeconfig, environ={}, timeouts=Timeouts(connect=2, read=10))
        services = build_services(clients, namespace="falco", read_only=False, context_name="sim")
        app = FalcoTuiApp(services)
        async with app.run_test(size=(160, 40)) as pilot:
            assert await until(pilot, lambda: screen_text(app).count("Running 1/1") == 2, timeout=40)
            assert await until(pilot, lambda: services.engine.read_only is True, timeout=20)
            await pilot.press("f2")
            assert await until(
                pilot, lambda: "via log" in screen_text(app) or len(app.screen.alert_list.view) > 0
            )
            await pilot.press("f3")
            assert await until(pilot, lambda: "custom-rules.yaml" in screen_text(app), timeout=20)
            await pilot.press("f4")
            assert await until(pilot, lambda: "read-only" in screen_text(app), timeout=20)
            await pilot.pause(1.0)  # let the screens' background reads run
            await pilot.press("f1")
        clients.close()
        denied = [d for d in policy.decisions if not d.allowed]
        assert denied == []
        used = {(d.verb, d.resource) for d in policy.decisions}
        assert {("list", "nodes"), ("watch", "pods"), ("get", "pods/log"), ("get", "configmaps")} <= used
    finally:
        demo.stop()
