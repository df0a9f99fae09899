"""A rules push shows on the Fleet grid node by node (issue 14): pending as soon as it is sent, then
"reloaded HH:MM:SS" once the node's Falco restarted with the new rules, or "rejected HH:MM:SS" with Falco's
reason in the node detail. The grid reads the fleet rows the engine delivers each tick; the ConfigMap takes a
few seconds to reach the pods here (the kubelet's sync), so the pending state is there to be seen."""

from __future__ import annotations

import asyncio
import re

import pytest
from simkit import NEW_RULE

from falcotui.ops.rules.model import PushStatus
from falcotui.ops.rules.service import RulesService
from falcotui.ui.fleet.node_detail import NodeDetailScreen
from falcotui.ui.fleet.screen import FleetScreen
from falcotui.ui.rules.dialogs import PushDialog
from falcotui.ui.rules.screen import RulesScreen

pytestmark = pytest.mark.timeout(150)

PROPAGATION = dict(configmap_propagation_delay=3.0)
# the condition ends with `or`: Falco refuses it (LOAD_ERR_COMPILE_CONDITION) and keeps the old rules
BROKEN = """- rule: Broken shell rule
  desc: a rule whose condition is cut short
  condition: spawned_process and proc.name = sh or
  output: shell (cmd=%proc.cmdline)
  priority: WARNING
"""


def grid_cells(text: str, nodes: list[str], pattern: str) -> int:
    """How many of `nodes` have a grid line matching `pattern` (after the node's name)."""
    lines = text.splitlines()
    return sum(
        1 for node in nodes if any(re.search(rf"\b{re.escape(node)}\b.*{pattern}", ln) for ln in lines)
    )


async def running_nodes(app, pilot, screen_text, until) -> list[str]:
    assert isinstance(app.screen, FleetScreen)
    assert await until(pilot, lambda: screen_text(app).count("Running 1/1") == 2, timeout=40)
    return sorted(n for n, r in app.services.engine.fleet.nodes.items() if r.pod is not None)


async def test_a_push_shows_pending_then_reloaded_on_the_grid(demo_app, screen_text, until):
    app, _demo = demo_app(nodes=2, scenario="quiet", **PROPAGATION)
    async with app.run_test(size=(160, 40)) as pilot:
        nodes = await running_nodes(app, pilot, screen_text, until)
        assert len(nodes) == 2

        # the Rules screen: add a rule, push it with the keys
        await pilot.press("f3")
        assert await until(pilot, lambda: isinstance(app.screen, RulesScreen))
        screen = app.screen
        assert await until(
            pilot, lambda: screen.snapshot is not None and screen.linted_gen == screen.lint_gen
        )
        editor = screen.editor()
        editor.focus()
        editor.move_cursor(editor.document.end)
        editor.insert(NEW_RULE)
        await pilot.pause()  # the editor's Changed message schedules the check
        checked = lambda: screen.lint_gen > 0 and screen.linted_gen == screen.lint_gen and screen.modified  # noqa: E731
        assert await until(pilot, lambda: checked() and screen.check_action("push", ()) is True, timeout=30)
        await pilot.press("ctrl+u")
        assert await until(pilot, lambda: isinstance(app.screen, PushDialog))
        await pilot.click("#confirm")

        # back on the grid: every node pending, then reloaded (with the time of its restart)
        await pilot.press("f1")
        assert await until(pilot, lambda: isinstance(app.screen, FleetScreen))
        pending = lambda: grid_cells(screen_text(app), nodes, r"\bpending\b") == 2  # noqa: E731
        assert await until(pilot, pending, timeout=30), screen_text(app)
        reloaded = lambda: grid_cells(screen_text(app), nodes, r"\breloaded \d\d:\d\d:\d\d") == 2  # noqa: E731
        assert await until(pilot, reloaded, timeout=60), screen_text(app)

        # the Rules screen's reload panel read the same rows: every node reloaded
        panel = screen.query_one("#rules-reload")
        assert await until(pilot, lambda: panel.summary is not None, timeout=30)
        assert panel.summary.ok and {n.node for n in panel.summary.nodes} == set(nodes)


def forced_push(svc: RulesService) -> None:
    snap = svc.pull()
    result = svc.push({**snap.files, "zz-broken.yaml": BROKEN}, snap.resource_version, force_invalid=True)
    assert result.status is PushStatus.PUSHED and result.forced


async def test_a_refused_push_shows_rejected_with_the_reason(demo_app, screen_text, until):
    app, _demo = demo_app(nodes=2, scenario="quiet", **PROPAGATION)
    async with app.run_test(size=(160, 40)) as pilot:
        nodes = await running_nodes(app, pilot, screen_text, until)
        # the app's own push path (what the Rules screen calls), forced past the checks
        await asyncio.to_thread(forced_push, app.services.rules)

        pending = lambda: grid_cells(screen_text(app), nodes, r"\bpending\b") == 2  # noqa: E731
        assert await until(pilot, pending, timeout=30), screen_text(app)
        rejected = lambda: grid_cells(screen_text(app), nodes, r"\brejected \d\d:\d\d:\d\d") == 2  # noqa: E731
        assert await until(pilot, rejected, timeout=60), screen_text(app)

        # the node detail says why: Falco's hot restart failure, at the file and line it refused
        fleet = app.screen
        for _ in range(5):  # the grid lists every node by name: move down to the first Falco node
            if fleet.current_node() == nodes[0]:
                break
            await pilot.press("down")
        assert fleet.current_node() == nodes[0]
        await pilot.press("enter")
        assert await until(pilot, lambda: isinstance(app.screen, NodeDetailScreen))
        said = lambda: "hot restart failure: zz-broken.yaml:1 LOAD_ERR" in screen_text(app)  # noqa: E731
        assert await until(pilot, said, timeout=20), screen_text(app)
        assert re.search(
            r"reload\s+rejected \d\d:\d\d:\d\d Falco internal: hot restart failure", screen_text(app)
        )
