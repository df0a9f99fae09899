"""A mode switch paints the other screen as soon as it is made, not after Textual's fixed 50 ms hold on
paints (App.delay_update), which was most of a key's time to the screen."""

from __future__ import annotations

from falcotui.ui.alerts.screen import AlertsScreen
from falcotui.ui.fleet.screen import FleetScreen


async def test_a_mode_switch_holds_no_paint_after_it(frozen):
    app = frozen()
    async with app.run_test(size=(120, 34)) as pilot:
        await pilot.pause()
        for mode, screen in (("alerts", AlertsScreen), ("fleet", FleetScreen), ("alerts", AlertsScreen)):
            await app.run_action(f"switch_mode('{mode}')")  # what F2/F1 run
            assert isinstance(app.screen, screen)
            assert app._batch_count == 0  # Textual's hold keeps a batch open for 50 ms after the switch
