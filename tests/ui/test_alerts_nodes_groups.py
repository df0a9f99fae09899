"""Issue 17 item 12: per-node counts beside the Alerts list (enter filters to the node), and group-by-rule
rows that say on how many nodes, the worst priority and when each rule last fired."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from falcotui.ui.alerts.count_list import CountList

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_alerts_frozen import alert_rows, open_alerts


async def test_counts_by_node_and_enter_filters_to_it(frozen, screen_text, shows):
    app = frozen()
    async with app.run_test(size=(200, 44)) as pilot:
        screen = await open_alerts(app, pilot, shows)
        await shows(pilot, app, "by node")
        by_node = screen.query_one("#by-node", CountList)
        assert [(key, count) for key, _, count in by_node.rows] == [
            ("ip-10-0-1-23", "149"),
            ("ip-10-0-1-11", "30"),
            ("ip-10-0-1-80", "1"),
        ]
        assert re.search(r"ip-10-0-1-23\s+149", screen_text(app))
        by_node.focus()
        await pilot.press("down", "enter")
        await shows(pilot, app, "node=ip-10-0-1-11")  # exactly that node
        await pilot.pause()
        assert len(screen.alert_list.view) == 30
        await shows(pilot, app, where=lambda text: all("ip-10-0-1-11" in r for r in alert_rows(text)))


async def test_group_by_rule_shows_nodes_worst_and_last_seen(frozen, screen_text, shows, alert_bytes):
    app = frozen()
    # the shell rule fires on a second node too: its group counts two nodes
    line = alert_bytes.line(9000, "ip-10-0-1-11", alert_bytes.NOW - 20 * alert_bytes.NS, 0)
    app.frozen_engine.hub.ingest(alert_bytes.parse(line, node="ip-10-0-1-11", pod="falco-a11"))
    async with app.run_test(size=(200, 44)) as pilot:
        await open_alerts(app, pilot, shows)
        await pilot.press("r")
        text = await shows(pilot, app, "grouped by rule")
        assert re.search(r"120\s+1 node\s+Warning\s+last 09:02:12\s+Read sensitive file untrusted", text), (
            text
        )
        assert re.search(r"30\s+2 nodes\s+Notice\s+last 09:02:12\s+Terminal shell in container", text), text


async def test_by_node_lists_the_busiest_and_says_how_many_nodes(frozen, screen_text, shows, monkeypatch):
    """The side list gets only the TOP_NODES busiest nodes from the engine (at 5,000 nodes, every node's
    count a few times a second was the Alerts screen's largest cost); its title says how many there are."""
    monkeypatch.setattr("falcotui.ui.alerts.screen.TOP_NODES", 2)
    app = frozen()
    async with app.run_test(size=(200, 44)) as pilot:
        screen = await open_alerts(app, pilot, shows)
        await shows(pilot, app, "by node · top 2 of 3")
        by_node = screen.query_one("#by-node", CountList)
        assert [(key, count) for key, _, count in by_node.rows] == [
            ("ip-10-0-1-23", "149"),
            ("ip-10-0-1-11", "30"),
        ]
