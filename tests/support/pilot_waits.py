"""Waits for a Textual app under Pilot: on a condition, never on a fixed time.

`wait_for(pilot, predicate)` lets the app run until `predicate()` is truthy; `ready(screen, cls)` is a
dialog once its buttons can be clicked; `layout_pending(screen)`: a layout of the screen is still to come;
`settle(pilot)`: before a snapshot, wait for what the screen is waiting for; `pressing(*keys)`: a snapshot's
`run_before` that settles after each key.

The alert lists get their rows from the engine one round trip after the first layout, then refit their
columns and place their scrollbar one layout later (`AlertList.settled` turns true when that layout is asked
for, not done: `layout_pending` tells when it is done); the fleet's node list fills in from the engine's first
batch. A fixed 0.4 s pause took the picture before that on a busy machine."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from textual import messages
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button

from falcotui.ui.alerts.alert_list import AlertList
from falcotui.ui.fleet.node_cursor import NodeCursorView


async def wait_for(pilot: Pilot, predicate: Callable[[], object], *, tries: int = 600, step: float = 0.05):
    """Let the app run until `predicate()` is truthy (bounded: `tries` pauses of `step` seconds)."""
    for _ in range(tries):
        value = predicate()
        if value:
            return value
        await pilot.pause(step)
    raise AssertionError(f"condition never became true: {predicate}")


def ready(screen: Screen, cls: type[Screen]) -> Screen | None:
    """`screen` once it is a `cls` whose buttons are composed and laid out (a click needs both), else None:
    a dialog is `app.screen` as soon as it is pushed, before it has children (seen on a loaded machine)."""
    if not isinstance(screen, cls):
        return None
    buttons = screen.query(Button)
    return screen if buttons and all(b.region for b in buttons) else None


def layout_pending(screen: Screen) -> bool:
    """Whether a layout (or scroll refresh, which lays out too) of `screen` is still to come. Textual's path
    (widget.py `_check_refresh`, screen.py `_on_layout`/`_on_timer_update`): a widget marks itself
    (`refresh(layout=True)`, a layout reactive, new styles), posts `Layout` to the screen when it is next
    idle, the screen marks itself and lays out on its update timer. A widget's scrollbars are not among its
    children (`walk_children`), so they are looked at too."""
    if screen._layout_required or screen._scroll_required:
        return True
    widgets: list[Widget] = list(screen.walk_children(Widget))
    bars = [b for w in widgets for b in (w._vertical_scrollbar, w._horizontal_scrollbar) if b is not None]
    if any(not bar.is_mounted for bar in bars):  # a scrollbar just created: its styles and layout follow
        return True
    if any(w._layout_required or w._scroll_required or w._refresh_styles_required for w in widgets + bars):
        return True
    queued = list(screen._message_queue.values)  # textual._queue.Queue: a deque of the messages waiting
    return any(isinstance(m, (messages.Layout, messages.UpdateScroll)) for m in queued)


async def settle(pilot: Pilot, *, tries: int = 400) -> None:
    app = pilot.app
    for _ in range(tries):
        screen = app.screen
        lists = [w for w in screen.query(AlertList) if w.display]
        grids = (
            [w for w in app.screen_stack[0].query(NodeCursorView) if w.display] if app.screen_stack else []
        )
        if all(w.settled for w in lists) and all(w.names for w in grids) and not layout_pending(screen):
            break
        await pilot.pause(0.05)
    else:
        raise AssertionError("the screen never settled: alert lists or the node list still waiting for rows")
    await pilot.pause()
    await pilot.pause()  # the repaint after the last layout


def pressing(*keys: str) -> Callable[[Pilot], Awaitable[None]]:
    """A `snap_compare(..., run_before=pressing("f2", "up"))`: settle, then each key followed by a settle.
    snap_compare's own `press=` keys are pressed after `run_before`, with two pauses before the picture: the
    screen they open was taken before its lists had their rows (and their scrollbar) on a loaded machine."""

    async def run(pilot: Pilot) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)

    return run
