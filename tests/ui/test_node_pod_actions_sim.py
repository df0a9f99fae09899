"""Issue 17 item 12: node actions like k9s — on Fleet (and node detail) `l` shows the node's Falco pod log
(its last lines, following new ones) and `d` describes the pod (image, state, restarts, events); both are
read-only and esc goes back."""

from __future__ import annotations

import pytest

from falcotui.ui.fleet.node_detail import NodeDetailScreen
from falcotui.ui.fleet.pod_screens import PodDescribeScreen, PodLogScreen
from falcotui.ui.fleet.screen import FleetScreen

pytestmark = pytest.mark.timeout(120)


async def test_logs_and_describe_from_fleet_and_node_detail(demo_app, screen_text, until):
    app, _ = demo_app(nodes=2, scenario="quiet", read_only=True)
    async with app.run_test(size=(160, 40)) as pilot:
        assert await until(pilot, lambda: screen_text(app).count("Running 1/1") == 2, timeout=40)
        fleet = app.screen
        assert isinstance(fleet, FleetScreen)
        row = next(r for r in app.services.engine.fleet.rows("name") if r.pod is not None)
        node, pod = row.name, row.pod.name
        fleet.grid.select_node(node)
        await pilot.pause()
        assert fleet.current_node() == node

        await pilot.press("l")
        assert await until(pilot, lambda: isinstance(app.screen, PodLogScreen))
        logs = app.screen
        assert await until(pilot, lambda: "Falco version" in screen_text(app), timeout=20), screen_text(app)
        text = screen_text(app)
        assert f"log · falco/{pod} on {node}" in text and "following" in text
        assert any("Falco version" in line for line in logs.lines)
        await pilot.press("f")
        assert await until(pilot, lambda: "paused" in screen_text(app))
        await pilot.press("escape")
        assert await until(pilot, lambda: app.screen is fleet)

        await pilot.press("d")
        assert await until(pilot, lambda: isinstance(app.screen, PodDescribeScreen))
        assert await until(pilot, lambda: "Restart Count:" in screen_text(app), timeout=20), screen_text(app)
        text = screen_text(app)
        for fact in (
            f"Name:           {pod}",
            f"Node:           {node}",
            "Image:",
            "Controlled By:  DaemonSet/",
        ):
            assert fact in text, fact
        await pilot.press("escape")
        assert await until(pilot, lambda: app.screen is fleet)

        await pilot.press("enter")
        assert await until(pilot, lambda: isinstance(app.screen, NodeDetailScreen))
        await pilot.press("l")
        assert await until(pilot, lambda: isinstance(app.screen, PodLogScreen) and app.screen.pod == pod)
