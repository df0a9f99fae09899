"""The alert list's cursor as Textual's own lists keep theirs: a validated reactive, a `Moved` message that
says where it went and which alert is there, the highlight styled by a component class, and rendered lines
dropped when the styles change (a new theme repaints the list in its colours)."""

from __future__ import annotations

from textual.message import Message

from falcotui.ui.alerts.alert_list import AlertList
from falcotui.ui.alerts.screen import AlertsScreen


async def open_list(pilot, app, shows, until) -> AlertList:
    await pilot.press("f2")
    await shows(pilot, app, "shown", where=lambda t: isinstance(app.screen, AlertsScreen))
    alist = app.screen.alert_list
    assert await until(pilot, lambda: alist.settled and len(alist.view) > 10)
    return alist


def cursor_strip(alist: AlertList):
    return alist.render_line(alist.cursor - alist.scroll_offset.y)


async def test_the_cursor_is_validated_and_moved_says_where_and_which_alert(frozen, shows, until):
    app = frozen()
    moves: list[AlertList.Moved] = []

    def hook(message: Message) -> None:  # called at each widget the message bubbles through
        if isinstance(message, AlertList.Moved) and not any(m is message for m in moves):
            moves.append(message)

    async with app.run_test(size=(120, 30), message_hook=hook) as pilot:
        alist = await open_list(pilot, app, shows, until)
        last = len(alist.view) - 1
        assert alist.cursor == last  # following: on the newest alert
        moves.clear()
        await pilot.press("up")
        assert await until(pilot, lambda: moves and moves[-1].index == last - 1)
        await pilot.press("up")
        assert await until(pilot, lambda: moves[-1].index == last - 2)
        assert [m.index for m in moves] == [last - 1, last - 2] and alist.cursor == last - 2
        assert moves[-1].control is alist and moves[-1].entry is not None
        assert moves[-1].entry.seq == alist.view.get(last - 2).seq
        alist.cursor = 10**6  # past the end: the last row
        assert alist.cursor == last
        alist.cursor = -3
        assert alist.cursor == 0
        # row 0 is far from the rows on screen: fetched aside, then `Moved` brings it
        assert await until(pilot, lambda: moves[-1].index == 0 and moves[-1].entry is not None)
        assert moves[-1].entry.seq == (await alist.view.rows(0, 1))[0].seq


async def test_the_highlight_is_a_component_class_and_a_style_change_redraws_cached_lines(
    frozen, shows, until
):
    app = frozen()
    async with app.run_test(size=(120, 30)) as pilot:
        alist = await open_list(pilot, app, shows, until)
        alist.focus()
        await pilot.pause()
        assert all(seg.style.reverse for seg in cursor_strip(alist) if seg.text.strip())  # the default look

        app.stylesheet.add_source("AlertList > .alert-list--cursor { text-style: bold underline; }")
        app.refresh_css()
        await pilot.pause()
        styles = [seg.style for seg in cursor_strip(alist) if seg.text.strip()]
        assert styles and all(s.bold and s.underline and not s.reverse for s in styles)
