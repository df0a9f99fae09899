"""The TUI as `falcotui --alerts-from nats://…` runs it: the engine in its child process reads the simulated
cluster's pod logs and Falcosidekick's stream; the header shows NATS live, and alerts published only to
NATS (another cluster's) show in the Alerts list with the CLUSTER column."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from textual.command import CommandPalette

from falcotui.cli.demo import FAST_TIMINGS, DemoCluster
from falcotui.cli.tui_cmd import build_services
from falcotui.kube.client import Timeouts
from falcotui.ops.channels.nats import NatsSource
from falcotui.ops.engine_placement import ChildPlacement
from falcotui.ops.engine_worker import ConnectOptions
from falcotui.ui.alerts.nats_stream import COMMAND as NATS_COMMAND
from falcotui.ui.alerts.screen import AlertsScreen
from falcotui.ui.app import FalcoTuiApp
from falcotui.ui.widgets.dialogs import ConfirmDialog

from ..nats.conftest import (  # noqa: F401 - fixtures
    bare_nats_server,
    nats_server,
    numbered,
    publish,
    sample_alerts,
    stream_configs,
)
from ..support.pilot_waits import ready
from .test_app_misc import palette_pick


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


def _services(demo: DemoCluster, url: str, *, read_only: bool = False):
    return build_services(
        demo.clients(), namespace="falco", read_only=read_only, context_name="sim", demo=True,
        connect=ConnectOptions(str(demo.kubeconfig), None, Timeouts(connect=2.0, read=10.0)),
        engine_thread=False, nats=NatsSource.parse(url),
    )  # fmt: skip


async def _palette_create(pilot, app, until) -> None:
    await pilot.press("colon")
    assert await until(pilot, lambda: CommandPalette.is_open(app))
    await pilot.press(*"create the nats")
    assert await until(pilot, lambda: palette_pick(app) == NATS_COMMAND), palette_pick(app)
    await pilot.press("enter")
    assert await until(pilot, lambda: ready(app.screen, ConfirmDialog) is not None, timeout=20)


async def test_missing_stream_offered_declined_then_created(
    demo,
    bare_nats_server,  # noqa: F811
    sample_alerts,  # noqa: F811
    screen_text,
    until,
):
    url = bare_nats_server.url
    app = FalcoTuiApp(_services(demo, url))
    async with app.run_test(size=(200, 40)) as pilot:
        said = "no JetStream stream captures falco.>"
        assert await until(pilot, lambda: said in screen_text(app), timeout=40), screen_text(app)
        assert "':' to create" in screen_text(app)
        notices = lambda: [n for n in app._notifications if n.title == "NATS stream missing"]  # noqa: E731
        assert await until(pilot, lambda: len(notices()) == 1)
        assert NATS_COMMAND in notices()[0].message and said in notices()[0].message
        await _palette_create(pilot, app, until)  # declined: nothing created
        body = app.screen.body.plain
        for shown in ("name       FALCO", "subjects   falco.>", "retention  limits", "storage    file",
                      "max age    7d", "max bytes  10 GiB", "discard    old", "replicas   1"):  # fmt: skip
            assert shown in body, body
        await pilot.click("#cancel")
        assert await until(pilot, lambda: not isinstance(app.screen, ConfirmDialog))
        await pilot.pause(0.5)
        assert await stream_configs(url) == {}
        await _palette_create(pilot, app, until)  # confirmed: the stream, then the alerts, once each
        await pilot.click("#confirm")
        created = lambda: any(n.message == "created stream FALCO (falco.>)" for n in app._notifications)  # noqa: E731
        assert await until(pilot, created, timeout=20)
        assert list(await stream_configs(url)) == ["FALCO"]
        assert await until(pilot, lambda: "NATS ●" in screen_text(app), timeout=40), screen_text(app)
        await publish(url, numbered(sample_alerts, 30, node="eu-node-7"), customfields={"cluster": "eu"})
        delivered = lambda: app.health.nats.delivered  # noqa: E731
        assert await until(pilot, lambda: delivered() == 30, timeout=40), delivered()
        assert len(notices()) == 1  # said once per absence
        await pilot.press("f2")
        assert await until(pilot, lambda: "eu-node-7" in screen_text(app), timeout=40), screen_text(app)


async def test_read_only_says_so_and_creates_nothing(demo, bare_nats_server, screen_text, until):  # noqa: F811
    url = bare_nats_server.url
    app = FalcoTuiApp(_services(demo, url, read_only=True))
    async with app.run_test(size=(200, 40)) as pilot:
        notices = lambda: [n for n in app._notifications if n.title == "NATS stream missing"]  # noqa: E731
        assert await until(pilot, lambda: len(notices()) == 1, timeout=40), screen_text(app)
        assert "--read-only: falcotui will not create it" in notices()[0].message
        app.offer_nats_stream()  # what the palette's command runs
        refused = "--read-only: the stream is not created"
        assert await until(pilot, lambda: any(refused in n.message for n in app._notifications))
        assert not isinstance(app.screen, ConfirmDialog)
    assert await stream_configs(url) == {}
