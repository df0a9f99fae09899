"""The header's lag says how late lines arrive and, when they are late, on which node and channel."""

from __future__ import annotations

import dataclasses

from falcotui.ops.engine import Health
from falcotui.ui.widgets.common import health_text

BASE = Health(
    server="https://k8s.example:6443", context="prod", namespace="falco", api_reachable=True, api_error="",
    read_only=False, synced=True, log_streams=1000, log_pods=1000, grpc_streams=0, grpc_pods=0, lag_s=None,
    alerts=10, duplicates=0, relists=0, reconnects=0,
)  # fmt: skip


def line(health: Health) -> str:
    return health_text(health, context="prod", namespace="falco", read_only=False, demo=False).plain


def test_calm_prompt_and_late() -> None:
    assert "lag –" in line(BASE)  # nothing late (quiet nodes, replayed history): calm
    prompt = dataclasses.replace(BASE, lag_s=0.2, lag_node="ip-10-0-1-23", lag_channel="log")
    assert "lag 0.2s" in line(prompt) and "ip-10-0-1-23" not in line(prompt)
    late = dataclasses.replace(BASE, lag_s=5.04, lag_node="ip-10-0-1-23", lag_channel="grpc")
    assert "lag 5.0s ip-10-0-1-23 grpc" in line(late)
    text = health_text(late, context="prod", namespace="falco", read_only=False, demo=False)
    assert any(span.style == "red" for span in text.spans)


def test_a_hostile_node_name_is_not_drawn_raw() -> None:
    late = dataclasses.replace(BASE, lag_s=7.0, lag_node="n\x1b[2J[bold]x", lag_channel="log")
    shown = line(late)
    assert "\x1b" not in shown and "lag 7.0s" in shown
