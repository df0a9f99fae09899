"""The Alerts screen over a frozen store: hostile text shown literally, filter errors inline, click-to-filter,
follow/pause with a count of new alerts, group by rule, the detail pane, JSONL export, read-only badge."""

from __future__ import annotations

import re

import orjson

from falcotui.falco.alerts import Priority
from falcotui.ui.alerts.screen import AlertsScreen

ROW = re.compile(r"\d\d:\d\d:\d\d(\.\d{3})? +(Emergency|Alert|Critical|Error|Warning|Notice|Info|Debug) .*")


def alert_rows(text: str) -> list[str]:
    """The list's rows as shown (from the time column on, scrollbar and border cut off)."""
    return [m[0][:-3].rstrip() for line in text.splitlines() if (m := ROW.search(line))]


async def open_alerts(app, pilot, shows) -> AlertsScreen:
    """F2, then wait (bounded) until the Alerts screen shows rows: the list fills on the app's tick."""
    await pilot.pause()
    await pilot.press("f2")
    await shows(pilot, app, where=lambda text: isinstance(app.screen, AlertsScreen) and alert_rows(text))
    return app.screen


async def test_hostile_alert_text_is_shown_literally(frozen, screen_text, shows, alert_bytes):
    app = frozen()
    hostile_rule = "[bold red]PWNED[/] :skull:"
    hostile_output = (
        "\x1b]0;owned\x07\x1b[2J\x1b[31mrm -rf / [link=http://evil.example]click[/link]\r\nfake line"
    )
    line = alert_bytes.line(
        5000, "ip-10-0-1-11", alert_bytes.NOW, 0, output=hostile_output, rule=hostile_rule
    )
    app.frozen_engine.hub.ingest(alert_bytes.parse(line, node="ip-10-0-1-11", pod="falco-a11"))
    async with app.run_test(size=(200, 40)) as pilot:
        screen = await open_alerts(app, pilot, shows)
        text = screen_text(app)
        row = alert_rows(text)[-1]
        assert "[bold red]PWNED[/] :skull:" in row
        assert "rm -rf / [link=http://evil.example]click[/link" in row
        assert "💀" not in text and "\x1b" not in text and "owned" not in text
        await pilot.press("enter")
        text = await shows(pilot, app, "rule [bold red]PWNED[/] :skull:")
        assert screen.query_one("#alerts-detail").display
        assert "[link=http://evil.example]click[/link]␍⏎fake line" in text and "\x1b" not in text


async def test_filter_errors_show_inline_with_the_position(frozen, screen_text, shows):
    app = frozen()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_alerts(app, pilot, shows)
        shown = len(screen.alert_list.view)
        await pilot.press("slash", *"priority>=wat")
        await shows(pilot, app, "priority>=wat", "^^^", "column 11")
        await pilot.press("enter")
        await pilot.pause()
        assert len(screen.alert_list.view) == shown  # a bad filter changes nothing


async def test_filter_to_one_node_and_one_priority(frozen, screen_text, shows):
    app = frozen()
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await open_alerts(app, pilot, shows)
        await pilot.press("slash", *"node:ip-10-0-1-11 priority>=warning", "enter")
        only = lambda rows: bool(rows) and all("ip-10-0-1-11" in r and "Warning" in r for r in rows)  # noqa: E731
        await shows(pilot, app, "30 shown", where=lambda text: only(alert_rows(text)))
        view = screen.alert_list.view
        assert len(view) == 30 and {e.node for e in await view.rows(0, len(view))} == {"ip-10-0-1-11"}


async def test_click_a_priority_count_to_filter(frozen, screen_text, shows):
    app = frozen()
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await open_alerts(app, pilot, shows)
        await pilot.click("#by-priority", offset=(3, 1))  # the first row: Critical
        await shows(pilot, app, "priority=critical")
        assert screen.query_obj.least_severe is Priority.CRITICAL
        await shows(pilot, app, where=lambda text: len(alert_rows(text)) == 1)
        rows = alert_rows(screen_text(app))
        assert len(rows) == 1 and "Critical" in rows[0] and "Drop and execute new binary" in rows[0]
        assert "priority=critical" in screen_text(app)


async def test_pause_counts_new_alerts_and_follow_catches_up(frozen, screen_text, shows, alert_bytes, feed):
    app = frozen()
    async with app.run_test(size=(160, 40)) as pilot:
        await open_alerts(app, pilot, shows)
        await pilot.press("f")
        await shows(pilot, app, "paused")
        before = alert_rows(screen_text(app))
        for i in range(3):
            line = alert_bytes.line(7000 + i, "ip-10-0-1-80", alert_bytes.NOW + i, 2)
            alert = alert_bytes.parse(line, node="ip-10-0-1-80", pod="falco-d80")
            await feed(app, lambda engine, alert=alert: engine.hub.ingest(alert))
        await shows(pilot, app, "paused (+3 new)")
        assert alert_rows(screen_text(app)) == before  # the screen holds still while paused
        await pilot.press("f")
        text = await shows(pilot, app, "following")
        text = await shows(pilot, app, where=lambda text: alert_rows(text)[-1] != before[-1])
        assert alert_rows(text)[-1].count("ip-10-0-1-80") == 1


async def test_group_by_rule_then_pick_a_rule(frozen, screen_text, shows):
    app = frozen()
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await open_alerts(app, pilot, shows)
        await pilot.press("r")
        text = await shows(pilot, app, "grouped by rule")
        # each group: alerts, nodes, worst priority, last seen, the rule
        assert re.search(
            r"120\s+1 node\s+Warning\s+last \d\d:\d\d:\d\d\s+Read sensitive file untrusted", text
        )
        assert re.search(r"29\s+1 node\s+Notice\s+last \d\d:\d\d:\d\d\s+Terminal shell in container", text)
        await pilot.press("down", "enter")  # the second group: Clear Log Activities (30)
        await pilot.pause()
        assert not screen.grouped and len(screen.alert_list.view) == 30
        only = lambda rows: bool(rows) and all("Clear Log Activities" in r for r in rows)  # noqa: E731
        await shows(pilot, app, where=lambda text: only(alert_rows(text)))


async def test_export_writes_the_current_filter_as_jsonl(frozen, screen_text, shows, tmp_path):
    app = frozen()
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await open_alerts(app, pilot, shows)
        screen.export_dir = tmp_path
        await pilot.press("slash", *"rule:shell", "enter")
        await pilot.pause()
        await pilot.press("e", "j")
        await shows(pilot, app, "exported 29")
        files = list(tmp_path.glob("falcotui-alerts-*.jsonl"))
        assert len(files) == 1
        lines = files[0].read_bytes().splitlines()
        assert len(lines) == 29 and {orjson.loads(x)["rule"] for x in lines} == {
            "Terminal shell in container"
        }
        assert f"exported 29 → {tmp_path}" in screen_text(app)


async def test_read_only_mode_shows_the_badge(frozen, screen_text, shows):
    app = frozen(read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await shows(pilot, app, "Fleet")
        assert "READ-ONLY" in screen_text(app).splitlines()[0]
        assert app.read_only
    writable = frozen()
    async with writable.run_test(size=(80, 24)) as pilot:
        await shows(pilot, writable, "Fleet")
        assert "READ-ONLY" not in screen_text(writable)


async def test_click_a_field_value_in_the_detail_to_filter(frozen, screen_text, shows, until):
    app = frozen()
    async with app.run_test(size=(160, 44)) as pilot:
        screen = await open_alerts(app, pilot, shows)
        await pilot.press("enter")  # the newest alert: Critical on ip-10-0-1-80, namespace data
        await shows(pilot, app, "k8s.ns.name")
        await pilot.click(".detail-fields", offset=(2, 2))  # third field: k8s.ns.name = data
        await shows(pilot, app, "k8s.ns.name:data")
        view = screen.alert_list.view
        # the filter box shows the query at once; the filtered rows come with a later tick's fetch
        assert await until(pilot, lambda: len(view) == 1), len(view)
        assert view.get(0).namespace == "data"


# ---------------------------------------------------------------- columns that fit the width

LONG_OUTPUT = (
    "Sensitive file opened for reading by non-trusted program (file=/etc/shadow gparent=systemd "
    "evt_type=openat user=root user_uid=0 process=cat proc_exepath=/usr/bin/cat parent=bash "
    "command=cat /etc/shadow terminal=34816 container_id=c0ffee000123 image=docker.io/library/nginx:1.25)"
)


def add_long_alert(app, alert_bytes) -> None:
    line = alert_bytes.line(8000, "ip-10-0-1-80", alert_bytes.NOW + 1, 2, output=LONG_OUTPUT)
    app.frozen_engine.hub.ingest(alert_bytes.parse(line, node="ip-10-0-1-80", pod="falco-d80"))


def shown_output(row: str) -> str:
    """The part of LONG_OUTPUT a row shows (the list cuts it with an ellipsis)."""
    start = row.index("Sensitive file opened")
    return row[start:].rstrip(" │▁▂▃▄▅▆▇█").removesuffix("…")


async def test_a_wide_screen_gives_the_output_the_room(frozen, screen_text, shows, alert_bytes):
    app = frozen()
    add_long_alert(app, alert_bytes)
    async with app.run_test(size=(200, 60)) as pilot:
        await open_alerts(app, pilot, shows)
        text = screen_text(app)
        row = next(
            line for line in text.splitlines() if "c0ffee" in line or "Sensitive file opened for" in line
        )
        row = alert_rows(text)[-1]
        assert "Drop and execute new binary in container" in row  # the longest rule, whole
        assert "data/db-0" in row and "ip-10-0-1-80" in row
        shown = shown_output(row)
        assert LONG_OUTPUT.startswith(shown)
        # the old layout gave OUTPUT 47 of the 157 columns; now everything the other columns leave
        assert len(shown) >= 60, shown
        header = next(line for line in text.splitlines() if "PRIORITY" in line)
        assert header.index("OUTPUT") - header.index("TIME") < 100


async def test_80x24_keeps_time_priority_rule_namespace_pod_and_a_readable_output(
    frozen, screen_text, shows, alert_bytes
):
    app = frozen()
    add_long_alert(app, alert_bytes)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_alerts(app, pilot, shows)
        text = screen_text(app)
        header = next(line for line in text.splitlines() if "PRIORITY" in line)
        # issue 17 item 11: 80x24 used to drop NAMESPACE/POD; the workload matters more than the node
        assert header.split() == ["│TIME", "PRIORITY", "RULE", "NAMESPACE/POD", "OUTPUT", "│"]
        row = next(line for line in text.splitlines() if "Critical" in line and "09:02:17" in line)
        assert re.search(r"│09:02:17 Critical Drop and execute \S+ +data/db-0 +Sensitive", row), row
        assert len(shown_output(row)) >= 20


async def test_120x40_shows_every_column_and_the_side_counts_fit(frozen, screen_text, shows):
    app = frozen()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_alerts(app, pilot, shows)
        text = screen_text(app)
        header = next(line for line in text.splitlines() if "PRIORITY" in line)
        for title in ("TIME", "PRIORITY", "RULE", "NODE", "NAMESPACE/POD", "OUTPUT"):
            assert title in header
        assert any("shop/web-7d9f8 Sensitive file opened for" in r for r in alert_rows(text))
        lines = text.splitlines()
        top = next(i for i, line in enumerate(lines) if "by priority" in line)
        bottom = next(i for i in range(top + 1, len(lines)) if lines[i].startswith("╰"))
        # one row per priority and nothing else (a too-wide column used to add a scrollbar row)
        assert [line.split("│")[1].split() for line in lines[top + 1 : bottom]] == [
            ["Critical", "1"],
            ["Warning", "150"],
            ["Notice", "29"],
        ]


async def test_node_detail_at_80x24_shows_all_facts_and_no_node_column(frozen, screen_text, shows):
    app = frozen()
    async with app.run_test(size=(80, 24)) as pilot:
        await shows(pilot, app, "ip-10-0-1-23")
        await pilot.press("down", "enter")  # ip-10-0-1-23
        text = await shows(pilot, app, "Alerts on ip-10-0-1-23 · 149 · following")
        for fact in (
            "node     ip-10-0-1-23 · Ready",
            "restarts 0 · ready 1/1",
            "version 0.45.0",
            "reload",
            "worst",
        ):
            assert fact in text, fact
        assert "Alerts on ip-10-0-1-23 · 149 · following" in text
        header = next(line for line in text.splitlines() if "PRIORITY" in line)
        assert "NODE" not in header and "NAMESPACE/POD" in header  # every row is this node: no NODE column
        rows = alert_rows(text)
        assert len(rows) >= 12 and all("shop/web-7d9f8" in r for r in rows)


def test_columns_always_fill_the_row_and_keep_the_essentials():
    """Any width, any content: the columns add up to the width, TIME, PRIORITY, RULE and OUTPUT stay, and
    OUTPUT gets at least its minimum; on a big screen nothing is dropped."""
    from falcotui.ui.alerts.alert_row import OUTPUT_MIN, list_columns

    needs = [{}, {"rule": 5, "node": 3, "pod": 1}, {"rule": 60, "node": 45, "pod": 70, "priority": 9}]
    for width in range(66, 401, 3):  # 77 at 80x24
        for need in needs:
            for hide in ((), ("node",)):
                columns = list_columns(width, need, hide=hide)
                names = [n for n, _ in columns]
                assert sum(w for _, w in columns) + len(columns) - 1 == width, (width, need, columns)
                assert names[:3] == ["time", "priority", "rule"] and names[-1] == "output"
                assert dict(columns)["output"] >= OUTPUT_MIN
                assert not set(hide) & set(names)
                if width >= 200:
                    assert names == [
                        "time",
                        "priority",
                        "rule",
                        *(n for n in ("node",) if n not in hide),
                        "pod",
                        "output",
                    ]


async def test_the_list_holds_still_while_an_alert_is_read(frozen, screen_text, shows, alert_bytes, feed):
    app = frozen()
    async with app.run_test(size=(160, 44)) as pilot:
        screen = await open_alerts(app, pilot, shows)
        await pilot.press("enter")  # the newest alert: Critical on ip-10-0-1-80
        await shows(pilot, app, "rule Drop and execute new binary in container")
        chosen = screen.alert_list.current()
        for i in range(3):
            line = alert_bytes.line(7100 + i, "ip-10-0-1-11", alert_bytes.NOW + i, 3)
            alert = alert_bytes.parse(line, node="ip-10-0-1-11", pod="falco-a11")
            await feed(app, lambda engine, alert=alert: engine.hub.ingest(alert))
        text = await shows(pilot, app, "paused (+3 new)")
        assert screen.alert_list.current() is chosen  # the highlighted row is still the one in the pane
        assert any("Critical Drop and execute" in r for r in alert_rows(text))  # and it is still in sight
        assert "rule Drop and execute new binary in container" in text
        await pilot.press("escape")  # closing the pane follows again, to the newest
        await shows(pilot, app, "following")
        await shows(pilot, app, where=lambda text: "ip-10-0-1-11" in alert_rows(text)[-1])
        assert screen.alert_list.current().alert.rule == "Clear Log Activities"


async def test_export_goes_to_the_users_data_dir_by_default_private_and_named(
    frozen, shows, until, tmp_path, monkeypatch
):
    """Issue 17 item 12: export always went into the current directory. Now: the data dir (or
    --export-dir), the file 0600 (alerts hold command lines), and the toast names the path."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    app = frozen()
    async with app.run_test(size=(160, 40)) as pilot:
        await open_alerts(app, pilot, shows)
        await pilot.press("e", "j")
        await shows(pilot, app, "exported")
        (path,) = (tmp_path / "data" / "falcotui" / "exports").glob("falcotui-alerts-*.jsonl")
        assert path.stat().st_mode & 0o777 == 0o600
        assert path.parent.stat().st_mode & 0o777 == 0o700
        assert not list(tmp_path.glob("falcotui-alerts-*.jsonl"))
        assert any(str(path) in str(n.message) for n in app._notifications)

        app.services.export_dir = tmp_path / "chosen"
        await pilot.press("e", "j")
        await shows(pilot, app, str(tmp_path / "chosen"))
        assert len(list((tmp_path / "chosen").glob("falcotui-alerts-*.jsonl"))) == 1
        await pilot.press("e", "j")  # again, maybe within the same second: a second file, not an overwrite
        assert await until(pilot, lambda: len(list((tmp_path / "chosen").glob("falcotui-alerts-*"))) == 2)
