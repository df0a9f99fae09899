"""`e` on Alerts → incident report, in the TUI (pilot) against the simulated cluster over HTTP: simulated
Falcos generate alerts, a pod is quarantined from an alert's detail (a real response action, logged), then
the paused, filtered list is reported — the folder's files opened and checked against its JSONL
(tests/cli/report_checks.py), and the counts against what the engine's view of its store shows on screen.
The palette's command reaches the same report; `e` `j` still writes JSON lines."""

from __future__ import annotations

from falcotui.falco.alerts import Priority, parse_json_alert
from falcotui.ui.alerts.export_menu import ExportMenu
from tests.cli.report_checks import check_actions, check_charts, check_counts, open_report
from tests.ui.conftest import screen_text_of, wait_for, wait_shown
from tests.ui.test_response_actions_sim import _alert, _choose, _confirm, _workload


def _reports(folder) -> list:
    return sorted(p for p in folder.glob("falcotui-report-*") if (p / "report.md").exists())


async def test_e_writes_the_incident_report_of_the_paused_filtered_list(
    demo_app, feed, tmp_path, monkeypatch, hostile
):
    monkeypatch.setenv("FALCOTUI_ACTION_LOG", str(tmp_path / "actions.jsonl"))
    app, demo = demo_app(nodes=2, scenario="quiet", per_minute=300)
    exports = tmp_path / "exports"
    app.services.export_dir = exports
    clients = demo.clients()
    node, pod = _workload(clients)
    line = _alert(node, pod, f"Shell {hostile.CORPUS} <script>alert(1)</script> in {pod}")
    async with app.run_test(size=(160, 50)) as pilot:
        await feed(app, lambda e: e.hub.ingest(parse_json_alert(line, node=node, pod="falco-x")))
        await pilot.press("f2")
        screen = app.screen
        await pilot.press("slash", *f"pod:{pod}", "enter")
        await wait_shown(pilot, app, "Terminal shell in container")
        await pilot.press("enter", "x")  # the detail pane, then its response actions
        await _choose(pilot, app, "quarantine")
        await _confirm(pilot, app)
        assert await wait_for(pilot, lambda: (tmp_path / "actions.jsonl").exists()), screen_text_of(app)

        # the report of what the list shows: Warning and worse, paused (a snapshot: the counts hold still)
        await pilot.press("escape", "escape")  # close the detail, clear the filter
        await pilot.press("slash", *"priority>=critical", "enter")
        assert await wait_for(pilot, lambda: len(screen.alert_list.view) > 1), screen_text_of(app)
        await pilot.press("f")
        assert await wait_for(pilot, lambda: not screen.alert_list.following)
        await pilot.press("e")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ExportMenu))
        hostile.assert_clean(screen_text_of(app), "the export menu")
        await pilot.press("r")
        assert await wait_for(pilot, lambda: len(_reports(exports)) == 1, timeout=60), screen_text_of(app)
        (folder,) = _reports(exports)
        await wait_shown(pilot, app, f"report of {len(screen.alert_list.view)} → {folder}")
        view = screen.alert_list.view
        await screen._sync_side()  # the side counts as the engine's view has them now (held: unchanged)
        shown = {
            "priority": {p.label: n for p, n in view.by_priority.items()},
            "rule": dict(view.group_by_rule()),
            "node": dict(view.group_by_node()),
        }

    report = open_report(folder)
    assert len(report.alerts) == len(view)
    assert all(Priority.parse(a["priority"]) <= Priority.CRITICAL for a in report.alerts)
    check_counts(report)
    check_charts(report, folder)
    check_actions(report)
    # the engine's view (what the screen counted) and the report agree exactly
    assert {r[0]: int(r[1].replace(",", "")) for r in report.page.tables["by-priority"]} == shown["priority"]
    assert {r[0]: int(r[1].replace(",", "")) for r in report.page.tables["by-rule"]} == shown["rule"]
    assert {r[0]: int(r[1].replace(",", "")) for r in report.page.tables["by-node"]} == shown["node"]
    (action,) = report.actions
    assert action["action"] == "quarantine" and action["target"] == f"Pod shop/{pod}"
    assert action["alert"]["rule"] == "Terminal shell in container"
    assert "priority>=critical" in "".join(report.page.text)
    assert "<script>alert(1)</script>" not in report.html
    for text, where in ((report.html, "report.html"), (report.markdown, "report.md")):
        hostile.assert_clean(text, where)


async def test_palette_command_and_jsonl_still_one_key_away(demo_app, tmp_path, monkeypatch):
    monkeypatch.setenv("FALCOTUI_ACTION_LOG", str(tmp_path / "none.jsonl"))
    app, _demo = demo_app(nodes=1, scenario="quiet", per_minute=300)
    exports = tmp_path / "exports"
    app.services.export_dir = exports
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.press("f2")
        screen = app.screen
        assert await wait_for(pilot, lambda: len(screen.alert_list.view) > 0), screen_text_of(app)
        await pilot.press("e", "j")
        assert await wait_for(pilot, lambda: len(list(exports.glob("falcotui-alerts-*.jsonl"))) == 1)
        await pilot.press("f1")
        await app.run_action("command_palette")
        await pilot.press(*"incident report", "enter")
        assert await wait_for(pilot, lambda: len(_reports(exports)) == 1, timeout=60), screen_text_of(app)
        assert app.screen is screen
    (folder,) = _reports(exports)
    report = open_report(folder)
    assert report.alerts and report.actions == []
    check_counts(report)
    check_charts(report, folder)
    assert "No response action was recorded in this window." in report.html
