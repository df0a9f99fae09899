"""Journeys against the simulated cluster, through the same wiring as `falcotui --demo`: the fleet fills in
after a deploy; an incident shows in the fleet grid and the alerts list; filter to one node and one
priority; open an alert's detail; read-only mode shows its badge."""

from __future__ import annotations

import asyncio
import re

from falcotui.falco.alerts import Priority
from falcotui.ui.alerts.screen import AlertsScreen
from falcotui.ui.fleet.screen import FleetScreen

ROW = re.compile(r"\d\d:\d\d:\d\d\.\d{3} .*")


def alert_rows(text: str) -> list[str]:
    return [m[0][:-3].rstrip() for line in text.splitlines() if (m := ROW.search(line))]


async def test_fleet_fills_in_after_deploy(demo_app, screen_text, until):
    app, demo = demo_app(nodes=2, scenario="quiet", deploy=False)
    async with app.run_test(size=(140, 30)) as pilot:
        assert await until(pilot, lambda: "without Falco" in screen_text(app))
        text = screen_text(app)
        assert "Fleet · 3 nodes · 3 without Falco" in text  # nothing deployed yet: every node stands out
        assert text.count("no pod") == 3
        await asyncio.to_thread(demo.deploy)
        assert await until(pilot, lambda: screen_text(app).count("Running 1/1") == 2, timeout=30)
        text = screen_text(app)
        assert "Fleet · 3 nodes · 1 without Falco" in text  # the gpu node's taint is not tolerated
        assert "no pod: taint dedicated=gpu" in text
        # the version comes from the pods' logs, the DaemonSet's count from its status: either may be last
        header = lambda: screen_text(app).splitlines()[0]  # noqa: E731
        assert await until(pilot, lambda: "Falco 0.45.0" in header() and "DS 2/2 ready" in header()), header()


async def test_incident_in_fleet_and_alerts_filter_and_detail(demo_app, screen_text, until):
    app, _ = demo_app(nodes=2, scenario="incident")
    async with app.run_test(size=(160, 40)) as pilot:
        assert isinstance(app.screen, FleetScreen)

        def busy_rows() -> list[str]:
            return [
                line
                for line in screen_text(app).splitlines()
                if "Running 1/1" in line
                and any(p.label in line for p in (Priority.WARNING, Priority.ERROR, Priority.CRITICAL))
            ]

        assert await until(pilot, lambda: bool(busy_rows()), timeout=40)
        await pilot.press("f2")
        assert await until(pilot, lambda: isinstance(app.screen, AlertsScreen))
        screen = app.screen
        assert await until(pilot, lambda: len(alert_rows(screen_text(app))) >= 5)
        view = screen.alert_list.view
        node = next(e.node for e in view if e.alert.priority <= Priority.WARNING)
        await pilot.press("slash", *f"node:{node} priority>=warning", "enter")

        def only_that_node(rows: list[str]) -> bool:  # the list repaints a few times a second
            return bool(rows) and all(
                node in r and re.search(r"Warning|Error|Critical|Alert|Emergency", r) for r in rows
            )

        assert await until(pilot, lambda: only_that_node(alert_rows(screen_text(app)))), screen_text(app)
        assert all(
            e.node == node and e.alert.priority <= Priority.WARNING
            for e in await screen.alert_list.view.rows(0, len(screen.alert_list.view))
        )
        await pilot.press("enter")

        def detail_of_current() -> bool:
            current, text = screen.alert_list.current(), screen_text(app)
            return current is not None and f"rule {current.alert.rule}" in text and "via log" in text

        assert await until(pilot, detail_of_current), screen_text(app)
        detail = screen.query_one("#alerts-detail")
        detail.scroll_end(animate=False, immediate=True)
        raw_json_shown = lambda: '"channel": "log"' in (t := screen_text(app)) and '"pod": "falco-' in t  # noqa: E731
        assert await until(pilot, raw_json_shown), screen_text(app)  # the raw JSON ends the pane


async def test_read_only_mode_on_a_live_cluster(demo_app, screen_text, until):
    app, _ = demo_app(nodes=1, scenario="quiet", read_only=True)
    async with app.run_test(size=(100, 24)) as pilot:
        assert await until(pilot, lambda: "Running 1/1" in screen_text(app))
        assert "READ-ONLY" in screen_text(app).splitlines()[0]
        assert app.read_only and app.services.engine.read_only is True
