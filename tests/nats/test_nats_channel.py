"""The `nats` channel against the real nats-server with JetStream: replay then live, exact counts through
a server killed with SIGKILL and restarted, a cut connection and a slow consumer; clusters from a field or
the subject."""

from __future__ import annotations

import asyncio
from collections import Counter

from falcotui.falco.sidekick import alert_from_payload, payload_for, rule_slug, subject_for
from falcotui.ops.alerts.hub import AlertHub
from falcotui.ops.alerts.store import AlertStore
from falcotui.ops.channels.nats import NatsChannel, NatsSource, reply_facts
from falcotui.ops.notices import NoticeLog

from .conftest import numbered, publish


def _hub(capacity: int = 200_000) -> AlertHub:
    return AlertHub(AlertStore(capacity))


async def _until(cond, timeout: float = 60.0) -> None:
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(0.02)


def _times(hub: AlertHub) -> Counter:
    return Counter(e.alert.time_ns for e in hub.store)


def test_payload_round_trip(sample_alerts):
    a = sample_alerts[0]
    back = alert_from_payload(payload_for(a, customfields={"cluster": "prod-eu"}))
    assert (back.time_ns, back.rule, back.output, back.priority, back.hostname) == (
        a.time_ns,
        a.rule,
        a.output,
        a.priority,
        a.hostname,
    )
    assert back.output_fields["cluster"] == "prod-eu" and back.channel == "nats" and back.node == a.hostname
    # outputs/nats.go:31: lowercase, runs of other characters to "_", trimmed
    assert rule_slug("Terminal shell in container") == "terminal_shell_in_container"
    assert rule_slug("  Read sensitive file (untrusted)!") == "read_sensitive_file_untrusted"
    assert subject_for(a).startswith(f"falco.{a.priority.label.lower()}.")


def test_reply_facts():
    assert reply_facts("$JS.ACK.FALCO.c1.1.42.40.1733490000000000000.7") == (42, 1733490000000000000, 7)
    assert reply_facts("$JS.ACK.dom.hash.FALCO.c1.1.42.40.1733490000000000000.7.tok") == (
        42,
        1733490000000000000,
        7,
    )
    assert reply_facts("_INBOX.x") is None


async def test_replay_then_live(nats_server, sample_alerts):
    hub = _hub()
    await publish(nats_server.url, numbered(sample_alerts, 300))
    chan = NatsChannel(NatsSource.parse(nats_server.url), hub, NoticeLog())
    chan.start()
    try:
        await _until(lambda: len(hub.store) == 300)
        await publish(nats_server.url, numbered(sample_alerts, 500))  # 300 again (Falco repeats) + 200 new
        await _until(lambda: chan.last_seq == 800)
        await _until(lambda: chan.health().lag_msgs == 0)
        assert len(hub.store) == 500 and hub.duplicates == 300
        h = chan.health()
        assert h.connected and h.stream == "FALCO" and h.delivered == 800 and h.lag_s == 0.0
    finally:
        await chan.aclose()


async def test_server_killed_mid_storm_nothing_lost_nothing_twice(nats_server, sample_alerts):
    hub = _hub()
    chan = NatsChannel(NatsSource.parse(nats_server.url), hub, NoticeLog(), stall_s=1.0)
    chan.start()
    alerts = list(numbered(sample_alerts, 6000))
    try:
        await publish(nats_server.url, alerts[:2000])
        await _until(lambda: chan.delivered >= 500)  # mid-replay
        nats_server.kill()
        nats_server.start()
        await nats_server.wait_ready()
        await publish(nats_server.url, alerts[2000:])
        await _until(lambda: chan.last_seq == 6000, timeout=90)
        times = _times(hub)
        assert len(times) == 6000 and max(times.values()) == 1  # 0 lost, 0 stored twice
        assert chan.delivered == 6000 and hub.duplicates == 0
        assert chan.resumes >= 1
    finally:
        await chan.aclose()


async def test_cut_connection_resumes_from_last_sequence(nats_server, sample_alerts):
    hub = _hub()
    chan = NatsChannel(NatsSource.parse(nats_server.url), hub, NoticeLog())
    chan.start()
    alerts = list(numbered(sample_alerts, 3000))
    try:
        await publish(nats_server.url, alerts[:1000])
        await _until(lambda: chan.delivered >= 200)
        # cut the client's TCP connection under it (nats-py reconnects by itself; we resubscribe)
        transport = chan._nc._transport  # the client's socket: the only way to cut it from this side
        transport.close()
        await publish(nats_server.url, alerts[1000:])
        await _until(lambda: chan.last_seq == 3000)
        times = _times(hub)
        assert len(times) == 3000 and max(times.values()) == 1 and chan.delivered == 3000
    finally:
        await chan.aclose()


async def test_slow_consumer_loses_nothing(nats_server, sample_alerts):
    hub = _hub()
    chan = NatsChannel(NatsSource.parse(nats_server.url), hub, NoticeLog(), stall_s=1.0)
    slow = chan._on_msg

    async def sluggish(msg) -> None:  # a reader that falls far behind a storm
        if chan.delivered % 500 == 0:
            await asyncio.sleep(0.2)
        await slow(msg)

    chan._on_msg = sluggish
    chan.start()
    try:
        await publish(nats_server.url, numbered(sample_alerts, 5000), ack=False)
        await _until(lambda: chan.last_seq == 5000, timeout=90)
        times = _times(hub)
        assert len(times) == 5000 and max(times.values()) == 1
    finally:
        await chan.aclose()


async def test_cluster_from_field_and_subject(nats_server, sample_alerts):
    hub = _hub()
    await publish(
        nats_server.url, numbered(sample_alerts, 10, node="a-1"), customfields={"cluster": "prod-eu"}
    )
    await publish(
        nats_server.url, numbered(sample_alerts, 10, node="b-1"), template="falco.prod-us.<priority>.<rule>"
    )
    chan = NatsChannel(NatsSource.parse(nats_server.url), hub, NoticeLog())
    chan.start()
    try:
        await _until(lambda: len(hub.store) == 20)
        assert Counter(e.alert.output_fields.get("cluster") for e in hub.store) == {"prod-eu": 10, None: 10}
    finally:
        await chan.aclose()
    hub2 = _hub()
    src = NatsSource.parse(nats_server.url, cluster_from="subject:2")
    chan = NatsChannel(src, hub2, NoticeLog())
    chan.start()
    try:
        await _until(lambda: len(hub2.store) == 20)
        # a payload's own field wins; else the subject's token: falco.prod-us.<priority>.<rule>
        got = Counter(e.alert.output_fields.get("cluster") for e in hub2.store)
        assert got == {"prod-eu": 10, "prod-us": 10}
    finally:
        await chan.aclose()


async def test_cluster_filter_and_a_differently_named_field(nats_server, sample_alerts):
    from falcotui.ops.alerts.query import parse_query

    await publish(nats_server.url, numbered(sample_alerts, 7, node="a-1"), customfields={"k8s_cluster": "eu"})
    await publish(nats_server.url, numbered(sample_alerts, 5, node="b-1"), customfields={"k8s_cluster": "us"})
    hub = _hub()
    src = NatsSource.parse(nats_server.url, cluster_from="field:k8s_cluster")
    chan = NatsChannel(src, hub, NoticeLog())
    chan.start()
    try:
        await _until(lambda: chan.caught_up and len(hub.store) == 12)
        us = parse_query("cluster:us").matcher()
        not_eu = parse_query("-cluster:eu").matcher()
        assert sum(us(e.alert, e.channels) for e in hub.store) == 5
        assert sum(not_eu(e.alert, e.channels) for e in hub.store) == 5
    finally:
        await chan.aclose()
