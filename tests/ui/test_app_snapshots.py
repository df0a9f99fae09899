"""SVG snapshots of the Fleet and Alerts screens over the frozen state (fixed clock, fixed data, UTC),
at a fixed terminal size. Update after an intended change with `pytest tests/ui --snapshot-update`."""

from __future__ import annotations

from pilot_waits import pressing, settle

SIZE = (120, 34)


def test_fleet_snapshot(frozen, snap_compare):
    assert snap_compare(frozen(), terminal_size=SIZE, run_before=settle)


def test_alerts_snapshot(frozen, snap_compare):
    assert snap_compare(frozen(), terminal_size=SIZE, run_before=pressing("f2"))


def test_alert_detail_snapshot(frozen, snap_compare):
    assert snap_compare(frozen(), terminal_size=SIZE, run_before=pressing("f2", "up", "enter"))


def test_fleet_snapshot_80x24(frozen, snap_compare):
    assert snap_compare(frozen(read_only=True), terminal_size=(80, 24), run_before=settle)


def test_fleet_tiles_snapshot(frozen, snap_compare):
    assert snap_compare(frozen(), terminal_size=(80, 24), run_before=pressing("down", "down", "g"))


def test_alerts_snapshot_80x24(frozen, snap_compare):
    """80x24 keeps NAMESPACE/POD and every key of the screen (issue 17 item 11)."""
    assert snap_compare(frozen(), terminal_size=(80, 24), run_before=pressing("f2"))


def test_alerts_snapshot_no_color(frozen, snap_compare, monkeypatch):
    """NO_COLOR: severity by weight, not by shades of grey (issue 17 item 6)."""
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(frozen(), terminal_size=SIZE, run_before=pressing("f2"))


def test_fleet_tiles_snapshot_no_color(frozen, snap_compare, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(frozen(), terminal_size=(80, 24), run_before=pressing("down", "down", "g"))
