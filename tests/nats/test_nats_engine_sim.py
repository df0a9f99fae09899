"""The engine with its `nats` channel beside the pods' logs, against the simulated cluster and the real
nats-server: each alert the simulated Falcos log, published again as Falcosidekick would, is stored once
(the NATS copy recognised on the alert's own fields: its uuid is not in the log copy)."""

from __future__ import annotations

from simkit import eventually

from falcotui.falco.sidekick import payload_for, subject_for
from falcotui.ops.channels.nats import NatsSource
from falcotui.ops.engine import Engine, EngineOptions

from ..ops.test_engine_sim import TEST_OPTIONS, falco_cluster  # noqa: F401 - a fixture


async def test_log_and_nats_copies_are_one_alert(falco_cluster, nats_server):  # noqa: F811
    import nats

    _cluster, clients = falco_cluster(scenario="storm", per_minute=1200)
    source = NatsSource.parse(nats_server.url)
    options = EngineOptions(**TEST_OPTIONS, nats=source)
    async with Engine(clients, "falco", channels=("log", "nats"), options=options) as engine:
        await eventually(lambda: len(engine.store) >= 60, "60 alerts through the pods' logs", timeout=60)
        logged = [e.alert for e in list(engine.store)[:60]]
        assert all(a.channel == "log" for a in logged)
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        for alert in logged:  # what Falcosidekick publishes for the alert Falco sent it over http_output
            await js.publish(subject_for(alert), payload_for(alert, customfields={"cluster": "sim"}))
        await nc.close()
        await eventually(lambda: engine.nats.delivered == 60, "the 60 NATS copies read", timeout=60)
        stored = {id(e.alert): e for e in engine.store}
        seen_twice = [e for a in logged if (e := stored.get(id(a))) is not None and "nats" in e.channels]
        assert len(seen_twice) == 60  # every NATS copy merged into its log copy: "via log+nats"
        assert not [e for e in engine.store if e.alert.channel == "nats"]  # none stored a second time
        health = engine.health().nats
        assert health is not None and health.connected and health.delivered == 60 and health.bad == 0
