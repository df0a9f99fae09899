"""SVG snapshots of the screens opened from another one: a node's detail (enter on the Fleet screen), the
key help (`?`) and the `:ctx` picker, over the frozen state (fixed clock, fixed data, UTC) at fixed terminal
sizes.
Update after an intended change with `pytest tests/ui --snapshot-update`."""

from __future__ import annotations

from pilot_waits import pressing, ready, settle, wait_for
from textual.widgets import SelectionList

from falcotui.ui.fleet.fleets import ContextsPrompt
from falcotui.ui.widgets.dialogs import ConfirmDialog

SIZE = (120, 34)


def test_node_detail_snapshot(frozen, snap_compare):
    # the second node, ip-10-0-1-23: Falco running, its log line, and the busiest alert list
    assert snap_compare(frozen(), terminal_size=SIZE, run_before=pressing("down", "enter"))


def test_node_detail_crash_looping_snapshot_80x24(frozen, snap_compare):
    # ip-10-0-1-57: the pod in CrashLoopBackOff with its reason, at the smallest supported size
    assert snap_compare(frozen(), terminal_size=(80, 24), run_before=pressing("down", "down", "enter"))


def test_node_detail_with_alert_detail_snapshot(frozen, snap_compare):
    assert snap_compare(frozen(), terminal_size=SIZE, run_before=pressing("down", "enter", "enter"))


def test_help_snapshot(frozen, snap_compare):
    assert snap_compare(frozen(), terminal_size=SIZE, run_before=pressing("question_mark"))


def test_help_on_alerts_snapshot_80x24(frozen, snap_compare):
    assert snap_compare(frozen(), terminal_size=(80, 24), run_before=pressing("f2", "question_mark"))


def test_ctx_picker_snapshot(frozen, snap_compare):
    """`:ctx` over four kubeconfig contexts, the followed one ticked: a dialog framed and placed as the others
    are (it was centred on the screen's middle, below where every other dialog opens)."""
    app = frozen()
    app.contexts = ("prod-eu-1", "prod-us-1", "staging-eu", "dev-kind")

    async def run_before(pilot) -> None:
        await settle(pilot)
        app.push_screen(ConfirmDialog("Restart Falco", "on 5 nodes"))
        confirm = await wait_for(pilot, lambda: ready(app.screen, ConfirmDialog))
        other = confirm.query_one(".dialog").region
        confirm.dismiss(False)
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmDialog))
        app.ask_contexts()  # what `:` → "ctx: clusters side by side…" runs
        picker = await wait_for(pilot, lambda: isinstance(app.screen, ContextsPrompt) and app.screen)
        await wait_for(pilot, lambda: [w for w in picker.query(SelectionList) if w.region])
        await settle(pilot)
        box = picker.query_one("#ctx-box").region
        assert (box.x, box.y) == (other.x, other.y), (box, other)
        assert picker.query_one("#ctx-box").has_class("dialog")

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
