"""A rules push the nodes refuse (forced past the checks, as `falcotui rules push --force --yes` does) is
loud everywhere in the TUI: the Fleet title counts the refusing nodes and the RELOAD column reads
"rejected HH:MM:SS" whole; the Rules screen shows a banner with the count, file:line and Falco's message,
and ctrl+g puts the editor's cursor on that line."""

from __future__ import annotations

import asyncio
import re

import pytest

from falcotui.ops.rules.model import PushStatus
from falcotui.ops.rules.service import RulesService
from falcotui.ui.fleet.screen import FleetScreen
from falcotui.ui.rules.screen import RulesScreen

pytestmark = pytest.mark.timeout(120)

# the condition ends with `or`: LOAD_ERR_COMPILE_CONDITION on the rule's line
BROKEN = """- rule: Broken shell rule
  desc: a rule whose condition is cut short
  condition: spawned_process and proc.name = sh or
  output: shell (cmd=%proc.cmdline)
  priority: WARNING
"""


def forced_push(svc: RulesService) -> None:
    snap = svc.pull()
    result = svc.push({**snap.files, "zz-broken.yaml": BROKEN}, snap.resource_version, force_invalid=True)
    assert result.status is PushStatus.PUSHED and result.forced


async def test_refused_push_is_loud_on_fleet_and_rules(demo_app, screen_text, until):
    app, demo = demo_app(nodes=2, scenario="quiet")
    async with app.run_test(size=(160, 40)) as pilot:
        assert isinstance(app.screen, FleetScreen)
        assert await until(pilot, lambda: screen_text(app).count("Running 1/1") == 2, timeout=40)
        await asyncio.to_thread(forced_push, RulesService(demo.clients(), author="ops@test"))

        refusing = lambda: "2 refusing the rules" in screen_text(app)  # noqa: E731
        assert await until(pilot, refusing, timeout=40), screen_text(app)
        text = screen_text(app)
        assert re.search(r"Fleet · 3 nodes · .*2 refusing the rules", text)
        assert len(re.findall(r"rejected \d\d:\d\d:\d\d", text)) == 2, text  # not "rejected 09:…"

        await pilot.press("f3")
        assert await until(pilot, lambda: isinstance(app.screen, RulesScreen))
        screen = app.screen
        assert await until(pilot, lambda: screen.snapshot is not None and "zz-broken.yaml" in screen.files)
        assert await until(pilot, lambda: "2 nodes rejected the rules" in screen_text(app)), screen_text(app)
        banner = screen.rejected_text
        assert "zz-broken.yaml:1 LOAD_ERR_COMPILE_CONDITION" in banner, banner
        assert "ctrl+g go to the line" in banner

        screen.query_one("#rules-files").focus()
        await pilot.press("ctrl+g")
        assert await until(pilot, lambda: screen.current == "zz-broken.yaml")
        editor = screen.editor()
        assert editor.has_focus and editor.cursor_location[0] == 0  # the rule's line (1-based line 1)


async def test_no_banner_while_every_node_runs_the_rules(demo_app, screen_text, until):
    app, _ = demo_app(nodes=2, scenario="quiet")
    async with app.run_test(size=(160, 40)) as pilot:
        assert await until(pilot, lambda: screen_text(app).count("Running 1/1") == 2, timeout=40)
        await pilot.press("f3")
        assert await until(pilot, lambda: isinstance(app.screen, RulesScreen))
        screen = app.screen
        assert await until(pilot, lambda: screen.snapshot is not None)
        assert screen.rejected_text == "" and "rejected the rules" not in screen_text(app)
        assert screen.check_action("goto_rejected", ()) is False
