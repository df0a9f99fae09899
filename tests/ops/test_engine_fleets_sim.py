"""Two simulated clusters in one engine worker (one kubeconfig, two contexts): each cluster's engine ticks its
own rows, the merged store holds both clusters' alerts with the cluster field set from the context name,
de-duplication stays per cluster, and a cluster whose API server is gone does not stall the other."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from falcotui.cli.demo import FAST_TIMINGS, DemoCluster, merged_kubeconfig
from falcotui.kube.client import Timeouts, load_clients
from falcotui.ops.alerts.query import parse_query
from falcotui.ops.engine import EngineOptions
from falcotui.ops.engine_fleets import ClusterSpec, FleetsSpec
from falcotui.ops.engine_fleets_client import FleetsClient, fleets_client
from falcotui.ops.engine_worker import ConnectOptions, EngineSpec
from falcotui.ui.alerts.remote_view import remote_view

NAMES = ("east", "west")


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, DemoCluster], Path]]:
    demos = {name: DemoCluster(nodes=2, scenario="incident", seed=i + 3, timings=dict(FAST_TIMINGS))
             for i, name in enumerate(NAMES)}  # fmt: skip
    try:
        for demo in demos.values():
            demo.start(deploy=True)
        path = tmp_path_factory.mktemp("fleets") / "kubeconfig"
        merged_kubeconfig({n: d.kubeconfig for n, d in demos.items()}, path)  # type: ignore[misc]
        yield demos, path
    finally:
        for demo in demos.values():
            demo.stop()


def spec_of(kubeconfig: Path, names=NAMES) -> FleetsSpec:
    opts = EngineOptions(tail_lines=None, probe_interval=0.3, delete_grace=0.5)
    timeouts = Timeouts(connect=1.0, read=5.0)
    specs = [EngineSpec(ConnectOptions(str(kubeconfig), n, timeouts), "falco", options=opts) for n in names]
    return FleetsSpec(tuple(ClusterSpec(n, s) for n, s in zip(names, specs, strict=True)))


def client_of(kubeconfig: Path, *, thread: bool) -> FleetsClient:
    spec = spec_of(kubeconfig)
    ui = {n: load_clients(str(kubeconfig), n, timeouts=Timeouts(connect=1.0, read=5.0)) for n in NAMES}
    return fleets_client(spec, ui, thread=thread)


async def until(fleets: FleetsClient, check, timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await fleets.tick()
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not reached: states {fleets.states}, errors {fleets.errors}")


@pytest.mark.parametrize("thread", [True, False], ids=["thread", "child"])
async def test_two_clusters_tick_apart_and_merge_alerts(two, thread: bool) -> None:
    demos, kubeconfig = two
    fleets = client_of(kubeconfig, thread=thread)
    try:
        await fleets.start()
        await until(
            fleets,
            lambda: (
                all(s.phase == "running" for s in fleets.states.values())
                and all(len(c.fleet.nodes) == 3 for c in fleets.clients.values())
                and all(c.store.counts.kept >= 5 for c in fleets.clients.values())
            ),
        )
        for name, client in fleets.clients.items():
            assert client.health is not None and client.health.context == name
            assert client.health.server == demos[name].cluster.url  # type: ignore[union-attr]
        # the merged store holds each cluster's alerts, each named after its context
        both = remote_view(fleets.merged, parse_query(""))
        await both.update()
        merged_kept = fleets.merged.store.counts.kept
        assert merged_kept >= sum(c.store.counts.kept for c in fleets.clients.values()) - 50
        for name in NAMES:
            view = remote_view(fleets.merged, parse_query(f"cluster:{name}"))
            await view.update()
            assert len(view) > 0
            rows = await view.rows(0, min(len(view), 20))
            assert {r.alert.output_fields["cluster"] for r in rows} == {name}
            # a cluster's own view (its node detail) holds its alerts only
            own = remote_view(fleets.clients[name], parse_query(""))
            await own.update()
            assert len(own) > 0
        # de-duplication stays per cluster: the same alert from both channels is stored once per cluster,
        # so the merged total is exactly the sum of what each cluster stored
        await until(fleets, lambda: True, timeout=1)
        totals = {n: c.store.counts.total_seen for n, c in fleets.clients.items()}
        assert fleets.merged.store.counts.total_seen <= sum(totals.values())
    finally:
        await fleets.stop()


async def test_one_cluster_unreachable_does_not_stall_the_other(two, tmp_path: Path) -> None:
    demos, _ = two
    # a third context whose API server is a closed port: it keeps retrying, its state says why
    dead = DemoCluster(nodes=1, scenario="quiet", seed=9, timings=dict(FAST_TIMINGS))
    dead.start(deploy=False)
    path = merged_kubeconfig({"east": demos["east"].kubeconfig, "gone": dead.kubeconfig}, tmp_path / "kc")  # type: ignore[dict-item]
    dead.stop()
    names = ("east", "gone")
    ui = {n: load_clients(str(path), n, timeouts=Timeouts(connect=1.0, read=5.0)) for n in names}
    fleets = fleets_client(spec_of(path, names), ui, thread=True)
    try:
        await fleets.start()
        await until(
            fleets,
            lambda: (
                fleets.states["east"].phase == "running"
                and fleets.states["gone"].phase in ("retrying", "connecting")
                and fleets.states["gone"].error != ""
                and fleets.clients["east"].store.counts.kept > 0
            ),
        )
        assert "cannot reach the Kubernetes API" in fleets.states["gone"].error
        before = fleets.clients["east"].store.counts.total_seen
        await until(fleets, lambda: fleets.clients["east"].store.counts.total_seen > before)
    finally:
        await fleets.stop()


async def test_on_a_thread_the_engines_use_the_ui_clients(two) -> None:
    """On a thread (FALCOTUI_ENGINE=thread, or chosen because a cluster's exec credential plugin may ask the
    user: `needs_terminal`, tests/ops/test_engine_placement.py) each cluster's engine uses the UI's own
    clients, the ones the app lends the terminal to; in a child each builds its own."""
    from falcotui.ops.engine_fleets_client import FleetsThreadPlacement

    _, kubeconfig = two
    ui = {n: load_clients(str(kubeconfig), n, timeouts=Timeouts(connect=1.0, read=5.0)) for n in NAMES}
    fleets = fleets_client(spec_of(kubeconfig), ui, thread=True)
    assert isinstance(fleets.placement, FleetsThreadPlacement)
    try:
        await fleets.link()  # the worker has built its engines (none started yet)
        host = fleets.placement.fleets_host
        assert host is not None
        assert all(host.clusters[n].engine.clients is ui[n] for n in NAMES)  # type: ignore[union-attr]
    finally:
        await fleets.stop()
    child = fleets_client(spec_of(kubeconfig), ui, thread=None)  # no plugin here that could prompt
    assert not isinstance(child.placement, FleetsThreadPlacement)
    await child.stop()


async def test_dedup_stays_per_cluster(two) -> None:
    """The same alert twice in one cluster (its log and its gRPC output) is stored once; the same alert in
    two clusters is two alerts, each under its own cluster."""
    import json

    from falcotui.falco.alerts import format_iso8601_ns, parse_json_alert

    _, kubeconfig = two
    fleets = client_of(kubeconfig, thread=True)
    t = time.time_ns()
    line = json.dumps({
        "hostname": "sim-node-01", "priority": "Critical", "rule": "Hctx same", "source": "syscall",
        "time": format_iso8601_ns(t), "tags": [], "output": "09:00:00.000000000: Critical same text",
        "output_fields": {"evt.time": t},
    })  # fmt: skip

    def ingest(engine) -> None:
        for channel in ("log", "grpc"):
            alert = parse_json_alert(line, node="sim-node-01", pod="falco-x")
            alert.channel = channel
            engine.hub.ingest(alert)

    try:
        await fleets.start()
        for name in NAMES:
            await fleets.placement.run_in_cluster(name, ingest)
        view = remote_view(fleets.merged, parse_query("rule:hctx"))

        async def merged() -> int:
            await fleets.tick()
            await view.update()
            return len(view)

        deadline = time.monotonic() + 20
        while await merged() < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        rows = await view.rows(0, len(view))
        assert sorted(r.alert.output_fields["cluster"] for r in rows) == ["east", "west"]
        assert all(set(r.channels) == {"log", "grpc"} for r in rows)  # the second copy merged, not stored
    finally:
        await fleets.stop()
