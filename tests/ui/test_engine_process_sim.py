"""The TUI with its engine in a child process (as `falcotui` runs it) against the simulated cluster: fleet
rows and alerts arrive over the link, every alert the pods logged is held exactly once by the worker, the
Alerts list reads the worker's view, hostile text crosses unchanged and is sanitized on screen, and a killed
worker shows in the header as an engine failure instead of a frozen screen."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from falcotui.cli.demo import FAST_TIMINGS, DemoCluster
from falcotui.cli.tui_cmd import build_services
from falcotui.falco.alerts import dedup_key
from falcotui.kube.client import Timeouts
from falcotui.ops.engine_placement import ChildPlacement
from falcotui.ops.engine_worker import ConnectOptions
from falcotui.ui.alerts.screen import AlertsScreen
from falcotui.ui.app import FalcoTuiApp


def _engine_sim_checks():
    """tests/ops/test_engine_sim.py's ground truth (`server_alerts`: every alert the pod logs hold)."""
    path = Path(__file__).resolve().parent.parent / "ops" / "test_engine_sim.py"
    spec = importlib.util.spec_from_file_location("engine_sim_checks", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


engine_sim = _engine_sim_checks()


@pytest.fixture
def child_app() -> Iterator:
    made: list[DemoCluster] = []

    def make(**demo_kwargs: object) -> tuple[FalcoTuiApp, DemoCluster]:
        demo = DemoCluster(seed=3, timings=dict(FAST_TIMINGS), **demo_kwargs)  # type: ignore[arg-type]
        made.append(demo)
        demo.start(deploy=True)
        services = build_services(
            demo.clients(),
            namespace="falco",
            read_only=False,
            context_name="sim",
            demo=True,
            connect=ConnectOptions(str(demo.kubeconfig), None, Timeouts(connect=2.0, read=10.0)),
            engine_thread=False,
        )
        assert isinstance(services.engine.placement, ChildPlacement)
        return FalcoTuiApp(services), demo

    yield make
    for demo in made:
        demo.stop()


async def stored_keys(app: FalcoTuiApp) -> list[bytes]:
    """The dedup key of every alert the worker's store holds, fetched over the link."""
    engine = app.services.engine
    store = engine.store
    entries = await asyncio.gather(
        *(engine.call("views", "alert", seq) for seq in range(store.first_seq, store.last_seq + 1))
    )
    return [dedup_key(e.alert) for e in entries if e is not None]


async def test_alerts_and_fleet_arrive_from_a_child_engine_exactly_once(child_app, screen_text, until):
    app, demo = child_app(nodes=3, scenario="incident", per_minute=60.0)
    async with app.run_test(size=(160, 40)) as pilot:
        engine = app.services.engine
        assert await until(pilot, lambda: screen_text(app).count("Running 1/1") == 3, timeout=40)
        assert engine.local_engine is None and engine.placement.pid != os.getpid()
        assert await until(pilot, lambda: len(engine.store) >= 30, timeout=40)
        # every alert the pod logs held at a cut-off arrives, nothing twice, nothing the logs do not hold
        clients = demo.clients()
        cutoff = time.time_ns()
        logged = await asyncio.to_thread(engine_sim.server_alerts, clients)
        expected = {k for k, a in logged.items() if a.time_ns <= cutoff}
        keys: list[bytes] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            keys = await stored_keys(app)
            if expected <= set(keys):
                break
            await pilot.pause(0.2)
        assert expected <= set(keys), f"{len(expected - set(keys))} logged alerts never arrived"
        assert len(keys) == len(set(keys)), "an alert was stored twice"
        now_logged = await asyncio.to_thread(engine_sim.server_alerts, clients)
        assert not set(keys) - now_logged.keys(), "an alert arrived that no pod log holds"
        # the fleet grid's alert rates come from the worker's rows: the incident's nodes show alerts
        assert await until(pilot, lambda: sum(r.alerts_per_min for r in engine.fleet.rows()) > 0)
        # and the Alerts list reads the worker's view: its rows are the logged alerts
        await pilot.press("f2")
        assert await until(pilot, lambda: isinstance(app.screen, AlertsScreen))
        rules = {a.rule for a in logged.values()}
        assert await until(pilot, lambda: sum(r in screen_text(app) for r in rules) >= 2), screen_text(app)
        clients.close()


async def test_hostile_text_crosses_the_link_unchanged_and_shows_sanitized(
    child_app, screen_text, until, hostile
):
    app, demo = child_app(nodes=2, scenario="quiet")
    corpus = hostile.CORPUS.replace("\udc80", "")  # the API server's JSON carries no lone surrogate
    async with app.run_test(size=(200, 50)) as pilot:
        engine = app.services.engine
        assert await until(pilot, lambda: screen_text(app).count("Running 1/1") == 2, timeout=40)
        node = sorted(r.name for r in engine.fleet.rows() if r.pod is not None)[0]
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "hostile.1", "namespace": "falco"},
            "involvedObject": {"kind": "Node", "name": node},
            "reason": "Hostile",
            "message": corpus,
            "type": "Warning",
            "count": 1,
            "lastTimestamp": "2026-12-06T13:00:00Z",
        }
        clients = demo.clients()
        await asyncio.to_thread(clients.request, "POST", "/api/v1/namespaces/falco/events", body=event)
        clients.close()
        # the worker's Event, in the UI's mirror, is the server's text byte for byte
        assert await until(pilot, lambda: any(e.message == corpus for e in engine.k8s_events), timeout=20)
        app.screen.grid.focus()
        while app.screen.current_node() != node:
            await pilot.press("down")
        await pilot.press("enter")
        assert await until(pilot, lambda: "Hostile" in screen_text(app) and "PWNED" in screen_text(app))
        hostile.assert_clean(screen_text(app), "node detail over the engine link")


async def test_a_killed_engine_process_shows_in_the_header(child_app, screen_text, until):
    app, _demo = child_app(nodes=2, scenario="quiet")
    async with app.run_test(size=(160, 40)) as pilot:
        engine = app.services.engine
        assert await until(pilot, lambda: screen_text(app).count("Running 1/1") == 2, timeout=40)
        os.kill(engine.placement.pid, signal.SIGKILL)
        header = lambda: screen_text(app).splitlines()[0]  # noqa: E731
        assert await until(pilot, lambda: "engine failure" in header(), timeout=20), header()
        assert "killed by signal 9" in engine.failure()
        await pilot.press("f2")  # still a working UI: keys are answered, the Alerts screen opens
        assert await until(pilot, lambda: isinstance(app.screen, AlertsScreen))
        await pilot.press("f3")
        assert await until(pilot, lambda: app.current_mode == "rules")
        assert app.is_running and "engine failure" in header()
