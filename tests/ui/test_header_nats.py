"""The header's NATS part: the source's state (connected, how far behind the stream), its error sanitized."""

from __future__ import annotations

import dataclasses

from falcotui.ops.channels.nats import NatsHealth
from falcotui.ui.widgets.common import health_text

from .test_header_lag import BASE

NATS = NatsHealth(servers="nats://n:4222", stream="FALCO", connected=True, detail="stream FALCO via n:4222",
                  delivered=10, last_seq=10, lag_msgs=0, lag_s=0.0, resumes=0, bad=0)  # fmt: skip


def line(nats: NatsHealth | None) -> str:
    health = dataclasses.replace(BASE, nats=nats)
    return health_text(health, context="prod", namespace="falco", read_only=False, demo=False).plain


def test_nats_in_the_header() -> None:
    assert "NATS" not in line(None)
    assert "NATS ●" in line(NATS) and "behind" not in line(NATS)
    assert "NATS ● behind 1,200 3.5s" in line(dataclasses.replace(NATS, lag_msgs=1200, lag_s=3.5))
    down = dataclasses.replace(NATS, connected=False, detail="disconnected;\x1b[31m reconnecting")
    assert "NATS ○ disconnected;" in line(down) and "\x1b" not in line(down)


def test_a_missing_stream_being_created_is_said_instead_of_offered() -> None:
    missing = dataclasses.replace(
        NATS, connected=False, missing="no JetStream stream captures falco.>", stream_missing=True
    )
    health = dataclasses.replace(BASE, nats=missing)
    offered = health_text(health, context="prod", namespace="falco", read_only=False, demo=False).plain
    assert "':' to create" in offered
    creating = health_text(
        health, context="prod", namespace="falco", read_only=False, demo=False, nats_creating="FALCO\x1b[2J"
    ).plain
    assert "creating stream FALCO" in creating and "':' to create" not in creating and "\x1b" not in creating
