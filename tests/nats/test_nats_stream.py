"""The stream falcotui proposes and how it finds one (ops/nats_stream.py): subject coverage, sizes and
durations as the nats CLI writes them; and the channel against the real nats-server while the stream is
missing: health says so (the TUI offers to create it from there), and once it is created the channel
picks it up and delivers every alert once."""

from __future__ import annotations

import asyncio

import pytest

from falcotui.ops.alerts.hub import AlertHub
from falcotui.ops.alerts.store import AlertStore
from falcotui.ops.channels.nats import NatsChannel, NatsSource
from falcotui.ops.channels.nats_stream import (
    StreamProblem,
    bytes_text,
    check_stream,
    create_stream,
    duration_text,
    parse_bytes,
    plan_for,
    subject_covers,
)
from falcotui.ops.notices import NoticeLog

from .conftest import numbered, publish, stream_configs


def test_subject_covers():
    assert subject_covers("falco.>", "falco.>")
    assert subject_covers("falco.>", "falco.critical.terminal_shell")
    assert subject_covers(">", "falco.>")
    assert subject_covers("falco.*.*", "falco.critical.x") and subject_covers("falco.*.*", "falco.*.*")
    assert not subject_covers("falco.critical.>", "falco.>")  # collides, does not capture all of it
    assert not subject_covers("falco.*", "falco.>") and not subject_covers("falco.*.x", "falco.*.*")
    assert not subject_covers("falco.>", "falco") and not subject_covers("audit.>", "falco.>")


def test_sizes_durations_and_the_plan():
    assert parse_bytes("10G") == parse_bytes("10GiB") == 10 * 1024**3
    assert parse_bytes("500M") == 500 * 1024**2 and parse_bytes("4096") == 4096
    for bad in ("", "G", "ten", "0", "-5M"):
        with pytest.raises(ValueError):
            parse_bytes(bad)
    assert bytes_text(10 * 1024**3) == "10 GiB" and bytes_text(1500) == "1,500 B"
    assert (duration_text(7 * 86400), duration_text(36 * 3600), duration_text(90)) == ("7d", "36h", "90s")
    plan = plan_for(NatsSource.parse("nats://127.0.0.1:4222", subject="falco.eu.>"))
    assert (plan.name, plan.subjects, plan.retention, plan.storage, plan.discard) == (
        "FALCO", ("falco.eu.>",), "limits", "file", "old",
    )  # fmt: skip
    assert plan.nats_cli() == (
        "nats stream add FALCO --subjects 'falco.eu.>' --storage file --retention limits --discard old "
        "--max-age 7d --max-bytes 10737418240 --replicas 1 --defaults"
    )
    with pytest.raises(ValueError):
        plan_for(NatsSource.parse("nats://h:1"), replicas=6)


async def test_channel_waits_for_the_stream_then_reads_it(bare_nats_server, sample_alerts):
    source = NatsSource.parse(bare_nats_server.url)
    hub, notices = AlertHub(AlertStore(10_000)), NoticeLog()
    channel = NatsChannel(source, hub, notices)
    channel.start()
    try:
        async with asyncio.timeout(30):
            while not channel.health().stream_missing:
                await asyncio.sleep(0.02)
        health = channel.health()
        assert not health.connected and health.missing == "no JetStream stream captures falco.>"
        assert any("no JetStream stream captures falco.>" in n.message for n in notices.recent(10))
        assert (await check_stream(source)).missing
        await create_stream(source, plan_for(source))
        with pytest.raises(StreamProblem, match=r"already captures falco\.>: nothing created"):
            await create_stream(source, plan_for(source))  # never twice, never over an existing one
        alerts = list(numbered(sample_alerts, 1000, node="ip-10-1-1-1"))
        await publish(bare_nats_server.url, alerts)
        async with asyncio.timeout(60):
            while len(hub.store) < 1000:
                await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)  # (nothing more may come: a second copy would show here)
        assert sorted(e.alert.time_ns for e in hub.store) == [a.time_ns for a in alerts]
        health = channel.health()
        assert health.connected and health.missing == "" and not health.stream_missing
        assert health.stream == "FALCO" and health.delivered == 1000
    finally:
        await channel.aclose()
    assert list(await stream_configs(bare_nats_server.url)) == ["FALCO"]
