"""The Fleet screen pulls its lines (issue 14, 5,000 nodes): through the real app on the simulated cluster,
nodes whose rows change while off screen cost no cells at all, and a node that scrolls into view is drawn
from its current row at once — "the row is right when I get there"."""

from __future__ import annotations

import asyncio

from falcotui.kube.resources import MERGE, NODES
from falcotui.ui.fleet.screen import FleetScreen

NODE_COUNT = 60
CORDONED = 36  # the last nodes by name: twice the grid's 18 lines on a 24-line terminal


def _settled(app) -> bool:
    """Every Falco running and its log followed, and so every row at rest (no alerts: `per_minute=0`, so
    no rate or sparkline moves; the demo's tainted node has no Falco pod)."""
    fleet = app.services.engine.fleet
    health = app.health
    rows = [row for row in fleet.nodes.values() if row.pod is not None]
    return (
        isinstance(app.screen, FleetScreen)
        and health is not None
        and health.log_streams == NODE_COUNT
        and len(rows) == NODE_COUNT
        and all(row.channels == ("log",) and row.version_source == "log" for row in rows)
        and len(app.screen.grid.names) == len(fleet.nodes)
    )


def _cordon(clients, names: list[str]) -> None:
    for name in names:  # `kubectl cordon`: spec.unschedulable (a merge patch), as the response action does
        NODES.patch(clients, None, name, {"spec": {"unschedulable": True}}, content_type=MERGE)


async def test_rows_changed_off_screen_cost_nothing_until_they_scroll_into_view(demo_app, until, screen_text):
    app, demo = demo_app(nodes=NODE_COUNT, scenario="quiet", per_minute=0)
    async with app.run_test(size=(150, 24)) as pilot:
        assert await until(pilot, lambda: _settled(app), timeout=120)
        fleet_screen: FleetScreen = app.screen  # type: ignore[assignment]
        grid = fleet_screen.grid
        mirror = app.services.engine.fleet
        await pilot.pause(0.5)  # the last tick's lines drawn
        shown = grid.on_screen()
        assert 0 < len(shown) < CORDONED
        names = list(grid.names)
        last = names[-CORDONED:]
        assert all(names.index(n) not in shown for n in last)  # sorted by name: the last ones are below
        built = fleet_screen.cells_built

        await asyncio.to_thread(_cordon, demo.clients(), last)
        assert await until(pilot, lambda: all(mirror.row(n).cordoned for n in last), timeout=60)
        seen = mirror.version
        assert await until(pilot, lambda: fleet_screen._version >= seen)  # the screen had that tick
        # every cordoned row came in a tick, none on screen: no cells were built for them (the old screen
        # built cells for every changed row each tick: 36 here, 4,950 a tick at 5,000 nodes)
        assert fleet_screen.cells_built - built <= len(shown)
        assert "⊘" not in screen_text(app)

        await pilot.press("end")  # the last node's line comes into view: drawn from its current row
        await pilot.pause()
        lines = [line for line in screen_text(app).splitlines() if last[-1] in line]
        assert lines and "⊘" in lines[0], screen_text(app)
        assert sum("⊘" in line for line in screen_text(app).splitlines()) >= min(
            len(grid.on_screen()), CORDONED
        )
