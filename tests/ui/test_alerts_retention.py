"""Issue 17 item 8, retention that says what it keeps: the Alerts title says how many are kept of the
capacity (`--max-alerts`) and how many older alerts were dropped; a paused list is a snapshot — filtering
while paused does not pull newer alerts in, and following again lets them in."""

from __future__ import annotations

import sys
from pathlib import Path

from falcotui.cli.tui_cmd import build_parser, tui_options

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_alerts_frozen import alert_rows, open_alerts


def test_max_alerts_option_reaches_the_tui():
    args = tui_options(build_parser().parse_args(["--max-alerts", "5000"]))
    assert args.max_alerts == 5000
    assert tui_options(build_parser().parse_args([])).max_alerts == 100_000


async def test_title_counts_kept_of_capacity_and_dropped(frozen, shows):
    app = frozen(max_alerts=100)
    store = app.frozen_engine.store
    assert len(store) == 100 and store.evicted > 0
    async with app.run_test(size=(200, 40)) as pilot:
        await open_alerts(app, pilot, shows)
        await shows(pilot, app, f"100 of 100 kept · older alerts dropped: {store.evicted} ·")


async def test_paused_list_is_a_snapshot_even_when_filtered(frozen, screen_text, shows, alert_bytes, feed):
    app = frozen()
    async with app.run_test(size=(200, 40)) as pilot:
        screen = await open_alerts(app, pilot, shows)
        await pilot.press("f")
        await shows(pilot, app, "paused")
        for i in range(3):
            line = alert_bytes.line(7000 + i, "ip-10-0-1-80", alert_bytes.NOW + i, 2)
            alert = alert_bytes.parse(line, node="ip-10-0-1-80", pod="falco-d80")
            await feed(app, lambda engine, alert=alert: engine.hub.ingest(alert))
        await shows(pilot, app, "paused (+3 new)")
        # a filter while paused looks at the same moment: ip-10-0-1-80's one earlier alert, not the new three
        await pilot.press("slash", *"node:ip-10-0-1-80", "enter")
        await shows(pilot, app, "node:ip-10-0-1-80")
        await pilot.pause()
        assert len(screen.alert_list.view) == 1
        text = await shows(pilot, app, "1 shown", "paused (+3 new)")
        assert len(alert_rows(text)) == 1
        await pilot.press("f")
        await shows(pilot, app, "4 shown", "following")
        assert len(screen.alert_list.view) == 4


async def test_rows_go_by_alert_time_across_nodes(frozen, screen_text, shows, alert_bytes, feed):
    """Each node's log arrives in batches: one node's batch, then another's. The rows interleave by time."""
    app = frozen()
    async with app.run_test(size=(200, 40)) as pilot:
        await open_alerts(app, pilot, shows)
        base = alert_bytes.NOW + 10 * alert_bytes.NS
        batches = []
        for node, pod, offsets in (
            ("ip-10-0-1-80", "falco-d80", (2, 4)),
            ("ip-10-0-1-11", "falco-a11", (1, 3)),
        ):
            for k in offsets:  # node 80's batch arrives first, though node 11's alerts interleave with it
                line = alert_bytes.line(7200 + k, node, base + k * alert_bytes.NS, 2)
                batches.append(alert_bytes.parse(line, node=node, pod=pod))
        await feed(app, lambda engine: [engine.hub.ingest(alert) for alert in batches])  # one engine step
        text = await shows(pilot, app, "09:02:31")
        last = alert_rows(text)[-4:]
        assert [r[:8] for r in last] == ["09:02:28", "09:02:29", "09:02:30", "09:02:31"], last
        assert ["ip-10-0-1-11" in r for r in last] == [True, False, True, False]
