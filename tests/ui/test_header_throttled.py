"""The header says "throttled" while the API server pushes back (not "unreachable", not silence) and shows
an exec credential plugin's failure, sanitized."""

from __future__ import annotations

import dataclasses

from falcotui.ops.engine import Health
from falcotui.ui.widgets.common import health_text

BASE = Health(
    server="https://k8s.example:6443", context="prod", namespace="falco", api_reachable=True, api_error="",
    read_only=False, synced=True, log_streams=1000, log_pods=1000, grpc_streams=0, grpc_pods=0, lag_s=0.2,
    alerts=10, duplicates=0, relists=0, reconnects=0,
)  # fmt: skip


def line(health: Health, width: int = 200) -> str:
    return health_text(health, context="prod", namespace="falco", read_only=False, demo=False,
                       width=width).plain  # fmt: skip


def test_throttled_and_credential_failures_are_shown() -> None:
    assert "throttled" not in line(BASE)
    busy = dataclasses.replace(BASE, throttled="throttled: API server answered 429 Retry-After")
    assert "throttled" in line(busy) and "throttled" in line(busy, width=60), "kept when space is short"
    problem = "plugin 'aws' failed with exit status 255: \x1b[31mx"
    failing = dataclasses.replace(BASE, credentials_error=problem)
    shown = line(failing)
    assert "credentials: plugin 'aws' failed with exit status 255" in shown and "\x1b" not in shown
