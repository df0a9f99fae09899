"""Quitting never silently drops rules edits: `q` asks first while the editor holds unpushed changes."""

from __future__ import annotations

from falcotui.ui.rules.screen import RulesScreen
from falcotui.ui.widgets.dialogs import ConfirmDialog


def rules_loaded(app) -> bool:
    return isinstance(app.screen, RulesScreen) and app.screen.snapshot is not None


async def test_quit_asks_before_dropping_unpushed_rules_edits(demo_app, until):
    app, _ = demo_app(nodes=1, scenario="quiet")
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("f3")
        assert await until(pilot, lambda: rules_loaded(app))
        rules = app.screen
        rules.query_one("TextArea").insert("# a note I have not pushed yet\n")
        assert await until(pilot, lambda: rules.modified)

        await pilot.press("f1")
        await pilot.press("q")
        assert await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("escape")  # keep working
        assert await until(pilot, lambda: not isinstance(app.screen, ConfirmDialog))
        assert app.is_running and rules.modified

        await pilot.press("q")
        assert await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.click("#confirm")
        assert await until(pilot, lambda: not app.is_running)


async def test_quit_without_edits_needs_no_question(demo_app, until):
    app, _ = demo_app(nodes=1, scenario="quiet")
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("f3")
        assert await until(pilot, lambda: rules_loaded(app))
        await pilot.press("q")
        assert await until(pilot, lambda: not app.is_running)
