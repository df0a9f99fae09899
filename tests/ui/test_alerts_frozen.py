"""The Alerts screen over a frozen store: hostile text shown literally, filter errors inline, click-to-filter,
follow/pause with a count of new alerts, group by rule, the detail pane, JSONL export, read-only badge."""

from __future__ import annotations

import re

import orjson

from falcotui.falco.alerts import Priority
from falcotui.ui.alerts_screen import AlertsScreen

ROW = re.compile(r"\d\d:\d\d:\d\d\.\d{3} .*")


def alert_rows(text: str) -> list[str]:
    """The list's rows as shown (from the time column on, scrollbar and border cut off)."""
    return [m[0][:-3].rstrip() for line in text.splitlines() if (m := ROW.search(line))]


async def open_alerts(app, pilot) -> AlertsScreen:
    await pilot.pause(0.1)
    await pilot.press("f2")
    await pilot.pause(0.3)
    assert isinstance(app.screen, AlertsScreen)
    return app.screen


async def test_hostile_alert_text_is_shown_literally(frozen, screen_text, alert_bytes):
    app = frozen()
    hostile_rule = "[bold red]PWNED[/] :skull:"
    hostile_output = (
        "\x1b]0;owned\x07\x1b[2J\x1b[31mrm -rf / [link=http://evil.example]click[/link]\r\nfake line"
    )
    line = alert_bytes.line(
        5000, "ip-10-0-1-11", alert_bytes.NOW, 0, output=hostile_output, rule=hostile_rule
    )
    app.services.engine.hub.ingest(alert_bytes.parse(line, node="ip-10-0-1-11", pod="falco-a11"))
    async with app.run_test(size=(200, 40)) as pilot:
        screen = await open_alerts(app, pilot)
        text = screen_text(app)
        row = alert_rows(text)[-1]
        assert "[bold red]PWNED[/] :skull:" in row
        assert "rm -rf / [link=http://evil.example]click[/link" in row
        assert "💀" not in text and "\x1b" not in text and "owned" not in text
        await pilot.press("enter")
        await pilot.pause(0.2)
        text = screen_text(app)
        assert screen.query_one("#alerts-detail").display
        assert "rule [bold red]PWNED[/] :skull:" in text
        assert "[link=http://evil.example]click[/link]␍⏎fake line" in text and "\x1b" not in text


async def test_filter_errors_show_inline_with_the_position(frozen, screen_text):
    app = frozen()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_alerts(app, pilot)
        shown = len(screen.alert_list.view)
        await pilot.press("slash", *"priority>=wat")
        await pilot.pause(0.2)
        text = screen_text(app)
        assert "priority>=wat\n" in text.replace("│", "").replace("  ", "") or "priority>=wat" in text
        assert "^^^" in text and "column 11" in text
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert len(screen.alert_list.view) == shown  # a bad filter changes nothing


async def test_filter_to_one_node_and_one_priority(frozen, screen_text):
    app = frozen()
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await open_alerts(app, pilot)
        await pilot.press("slash", *"node:ip-10-0-1-11 priority>=warning", "enter")
        await pilot.pause(0.3)
        view = screen.alert_list.view
        assert len(view) == 30 and {e.node for e in view} == {"ip-10-0-1-11"}
        rows = alert_rows(screen_text(app))
        assert rows and all("ip-10-0-1-11" in r and "Warning" in r for r in rows)
        assert "30 shown" in screen_text(app)


async def test_click_a_priority_count_to_filter(frozen, screen_text):
    app = frozen()
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await open_alerts(app, pilot)
        await pilot.click("#by-priority", offset=(3, 1))  # the first row: Critical
        await pilot.pause(0.3)
        assert screen.query_obj.least_severe is Priority.CRITICAL
        rows = alert_rows(screen_text(app))
        assert len(rows) == 1 and "Critical" in rows[0] and "Drop and execute new binary" in rows[0]
        assert "priority=critical" in screen_text(app)


async def test_pause_counts_new_alerts_and_follow_catches_up(frozen, screen_text, alert_bytes):
    app = frozen()
    async with app.run_test(size=(160, 40)) as pilot:
        await open_alerts(app, pilot)
        await pilot.press("f")
        await pilot.pause(0.1)
        before = alert_rows(screen_text(app))
        for i in range(3):
            line = alert_bytes.line(7000 + i, "ip-10-0-1-80", alert_bytes.NOW + i, 2)
            app.services.engine.hub.ingest(alert_bytes.parse(line, node="ip-10-0-1-80", pod="falco-d80"))
        await pilot.pause(0.6)
        assert "paused (+3 new)" in screen_text(app)
        assert alert_rows(screen_text(app)) == before  # the screen holds still while paused
        await pilot.press("f")
        await pilot.pause(0.3)
        text = screen_text(app)
        assert "following" in text and alert_rows(text)[-1].count("ip-10-0-1-80") == 1


async def test_group_by_rule_then_pick_a_rule(frozen, screen_text):
    app = frozen()
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await open_alerts(app, pilot)
        await pilot.press("r")
        await pilot.pause(0.3)
        text = screen_text(app)
        assert "grouped by rule" in text
        assert re.search(r"120\s+Read sensitive file untrusted", text)
        assert re.search(r"29\s+Terminal shell in container", text)
        await pilot.press("down", "enter")  # the second group: Clear Log Activities (30)
        await pilot.pause(0.3)
        assert not screen.grouped
        rows = alert_rows(screen_text(app))
        assert len(screen.alert_list.view) == 30 and all("Clear Log Activities" in r for r in rows)


async def test_export_writes_the_current_filter_as_jsonl(frozen, screen_text, tmp_path):
    app = frozen()
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await open_alerts(app, pilot)
        screen.export_dir = tmp_path
        await pilot.press("slash", *"rule:shell", "enter")
        await pilot.pause(0.2)
        await pilot.press("e")
        await pilot.pause(0.3)
        files = list(tmp_path.glob("falcotui-alerts-*.jsonl"))
        assert len(files) == 1
        lines = files[0].read_bytes().splitlines()
        assert len(lines) == 29 and {orjson.loads(x)["rule"] for x in lines} == {
            "Terminal shell in container"
        }
        assert f"exported 29 → {tmp_path}" in screen_text(app)


async def test_read_only_mode_shows_the_badge(frozen, screen_text):
    app = frozen(read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.2)
        assert "READ-ONLY" in screen_text(app).splitlines()[0]
        assert app.read_only
    writable = frozen()
    async with writable.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.2)
        assert "READ-ONLY" not in screen_text(writable)


async def test_click_a_field_value_in_the_detail_to_filter(frozen, screen_text):
    app = frozen()
    async with app.run_test(size=(160, 44)) as pilot:
        screen = await open_alerts(app, pilot)
        await pilot.press("enter")  # the newest alert: Critical on ip-10-0-1-80, namespace data
        await pilot.pause(0.3)
        assert "k8s.ns.name" in screen_text(app)
        await pilot.click(".detail-fields", offset=(2, 2))  # third field: k8s.ns.name = data
        await pilot.pause(0.3)
        assert "k8s.ns.name:data" in screen_text(app)
        view = screen.alert_list.view
        assert len(view) == 1 and view.get(0).namespace == "data"
