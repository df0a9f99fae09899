"""The TUI as `falcotui --alerts-from nats://…` runs it: the engine in its child process reads the simulated
cluster's pod logs and Falcosidekick's stream; the header shows NATS live, and alerts published only to
NATS (another cluster's) show in the Alerts list with the CLUSTER column."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from falcotui.cli.demo import FAST_TIMINGS, DemoCluster
from falcotui.cli.tui_cmd import build_services
from falcotui.kube.config import Timeouts
from falcotui.ops.engine_placement import ChildPlacement
from falcotui.ops.engine_worker import ConnectOptions
from falcotui.ops.nats_channel import NatsSource
from falcotui.ui.alerts_screen import AlertsScreen
from falcotui.ui.app import FalcoTuiApp

from ..nats.conftest import bare_nats_server, nats_server, numbered, publish, sample_alerts  # noqa: F401 - fixtures


@pytest.fixture
def demo() -> Iterator[DemoCluster]:
    cluster = DemoCluster(seed=3, timings=dict(FAST_TIMINGS), nodes=2, scenario="quiet")
    cluster.start(deploy=True)
    yield cluster
    cluster.stop()


async def test_header_and_list_with_a_nats_source(demo, nats_server, sample_alerts, screen_text, until):  # noqa: F811
    await publish(
        nats_server.url, numbered(sample_alerts, 4, node="eu-node-9"), customfields={"cluster": "eu"}
    )
    await publish(
        nats_server.url, numbered(sample_alerts, 4, node="us-node-9"), customfields={"cluster": "us"}
    )
    services = build_services(
        demo.clients(), namespace="falco", read_only=False, context_name="sim", demo=True,
        connect=ConnectOptions(str(demo.kubeconfig), None, Timeouts(connect=2.0, read=10.0)),
        engine_thread=False, nats=NatsSource.parse(nats_server.url),
    )  # fmt: skip
    assert isinstance(services.engine.placement, ChildPlacement)
    app = FalcoTuiApp(services)
    async with app.run_test(size=(200, 40)) as pilot:
        assert await until(pilot, lambda: "NATS ●" in screen_text(app), timeout=40), screen_text(app)
        await pilot.press("f2")
        assert await until(pilot, lambda: isinstance(app.screen, AlertsScreen))
        shown = lambda: all(w in screen_text(app) for w in ("CLUSTER", "eu-node-9", "us-node-9"))  # noqa: E731
        assert await until(pilot, shown, timeout=40), screen_text(app)
