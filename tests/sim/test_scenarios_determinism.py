"""Scenarios: reproducible per node with a seed, and each shaped as its name promises."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from falcotui.falco.image import image_plugin_settings
from falcotui.sim.falco.runtime import FalcoRuntime
from falcotui.sim.nodes.runtime import ContainerContext, ContainerLog
from falcotui.sim.scenarios import NS, Incident, ScenarioError, make_scenario

# our falco.yaml replaces the image's, so it carries the image's plugin definition and suggested output
CONFIG = (
    "config_files: [/etc/falco/config.d]\nrules_files: [/etc/falco/falco_rules.yaml]\njson_output: true\n"
    + image_plugin_settings("main-2026-07-31")
)
T0 = 1_795_000_000 * NS


def kinds(scenario, node: str, seconds: float, start: int = T0) -> list[tuple[int, str | None]]:
    return scenario.events(node, start).due(start + int(seconds * NS))


@pytest.mark.parametrize("name", ["quiet", "incident", "storm", "flaky"])
def test_same_seed_same_events_per_node(name: str) -> None:
    a = make_scenario(name, seed=42, rate=50)
    b = make_scenario(name, seed=42, rate=50)
    if isinstance(a, Incident):
        b.anchor_ns = a.anchor_ns = T0
    assert kinds(a, "node-1", 120) == kinds(b, "node-1", 120)
    assert kinds(a, "node-1", 120) != kinds(a, "node-2", 120)
    assert kinds(a, "node-1", 120) != kinds(make_scenario(name, seed=43, rate=50), "node-1", 120)


def test_storm_delivers_rate_per_second_per_node() -> None:
    storm = make_scenario("storm", rate=250)
    events = storm.events("node-1", T0)
    assert len(events.due(T0 + 4 * NS)) == 1000
    assert len(events.due(T0 + 5 * NS)) == 250  # no event handed out twice


def test_quiet_is_a_few_alerts_a_minute() -> None:
    counts = [len(kinds(make_scenario("quiet", seed=s), "node-1", 600)) for s in range(5)]
    assert all(20 <= c <= 70 for c in counts), counts  # ~4/min over 10 minutes


def test_incident_bursts_shells_and_sensitive_reads_on_some_nodes_then_quiet() -> None:
    inc = make_scenario("incident", seed=1, delay=5, duration=10, burst_rate=20)
    inc.anchor_ns = T0
    nodes = [f"node-{i}" for i in range(12)]
    affected = [n for n in nodes if inc.affected(n)]
    assert 0 < len(affected) < len(nodes)
    for node in nodes:
        events = kinds(inc, node, 60)
        burst = [k for t, k in events if k is not None]
        if node in affected:
            assert len(burst) > 100 and set(burst) >= {"shell", "sensitive_read"}
            assert all(T0 + 5 * NS <= t < T0 + 15 * NS for t, k in events if k is not None)
        else:
            assert burst == []


def test_flaky_cuts_at_random_reproducible_times() -> None:
    flaky = make_scenario("flaky", seed=9, cut_every=2.0)
    cuts = flaky.cuts("node-1", T0)
    first = [next(cuts) for _ in range(5)]
    again = make_scenario("flaky", seed=9, cut_every=2.0).cuts("node-1", T0)
    assert first == [next(again) for _ in range(5)]
    assert first == sorted(first) and len(set(first)) == 5
    assert list(make_scenario("quiet").cuts("node-1", T0)) == []


def test_unknown_scenario_is_a_clear_error() -> None:
    with pytest.raises(ScenarioError, match="unknown scenario 'chaos'"):
        make_scenario("chaos")
    with pytest.raises(ScenarioError, match="--rate must be positive"):
        make_scenario("storm", rate=0)
    with pytest.raises(ScenarioError, match="per_minute must not be negative"):
        make_scenario("quiet", per_minute=-1)
    with pytest.raises(ScenarioError, match="scenario 'quiet'"):
        make_scenario("quiet", burst_rate=3)


async def _alert_sequence(seed: int, node: str, count: int) -> list[tuple]:
    rt = FalcoRuntime(make_scenario("storm", rate=400, seed=seed), tick=0.02)
    log = ContainerLog()
    ctx = ContainerContext("falco", f"falco-{node}", "uid", node, "127.0.0.2", "falco",
                           "falcosecurity/falco:0.45.0", ["-c", "/cfg/falco.yaml"], {"FALCO_HOSTNAME": node},
                           {"/cfg/falco.yaml": CONFIG}, False, 0, log)  # fmt: skip
    handle = await rt.start(ctx)
    for _ in range(500):
        docs = [orjson.loads(r.text) for r in log.records() if r.stream == "stdout"]
        if len(docs) >= count:
            break
        await asyncio.sleep(0.02)
    await handle.stop()
    out = []
    for d in docs[:count]:
        fields = {k: v for k, v in d["output_fields"].items() if k != "evt.time"}
        out.append((d["rule"], d["priority"], d["output"].split(" ", 1)[1], tuple(sorted(fields.items()))))
    return out


async def test_same_seed_reproduces_the_alerts_themselves() -> None:
    first = await _alert_sequence(5, "node-1", 30)
    assert len(first) == 30
    assert await _alert_sequence(5, "node-1", 30) == first
    assert await _alert_sequence(6, "node-1", 30) != first


async def test_switching_scenario_changes_the_alert_rate_of_running_falcos() -> None:
    rt = FalcoRuntime(make_scenario("quiet", seed=1, per_minute=0.001), tick=0.02)
    log = ContainerLog()
    ctx = ContainerContext("falco", "falco-a", "uid", "node-1", "127.0.0.2", "falco",
                           "falcosecurity/falco:0.45.0", ["-c", "/cfg/falco.yaml"], {},
                           {"/cfg/falco.yaml": CONFIG}, False, 0, log)  # fmt: skip
    handle = await rt.start(ctx)
    stdout = lambda: [r for r in log.records() if r.stream == "stdout"]  # noqa: E731
    for _ in range(25):
        await asyncio.sleep(0.02)
    assert stdout() == []
    rt.set_scenario(make_scenario("storm", rate=300, seed=1))
    for _ in range(500):
        if len(stdout()) >= 20:
            break
        await asyncio.sleep(0.02)
    assert len(stdout()) >= 20
    await handle.stop()
