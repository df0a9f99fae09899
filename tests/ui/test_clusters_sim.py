"""Two simulated clusters side by side in the TUI (one kubeconfig, two contexts, `falcotui --context east
--context west`): the fleet of fleets shows both, ⏎ drills into one cluster's own fleet, the Alerts screen
merges both with the CLUSTER column and the `cluster:` filter, a response action on a west alert names west
in its confirmation and changes west only (the same-named pod in east, read through east's API, is as it
was), and when east's API server dies its row says so while west keeps streaming."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import DataTable

from falcotui.cli.demo import FAST_TIMINGS, DemoCluster, merged_kubeconfig
from falcotui.cli.tui_clusters import build_clusters
from falcotui.falco.alerts import parse_json_alert
from falcotui.kube.client import Timeouts, load_clients
from falcotui.ops.alerts.query import parse_query
from falcotui.ops.deploy.rollout import RESTARTED_AT
from falcotui.ops.engine_worker import ConnectOptions
from falcotui.ui.alerts.response import ActionsMenu
from falcotui.ui.app import FalcoTuiApp
from falcotui.ui.deploy.screen import DeployScreen
from falcotui.ui.fleet.fleets import ClustersScreen
from falcotui.ui.fleet.screen import FleetScreen
from falcotui.ui.widgets.dialogs import ConfirmDialog
from tests.ui.conftest import screen_text_of, wait_for, wait_shown
from tests.ui.test_response_actions_sim import NS, _alert, _choose, _confirm, _workload

NAMES = ("east", "west")
TIMEOUTS = Timeouts(connect=1.0, read=5.0)


@pytest.fixture
def two(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[dict[str, DemoCluster], Path]]:
    monkeypatch.setenv("FALCOTUI_ENGINE", "thread")
    monkeypatch.setenv("FALCOTUI_ACTION_LOG", str(tmp_path / "actions.jsonl"))
    demos = {n: DemoCluster(nodes=2, scenario="quiet", seed=3, timings=dict(FAST_TIMINGS)) for n in NAMES}
    try:
        for demo in demos.values():
            demo.start(deploy=True)
        path = merged_kubeconfig({n: d.kubeconfig for n, d in demos.items()}, tmp_path / "kubeconfig")  # type: ignore[misc]
        yield demos, path
    finally:
        for demo in demos.values():
            demo.stop()


def _app(kubeconfig: Path) -> FalcoTuiApp:
    clusters = build_clusters(
        NAMES,
        {n: load_clients(str(kubeconfig), n, timeouts=TIMEOUTS) for n in NAMES},
        {n: ConnectOptions(str(kubeconfig), n, TIMEOUTS) for n in NAMES},
        namespace="falco",
        read_only=False,
        demo=True,
    )
    return FalcoTuiApp(clusters.services["east"], clusters=clusters, contexts=NAMES)


async def _ingest(app: FalcoTuiApp, cluster: str, line: bytes, node: str) -> None:
    placement = app.clusters.fleets.placement  # type: ignore[union-attr]
    await placement.run_in_cluster(
        cluster, lambda e: e.hub.ingest(parse_json_alert(line, node=node, pod="falco-x"))
    )


async def test_two_clusters_side_by_side(two) -> None:
    demos, kubeconfig = two
    clients = {n: demos[n].clients() for n in NAMES}
    placed = {n: _workload(clients[n]) for n in NAMES}
    app = _app(kubeconfig)
    async with app.run_test(size=(170, 45)) as pilot:
        # the fleet of fleets: a row per cluster, both live, each with its nodes; the header names both
        assert isinstance(app.screen, ClustersScreen)
        text = await wait_shown(
            pilot, app, "east", "west", where=lambda t: t.count(" live ") >= 2 and t.count("DS 2/2") >= 2
        )
        header = text.splitlines()[0]
        assert "east" in header and "west" in header

        # drill into west: its own Fleet screen, the header now on west; esc comes back
        table = app.screen.query_one(DataTable)
        table.move_cursor(row=1)
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: isinstance(app.screen, FleetScreen))
        assert app.services.context_name == "west"
        west_nodes = {n["metadata"]["name"] for n in clients["west"].request("GET", "/api/v1/nodes")["items"]}
        await wait_shown(pilot, app, *sorted(west_nodes)[:1])
        assert screen_text_of(app).splitlines()[0].count("west")

        # Deploy now acts on west: its restart asks with west's name and restarts west's Falco only
        def restarted(name: str) -> str | None:
            ds = clients[name].request("GET", "/apis/apps/v1/namespaces/falco/daemonsets/falco")
            return ((ds["spec"]["template"].get("metadata") or {}).get("annotations") or {}).get(RESTARTED_AT)

        assert restarted("east") is None and restarted("west") is None
        await pilot.press("f4")
        assert await wait_for(pilot, lambda: isinstance(app.screen, DeployScreen))
        await pilot.press("r")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        text = await wait_shown(pilot, app, "cluster west", "Restart Falco on every node?")
        assert "cluster east" not in text
        await _confirm(pilot, app)
        assert await wait_for(pilot, lambda: restarted("west") is not None)
        assert restarted("east") is None
        await pilot.press("f1")
        assert await wait_for(pilot, lambda: isinstance(app.screen, FleetScreen))
        await pilot.press("escape")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ClustersScreen))

        # alerts from both clusters, merged, with the CLUSTER column; the cluster: filter narrows to one
        for name in NAMES:
            node, pod = placed[name]
            await _ingest(app, name, _alert(node, pod, f"shell mark-{name} in {pod}"), node)
        await pilot.press("f2")
        text = await wait_shown(pilot, app, "CLUSTER", "mark-east", "mark-west")
        screen = app.screen
        screen.apply_query(parse_query("cluster:west mark-west"))  # type: ignore[attr-defined]
        text = await wait_shown(pilot, app, "mark-west", where=lambda t: "mark-east" not in t)

        # a response action on west's alert: asked with west's name, applied to west only
        app.screen.alert_list.focus()  # type: ignore[attr-defined]
        await pilot.press("home", "enter")  # its detail
        await wait_shown(pilot, app, "cluster", "west", where=lambda t: t.count("mark-west") >= 2)
        await pilot.press("x")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ActionsMenu)), screen_text_of(app)
        await wait_shown(pilot, app, "cluster west")
        dialog = await _choose(pilot, app, "quarantine")
        text = await wait_shown(pilot, app, "cluster west", "on west", "context west")
        assert "cluster east" not in text and dialog.cluster == "west"
        await _confirm(pilot, app)

        def labels(name: str) -> dict:
            pod = placed[name][1]
            return (
                clients[name].request("GET", f"/api/v1/namespaces/{NS}/pods/{pod}")["metadata"].get("labels")
                or {}
            )

        def policies(name: str) -> list:
            path = f"/apis/networking.k8s.io/v1/namespaces/{NS}/networkpolicies"
            return clients[name].request("GET", path)["items"]

        assert await wait_for(
            pilot, lambda: "falcotui.io/quarantine" in labels("west") and len(policies("west")) == 1
        )
        assert "falcotui.io/quarantine" not in labels("east") and policies("east") == []
        records = [json.loads(x) for x in (kubeconfig.parent / "actions.jsonl").read_text().splitlines()]
        assert [(r["action"], r["context"]) for r in records] == [("quarantine", "west")]

        # east's API server dies: its row says so, west keeps streaming into the merged list
        demos["east"].stop()
        await pilot.press("f1")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ClustersScreen))
        await wait_shown(pilot, app, "API unreachable", where=lambda t: " live " in t)
        row_east = next(line for line in screen_text_of(app).splitlines() if line.lstrip().startswith("east"))
        assert "API unreachable" in row_east
        node, pod = placed["west"]
        await _ingest(app, "west", _alert(node, pod, "after-east-died"), node)
        await pilot.press("f2")
        screen = app.screen
        screen.apply_query(parse_query("cluster:west"))  # type: ignore[attr-defined]
        screen.alert_list.focus()  # type: ignore[attr-defined]
        await pilot.press("end")  # follow again
        await wait_shown(pilot, app, "after-east-died")


async def test_ctx_picks_several_contexts_and_a_opens_one_clusters_alerts(two) -> None:
    from falcotui.cli.tui_cmd import build_services
    from falcotui.ui.alerts.screen import AlertsScreen
    from falcotui.ui.fleet.fleets import ContextsPrompt
    from falcotui.ui.reconnect import Reconnect

    _, kubeconfig = two
    clients = load_clients(str(kubeconfig), "east", timeouts=TIMEOUTS)
    services = build_services(clients, namespace="falco", read_only=False, context_name="east")
    app = FalcoTuiApp(services, contexts=NAMES)
    async with app.run_test(size=(140, 40)) as pilot:
        app.ask_contexts()  # what `:` → "ctx: clusters side by side…" runs
        assert await wait_for(pilot, lambda: isinstance(app.screen, ContextsPrompt))
        await wait_shown(pilot, app, "east", "west", "space: tick")
        await pilot.press("down", "space", "enter")  # tick west beside east (ticked: the one followed)
    assert app.return_value == Reconnect(None, "falco", ("east", "west"))

    app = _app(kubeconfig)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_shown(pilot, app, "east", "west", where=lambda t: t.count(" live ") >= 2)
        app.screen.query_one(DataTable).move_cursor(row=1)
        await pilot.press("a")
        assert await wait_for(pilot, lambda: isinstance(app.screen, AlertsScreen))
        await wait_shown(pilot, app, "cluster:west")
        assert app.screen.query_obj.to_text() == "cluster:west"  # type: ignore[attr-defined]
