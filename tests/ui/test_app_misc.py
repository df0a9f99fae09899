"""App-wide behaviour: the command palette's commands, NO_COLOR, mode switching keys, clean quit."""

from __future__ import annotations

import re

from textual.command import CommandList, CommandPalette

from falcotui.falco.alerts import Priority
from falcotui.ui.alerts.screen import AlertsScreen
from falcotui.ui.fleet.screen import FleetScreen
from falcotui.ui.reconnect import Reconnect


def palette_pick(app) -> str:
    """The command the palette's enter would run (its highlighted hit); "" while it is still searching (it
    adds its hits in batches, a quarter of a second apart)."""
    if not CommandPalette.is_open(app):
        return ""
    hits = app.screen.query_one(CommandList)
    if hits.highlighted is None:
        return ""
    prompt = hits.get_option_at_index(hits.highlighted).prompt
    return getattr(prompt, "plain", str(prompt)).splitlines()[0]  # the command, not its help line


async def test_command_palette_switches_screen_with_a_filter(frozen, screen_text, until):
    app = frozen()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await pilot.press("colon")
        assert await until(pilot, lambda: CommandPalette.is_open(app))
        await pilot.press(*"critical and worse")
        assert await until(pilot, lambda: palette_pick(app) == "Alerts: Critical and worse"), palette_pick(
            app
        )
        await pilot.press("enter")
        assert await until(pilot, lambda: "priority>=critical" in screen_text(app))
        assert isinstance(app.screen, AlertsScreen)
        assert app.screen.query_obj.least_severe is Priority.CRITICAL


async def test_function_keys_switch_screens_and_escape_goes_home(frozen, until):
    app = frozen()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        for key, mode in (("f2", "alerts"), ("f3", "rules"), ("f4", "deploy"), ("f1", "fleet")):
            await pilot.press(key)
            assert await until(pilot, lambda m=mode: app.current_mode == m), (mode, app.current_mode)
        await pilot.press("f2")
        assert await until(pilot, lambda: app.current_mode == "alerts")
        await pilot.press("escape")
        assert await until(pilot, lambda: app.current_mode == "fleet" and isinstance(app.screen, FleetScreen))
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code in (0, None)


async def test_no_color_gives_a_monochrome_screen(frozen, monkeypatch, screen_text, until):
    monkeypatch.setenv("NO_COLOR", "1")
    app = frozen()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("f2")
        assert await until(
            pilot, lambda: isinstance(app.screen, AlertsScreen) and "shown" in screen_text(app)
        )
        svg = app.export_screenshot()
    window_buttons = {"ff5f57", "febc2e", "28c840"}  # the screenshot frame's decoration, not the app
    colours = set(re.findall(r"#([0-9a-f]{6})", svg)) - window_buttons
    assert colours

    def grey(c: str) -> bool:  # the SVG theme's own default text colour (#c5c8c6) is a near-grey
        r, g, b = (int(c[i : i + 2], 16) for i in (0, 2, 4))
        return max(r, g, b) - min(r, g, b) <= 8

    assert all(grey(c) for c in colours), sorted(c for c in colours if not grey(c))


async def test_switch_namespace_checks_the_name_then_asks_for_a_reconnect(frozen, screen_text, until):
    app = frozen()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await pilot.press("colon")
        assert await until(pilot, lambda: CommandPalette.is_open(app))
        await pilot.press(*"switch falco namespace")
        assert await until(pilot, lambda: palette_pick(app) == "Switch Falco namespace…"), palette_pick(app)
        await pilot.press("enter")
        assert await until(pilot, lambda: "Falco namespace · type to narrow" in screen_text(app))
        # the frozen cluster cannot be reached: no list, but a typed name still works
        assert await until(pilot, lambda: "cannot list namespaces" in screen_text(app), timeout=30)
        await pilot.press("ctrl+u", *"Bad_NS", "enter")
        assert await until(pilot, lambda: "lower-case letters, digits and '-'" in screen_text(app))
        await pilot.press("ctrl+u", *"falco-2", "enter")
        assert await until(pilot, lambda: app.return_value is not None)
    assert app.return_value == Reconnect(None, "falco-2")


async def test_unreachable_cluster_is_reported_in_the_header_not_a_crash(frozen, screen_text, until):
    app = frozen()
    app.start_engine = True  # the frozen engine's API address is a closed loopback port
    async with app.run_test(size=(160, 30)) as pilot:
        assert await until(pilot, lambda: "cannot reach the Kubernetes API" in screen_text(app), timeout=30)
        assert "cannot reach the Kubernetes API at http://127.0.0.1:9" in screen_text(app).splitlines()[0]
        await pilot.press("f2")
        # still usable: the stored state can be browsed
        assert await until(pilot, lambda: isinstance(app.screen, AlertsScreen))


async def test_the_key_bar_lists_the_screens_keys_and_a_click_presses_one(frozen, screen_text, until):
    app = frozen()
    async with app.run_test(size=(120, 36)) as pilot:
        assert await until(pilot, lambda: "Sort" in screen_text(app).splitlines()[-1])
        bar = screen_text(app).splitlines()[-1]
        words = bar.split()  # the screen's keys first (words shortened to fit them all), then the app's
        assert words[:4] == ["s", "Sort", "/", "Filter"]
        assert words[-12:] == ["F1", "Fleet", "F2", "Alerts", "F3", "Rules", "F4", "Deploy", "?", "Help", "q",
                               "Quit"]  # fmt: skip
        assert {"g", "l", "d"} <= set(words)
        column = bar.index("F2")
        await pilot.click(offset=(column + 1, 35))  # on "F2" in the bottom line
        assert await until(
            pilot, lambda: " f  Follow " in screen_text(app).splitlines()[-1]
        )  # words shortened to fit every key
        assert isinstance(app.screen, AlertsScreen)
        assert "Sort" not in screen_text(app).splitlines()[-1]  # the Alerts screen's own keys now


async def test_ctrl_p_opens_the_command_palette_everywhere_help_says_it_does(frozen, until):
    app = frozen()
    async with app.run_test(size=(120, 36)) as pilot:
        for mode in ("fleet", "alerts", "rules"):
            await pilot.press({"fleet": "f1", "alerts": "f2", "rules": "f3"}[mode])
            assert await until(pilot, lambda m=mode: app.current_mode == m)
            await pilot.press("ctrl+p")
            assert await until(pilot, lambda: CommandPalette.is_open(app)), f"ctrl+p on {mode}"
            await pilot.press("escape")
            assert await until(pilot, lambda: not CommandPalette.is_open(app))


async def test_a_node_filter_takes_a_short_name_and_says_when_it_matches_no_node(frozen, until, screen_text):
    """Issue 17 item 12: `node:03` found nothing, silently."""
    app = frozen()
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("f2")
        assert await until(pilot, lambda: isinstance(app.screen, AlertsScreen))
        screen = app.screen
        screen.apply_query(screen.query_obj.with_term("node", "23"))
        assert await until(pilot, lambda: len(screen.alert_list.view) > 0)
        assert {
            a.node
            for a in (e.alert for e in await screen.alert_list.view.rows(0, len(screen.alert_list.view)))
        } == {"ip-10-0-1-23"}
        assert "matches none" not in screen_text(app)
        screen.apply_query(screen.query_obj.with_term("node", "99"))
        assert await until(pilot, lambda: "node:99 matches none of the 5 nodes" in screen_text(app))


def _styles_of(app, word: str) -> list:
    """The styles of every painted segment holding `word` (as the compositor sends them to the terminal)."""
    return [
        seg.style for strip in app.screen._compositor.render_strips() for seg in strip if word in seg.text
    ]


async def test_no_color_tells_priorities_and_tiles_apart_without_colour(
    frozen, monkeypatch, screen_text, until
):
    """Issue 17 item 6: under NO_COLOR, Error and Critical rows were the least readable (red → dark grey),
    and the tiles legend was greys that could not be told apart."""
    monkeypatch.setenv("NO_COLOR", "1")
    app = frozen()
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("f2")
        assert await until(
            pilot, lambda: isinstance(app.screen, AlertsScreen) and "Critical" in screen_text(app)
        )
        critical, warning = _styles_of(app, "Critical"), _styles_of(app, "Warning")
        assert critical and all(s.bold and s.underline for s in critical)
        assert warning and not any(s.bold or s.dim for s in warning)  # plain weight, below Error's bold
        from falcotui.falco.alerts import Priority
        from falcotui.ui.widgets.common import priority_style

        assert priority_style(Priority.ERROR) == "bold" and "reverse" in priority_style(Priority.ALERT)
        await pilot.press("f1")
        assert await until(pilot, lambda: isinstance(app.screen, FleetScreen))
        await pilot.press("g")
        text = await until(pilot, lambda: "critical+" in screen_text(app)) and screen_text(app)
        legend = next(line for line in text.splitlines() if "critical+" in line)
        for glyph, label in (("██", "critical+"), ("▓▓", "error"), ("▒▒", "warning"), ("░░", "notice/info")):
            assert f"{glyph} {label}" in legend


async def test_a_cluster_without_falco_says_so_once_and_points_at_deploy(demo_app, until, screen_text):
    """Issue 17 (smaller): every row said "no DaemonSet" and nothing pointed at F4."""
    app, _demo = demo_app(nodes=2, deploy=False)
    async with app.run_test(size=(160, 30)) as pilot:
        assert await until(
            pilot, lambda: "Falco is not deployed in falco: F4 Deploy" in screen_text(app), timeout=30
        )
        rows = [line for line in screen_text(app).splitlines() if "sim-node-0" in line]
        assert rows and all("–" in row for row in rows)  # RST: a dash where there is no pod, not 0


async def test_esc_on_alerts_clears_the_filter_first_then_goes_back_as_on_fleet(frozen, until, screen_text):
    """Issue 17 item 10: Esc cleared the filter on Fleet but left the screen on Alerts."""
    app = frozen()
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("f2")
        assert await until(pilot, lambda: isinstance(app.screen, AlertsScreen))
        screen = app.screen
        await pilot.press("slash", *"rule:shell", "enter")
        assert await until(pilot, lambda: not screen.query_obj.is_empty)
        await pilot.press("escape")
        assert await until(pilot, lambda: screen.query_obj.is_empty)
        assert app.current_mode == "alerts"
        await pilot.press("escape")
        assert await until(pilot, lambda: app.current_mode == "fleet")


async def test_the_alert_detail_says_a_field_can_be_picked(frozen, until, screen_text):
    """Issue 17 item 10: pick-to-filter from the detail was undiscoverable."""
    app = frozen()
    async with app.run_test(size=(140, 44)) as pilot:
        await pilot.press("f2")
        assert await until(
            pilot, lambda: isinstance(app.screen, AlertsScreen) and len(app.screen.alert_list.view)
        )
        await pilot.press("enter")
        assert await until(pilot, lambda: "a click on a field: narrow the filter to it" in screen_text(app))


async def test_a_cut_log_stream_is_loud_in_the_header_and_detailed_on_the_node(
    frozen, until, screen_text, feed
):
    """Issue 17 item 7: log cuts never showed (the header stayed "logs ●8")."""
    app = frozen()
    node = "ip-10-0-1-23"
    async with app.run_test(size=(160, 40)) as pilot:
        await feed(app, lambda engine: engine.hub.set_channel(node, "log", True, pod="falco-x"))
        await feed(
            app,
            lambda engine: engine.hub.set_channel(
                node, "log", False, pod="falco-x", detail="log stream cut: connection reset"
            ),
        )
        assert await until(pilot, lambda: f"cut: {node}" in screen_text(app).splitlines()[0])
        assert "↻1" in screen_text(app).splitlines()[0]
        app.screen.grid.focus()
        while app.screen.current_node() != node:
            await pilot.press("down")
        await pilot.press("enter")
        assert await until(pilot, lambda: "streams" in screen_text(app))
        text = screen_text(app)
        assert "log down" in text and "1 cut (last" in text and "connection reset" in text
        await feed(app, lambda engine: engine.hub.set_channel(node, "log", True, pod="falco-x"))
        assert await until(pilot, lambda: "cut:" not in screen_text(app).splitlines()[0])


async def test_a_bad_filter_shows_the_message_with_the_caret(frozen, until, screen_text):
    """Issue 17 (smaller): a bad filter showed a caret with no message."""
    app = frozen()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f2")
        assert await until(pilot, lambda: isinstance(app.screen, AlertsScreen))
        await pilot.press("slash", *"nod:x")
        assert await until(pilot, lambda: "unknown filter key 'nod'" in screen_text(app))
        text = screen_text(app)
        assert "^^^" in text and "(column 1)" in text
