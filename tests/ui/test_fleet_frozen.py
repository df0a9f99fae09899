"""The Fleet screen over a frozen fleet: what an operator reads in the grid, sorting, filtering, narrow
terminals, in-place updates and the node detail view."""

from __future__ import annotations

import copy

from falcotui.ui.fleet.node_detail import NodeDetailScreen
from falcotui.ui.fleet.screen import FleetScreen


def table_rows(text: str) -> list[str]:
    """The grid's rows (not the hint line under it, which starts with `node:`)."""
    return [
        line
        for line in text.splitlines()
        if line.startswith("│ ip-10-0-") and len(line.split()) > 2 and not line.split()[1].endswith(":")
    ]


def names(text: str) -> list[str]:
    return [line.split()[1] for line in table_rows(text)]


def all_rows(text: str) -> bool:
    """The grid shows all five nodes (it fills in after the screen mounts)."""
    return len(table_rows(text)) == 5


async def test_grid_shows_state_trouble_and_summary(frozen, screen_text, shows):
    app = frozen()
    async with app.run_test(size=(140, 30)) as pilot:
        text = await shows(pilot, app, "Fleet · 5 nodes · 1 crash-looping · 1 without Falco", where=all_rows)
        rows = {line.split()[1]: line for line in table_rows(text)}
        assert list(rows) == ["ip-10-0-1-11", "ip-10-0-1-23", "ip-10-0-1-57", "ip-10-0-1-80", "ip-10-0-2-11"]
        assert "CrashLoop" in rows["ip-10-0-1-57"] and " 7 " in rows["ip-10-0-1-57"]
        assert "no pod: taint dedicated" in rows["ip-10-0-2-11"]
        assert "Critical" in rows["ip-10-0-1-80"] and "0.45.0" in rows["ip-10-0-1-80"]
        assert "22" in rows["ip-10-0-1-23"].split("Running 1/1")[1]  # alerts in the last minute
        await pilot.press("down", "down", "down", "down")
        await shows(pilot, app, "ip-10-0-2-11: no Falco pod — taint dedicated=gpu:NoSchedule not tolerated")


async def test_sort_and_filter(frozen, screen_text, shows):
    app = frozen()
    async with app.run_test(size=(140, 30)) as pilot:
        await shows(pilot, app, where=all_rows)
        await pilot.press("s")  # name -> alerts/min
        by_rate = ["ip-10-0-1-23", "ip-10-0-1-11", "ip-10-0-1-80"]
        await shows(pilot, app, "sort: alerts/min ▼", where=lambda t: names(t)[:3] == by_rate)
        await pilot.press("slash", *"crash")
        await shows(pilot, app, where=lambda t: names(t) == ["ip-10-0-1-57"])
        await pilot.press("escape")
        await shows(pilot, app, where=all_rows)


async def test_columns_drop_at_80x24_and_keep_the_essentials(frozen, screen_text, shows):
    app = frozen()
    async with app.run_test(size=(80, 24)) as pilot:
        text = await shows(pilot, app, "NODE", where=all_rows)
        header = next(line for line in text.splitlines() if "NODE" in line)
        for kept in ("NODE", "FALCO", "ALERTS/MIN", "WORST", "READY", "RST"):
            assert kept in header
        for dropped in ("LAST 10 MIN", "CHANNELS"):
            assert dropped not in header
    wide = frozen()
    async with wide.run_test(size=(200, 40)) as pilot:
        text = await shows(pilot, wide, "NODE", where=all_rows)
        header = next(line for line in text.splitlines() if "NODE" in line)
        assert "LAST 10 MIN" in header and "CHANNELS" in header and "RELOAD" in header


async def test_rows_update_in_place(frozen, screen_text, shows, alert_bytes, until, feed):
    app = frozen()
    async with app.run_test(size=(140, 30)) as pilot:
        await shows(pilot, app, where=all_rows)
        await pilot.press("down", "down", "down")  # the cursor on ip-10-0-1-80
        await pilot.pause()
        assert app.screen.current_node() == "ip-10-0-1-80"
        for i in range(5):  # a burst on a quiet node
            line = alert_bytes.line(900 + i, "ip-10-0-1-80", alert_bytes.NOW - 2 * alert_bytes.NS, 2)
            alert = alert_bytes.parse(line, node="ip-10-0-1-80", pod="falco-d80")
            await feed(app, lambda engine, alert=alert: engine.hub.ingest(alert))

        def row() -> str:
            return next(line for line in table_rows(screen_text(app)) if "ip-10-0-1-80" in line)

        # the fleet table refreshes once a second: wait (bounded) for 1 + 5 alerts in the last minute
        assert await until(pilot, lambda: "6" in row().split("0.45.0")[1]), row()
        assert app.screen.current_node() == "ip-10-0-1-80"  # updated in place: the cursor stayed put


async def test_enter_opens_the_node_with_its_pod_log_and_alerts(frozen, screen_text, shows):
    app = frozen()
    async with app.run_test(size=(140, 40)) as pilot:
        await shows(pilot, app, where=all_rows)
        await pilot.press("down", "enter")  # ip-10-0-1-23
        # the node's own alerts (its NODE column is dropped) and the pod's last Falco log lines
        text = await shows(pilot, app, "Node · ip-10-0-1-23", "Alerts on ip-10-0-1-23 · 149",
                           "Falco version: 0.45.0", where=lambda t: "\n│09:" in t)  # fmt: skip
        assert isinstance(app.screen, NodeDetailScreen)
        assert "falco-b23" in text
        alerts = [line for line in text.splitlines() if line.startswith("│09:")]
        assert alerts and all("shop/web-7d9f8" in line for line in alerts)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, FleetScreen)


async def test_help_lists_the_keys_of_the_screen_and_the_app(frozen, screen_text, shows):
    app = frozen()
    async with app.run_test(size=(120, 40)) as pilot:
        await shows(pilot, app, where=all_rows)
        await pilot.press("question_mark")
        await shows(
            pilot, app, "Sort", "Filter", "Open node", "Fleet", "Alerts", "Rules", "Deploy", "Quit", "Command"
        )
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, FleetScreen)


async def test_tiles_show_the_fleet_as_a_heatmap_and_open_the_node_under_the_cursor(
    frozen, screen_text, shows
):
    app = frozen()
    async with app.run_test(size=(100, 30)) as pilot:
        await shows(pilot, app, where=all_rows)
        await pilot.press("down", "down")  # ip-10-0-1-57, crash-looping
        await pilot.press("g")
        text = await shows(pilot, app, "g table", "crash-loop/failing", "no Falco pod")  # and the legend
        assert "NODE" not in text  # the table is gone, its column titles too
        tiles = next(line for line in text.splitlines() if "✗✗" in line)
        assert "!!" in tiles and "✗✗" in tiles  # the crash loop and the node without Falco stand out
        assert "ip-10-0-1-57: CrashLoopBackOff" in text  # the cursor stayed on the same node
        await pilot.press("right")  # ip-10-0-1-80: critical alerts
        await shows(pilot, app, "ip-10-0-1-80: Running 1/1", "worst Critical")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, NodeDetailScreen) and app.screen.node == "ip-10-0-1-80"
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("g")
        await shows(pilot, app, "NODE")
        assert app.screen.current_node() == "ip-10-0-1-80"


async def test_a_click_on_the_highlighted_line_opens_the_node(frozen, screen_text, shows):
    app = frozen()
    async with app.run_test(size=(140, 30)) as pilot:
        await shows(pilot, app, where=all_rows)
        grid = app.screen.grid
        await pilot.click(grid, offset=(3, 1))  # second line: ip-10-0-1-23
        await pilot.pause()
        assert app.screen.current_node() == "ip-10-0-1-23" and isinstance(app.screen, FleetScreen)
        await pilot.click(grid, offset=(3, 1))
        await pilot.pause()
        assert isinstance(app.screen, NodeDetailScreen) and app.screen.node == "ip-10-0-1-23"


async def test_header_shows_when_the_grpc_certificates_expire(frozen, shows):
    from falcotui.ops.deploy.manifests import GRPC_CERTS_EXPIRE

    app = frozen()
    fleet = app.frozen_engine.fleet
    stamped = copy.deepcopy(fleet._ds)  # the frozen DaemonSet, re-sent with the gRPC profile's stamp
    stamped["spec"]["template"]["metadata"]["annotations"] = {GRPC_CERTS_EXPIRE: "2099-03-06T10:00:00Z"}
    fleet.apply("daemonsets", "modified", stamped)
    async with app.run_test(size=(160, 30)) as pilot:
        await shows(pilot, app, "DS 3/4 ready · 4 updated · gRPC certs until 2099-03-06")


async def test_keys_typed_right_after_slash_land_in_the_filter(frozen, shows, until):
    """A fast typist (or a paste, or an SSH link delivering keys in one read) types "/57" at once: the
    keys after "/" reach the app before the filter box would take the focus on a later message."""
    from textual import events
    from textual.widgets import Input

    from falcotui.ui.alerts.screen import AlertsScreen

    def burst(*keys: tuple[str, str]) -> None:  # posted together, as the driver does for one read
        for key, char in keys:
            app.post_message(events.Key(key, char))

    app = frozen()
    async with app.run_test(size=(120, 40)) as pilot:
        await shows(pilot, app, where=all_rows)
        burst(("slash", "/"), ("5", "5"), ("7", "7"))
        assert await until(pilot, lambda: app.screen.query_one("#fleet-filter", Input).value == "57")
        assert await until(pilot, lambda: list(app.screen.grid.names) == ["ip-10-0-1-57"])
        await pilot.press("escape", "escape", "f2")
        assert await until(pilot, lambda: isinstance(app.screen, AlertsScreen))
        burst(("slash", "/"), ("f", "f"), ("r", "r"))  # f and r are the list's follow and group keys
        assert await until(pilot, lambda: app.screen.query_one("#alerts-filter", Input).value == "fr")
