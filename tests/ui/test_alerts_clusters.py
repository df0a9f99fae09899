"""Many clusters in one Alerts list: alerts read from Falcosidekick's stream carry their cluster
(`output_fields.cluster`); once two clusters are present the list gains a CLUSTER column, and `cluster:`
filters by it. One cluster (or none) keeps the columns as they were."""

from __future__ import annotations

import sys
from pathlib import Path

from falcotui.falco.sidekick import alert_from_payload, payload_for
from falcotui.ui.alerts.alert_row import list_columns

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_alerts_frozen import alert_rows, open_alerts


def test_columns_gain_cluster_only_with_two():
    assert "cluster" not in dict(list_columns(200, {"cluster=prod-eu": 7}))
    cols = dict(list_columns(200, {"cluster=prod-eu": 7, "cluster=prod-us": 7}))
    assert cols["cluster"] == 7 and list(cols)[:3] == ["time", "priority", "cluster"]


async def test_two_clusters_side_by_side(frozen, shows, alert_bytes, feed):
    app = frozen()
    nats_alerts = []
    for i, (cluster, node) in enumerate([("prod-eu", "eu-node-1"), ("prod-us", "us-node-1")] * 3):
        line = alert_bytes.line(9000 + i, node, alert_bytes.NOW + (i + 1) * alert_bytes.NS, 1)
        logged = alert_bytes.parse(line)
        nats_alerts.append(alert_from_payload(payload_for(logged, customfields={"cluster": cluster})))
    async with app.run_test(size=(200, 40)) as pilot:
        await feed(app, lambda engine: [engine.hub.ingest(a) for a in nats_alerts])
        screen = await open_alerts(app, pilot, shows)
        text = await shows(pilot, app, "CLUSTER", "prod-eu", "prod-us")
        rows = [r for r in alert_rows(text) if "node-1" in r]
        assert len(rows) == 6 and sum("prod-us" in r for r in rows) == 3
        await pilot.press("slash", *"cluster:prod-us", "enter")
        await shows(pilot, app, "3 shown")
        assert len(screen.alert_list.view) == 3
