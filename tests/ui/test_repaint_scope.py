"""What a tick repaints stays proportional to what changed: a panel's changed title repaints its border
line only (and is shown as typed, never as markup), an alert list that grows under a storm moves its
scrollbar without laying out the whole screen."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.screen import Screen
from textual.widgets import Static

from falcotui.ui.alerts.screen import AlertsScreen
from falcotui.ui.widgets.common import TitledBox
from tests.support.pilot_waits import layout_pending


class BoxApp(App):
    def compose(self) -> ComposeResult:
        with TitledBox(id="box"):
            yield Static("\n".join(f"line {i}" for i in range(8)))


async def test_a_changed_title_repaints_its_border_line_only_and_reads_as_typed(screen_text):
    app = BoxApp()
    async with app.run_test(size=(60, 12)) as pilot:
        box = app.query_one(TitledBox)
        box.styles.border = ("round", "blue")
        box.set_titles("Alerts · 1 shown", "no filter")
        await pilot.pause()
        assert "Alerts · 1 shown" in screen_text(app) and "no filter" in screen_text(app)
        # Textual's record of what to repaint (Widget._repaint_regions, in the widget's own coordinates)
        box._repaint_regions.clear()
        box.set_titles("Alerts · 1 shown", "no filter")  # the same words: nothing to repaint
        assert not box._repaint_regions
        box.set_titles("Alerts · [b]2[/b] shown")
        width, height = box.outer_size
        assert set(box._repaint_regions) == {Region(0, 0, width, 1)}
        box._repaint_regions.clear()
        box.set_titles(subtitle="rule:[red]x")
        assert set(box._repaint_regions) == {Region(0, height - 1, width, 1)}
        await pilot.pause()
        text = screen_text(app)
        assert "Alerts · [b]2[/b] shown" in text and "rule:[red]x" in text  # not markup: shown as typed


async def test_a_growing_alert_list_moves_its_scrollbar_without_a_screen_layout(
    frozen, shows, feed, alert_bytes, until, monkeypatch
):
    app = frozen()
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("f2")
        await shows(pilot, app, "shown", where=lambda t: isinstance(app.screen, AlertsScreen))
        alist = app.screen.alert_list
        # settled: its first layout is asked for; counting starts once it (and its scrollbar's) is done
        shown = lambda: alist.settled and alist.show_vertical_scrollbar  # noqa: E731
        assert await until(pilot, lambda: shown() and not layout_pending(app.screen))
        before = len(alist.view)
        layouts: list[Screen] = []
        real = Screen._refresh_layout

        def counted(screen: Screen, *args, **kwargs) -> None:
            layouts.append(screen)
            real(screen, *args, **kwargs)

        monkeypatch.setattr(Screen, "_refresh_layout", counted)
        for i in range(40):  # the same node and rule as alerts already listed: only the list grows
            line = alert_bytes.line(20_000 + i, "ip-10-0-1-80", alert_bytes.NOW + i * 1_000_000, 2)
            alert = alert_bytes.parse(line, node="ip-10-0-1-80", pod="falco-d80")
            await feed(app, lambda engine, alert=alert: engine.hub.ingest(alert))
        assert await until(pilot, lambda: len(alist.view) == before + 40)
        await pilot.pause()
        bar = alist.vertical_scrollbar
        assert bar.window_virtual_size == len(alist.view) == alist.virtual_size.height
        assert alist.scroll_offset.y == alist.max_scroll_y == bar.position  # following: pinned to the newest
        assert not layouts, f"{len(layouts)} screen layout(s) for a list that only grew"
