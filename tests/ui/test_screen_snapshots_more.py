"""SVG snapshots of the screens opened from another one: a node's detail (enter on the Fleet screen) and
the key help (`?`), over the frozen state (fixed clock, fixed data, UTC) at fixed terminal sizes.
Update after an intended change with `pytest tests/ui --snapshot-update`."""

from __future__ import annotations

from pilot_waits import settle

SIZE = (120, 34)


async def _settle(pilot) -> None:
    await settle(pilot)


def test_node_detail_snapshot(frozen, snap_compare):
    # the second node, ip-10-0-1-23: Falco running, its log line, and the busiest alert list
    assert snap_compare(frozen(), press=["down", "enter"], terminal_size=SIZE, run_before=_settle)


def test_node_detail_crash_looping_snapshot_80x24(frozen, snap_compare):
    # ip-10-0-1-57: the pod in CrashLoopBackOff with its reason, at the smallest supported size
    assert snap_compare(frozen(), press=["down", "down", "enter"], terminal_size=(80, 24), run_before=_settle)


def test_node_detail_with_alert_detail_snapshot(frozen, snap_compare):
    assert snap_compare(frozen(), press=["down", "enter", "enter"], terminal_size=SIZE, run_before=_settle)


def test_help_snapshot(frozen, snap_compare):
    assert snap_compare(frozen(), press=["question_mark"], terminal_size=SIZE, run_before=_settle)


def test_help_on_alerts_snapshot_80x24(frozen, snap_compare):
    assert snap_compare(frozen(), press=["f2", "question_mark"], terminal_size=(80, 24), run_before=_settle)
