"""`settle(pilot)`: before a snapshot, wait for what the screen is waiting for, not for a fixed time.

The alert lists get their rows from the engine one round trip after the first layout, then refit their
columns and place their scrollbar one layout later (`AlertList.settled`); the fleet's node list fills in from
the engine's first batch. A fixed 0.4 s pause took the picture before that on a busy machine."""

from __future__ import annotations

from textual.pilot import Pilot

from falcotui.ui.alerts_list import AlertList
from falcotui.ui.node_cursor import NodeCursorView


async def settle(pilot: Pilot, *, tries: int = 400) -> None:
    app = pilot.app
    for _ in range(tries):
        screen = app.screen
        lists = [w for w in screen.query(AlertList) if w.display]
        grids = (
            [w for w in app.screen_stack[0].query(NodeCursorView) if w.display] if app.screen_stack else []
        )
        if all(w.settled for w in lists) and all(w.names for w in grids):
            break
        await pilot.pause(0.05)
    else:
        raise AssertionError("the screen never settled: alert lists or the node list still waiting for rows")
    await pilot.pause()
    await pilot.pause()  # the repaint after the last layout
