"""`AlertList`: a Line-API list over a `RemoteView` (the engine's filtered view, a window of it here) —
renders only the visible rows, whatever the rate.

The widget holds no per-alert widgets or copies: its virtual height is `len(view)` and `render_line(y)`
formats the one alert on that line (cached per alert and width); a row not fetched yet is a placeholder
and the view fetches it at once (`on_rows` repaints). Each engine tick the screen awaits `sync()`: the
view's update, then `view_changed(change)`; following, the list stays pinned to the newest alert; paused,
it keeps the same alerts on screen while the store evicts from the front and counts what arrived meanwhile.

The cursor is a validated reactive (always a row of the view, or 0 when it is empty): moving it repaints
the two lines concerned and posts `Moved` with the index and the alert there. The highlighted row and the
list's own notes take their looks from component classes (`alert-list--cursor`, `alert-list--note`), so a
theme or stylesheet can restyle them; rendered lines are cached per alert, width and highlight, and the
cache is dropped when the styles change (a new theme repaints every line in its colours).

Columns fit the width (`list_columns`, alert_row.py, with how a row looks): RULE, NODE and NAMESPACE/POD as
wide as the alerts seen need (measured on the newest alerts of each update, grown only, so nothing
jitters), OUTPUT all the rest.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from falcotui.ops.alerts.store import StoredAlert
from falcotui.ops.alerts.view import ViewChange
from falcotui.ops.engine_client import EngineFailed
from falcotui.ui.alerts.alert_row import LIST_COLUMNS, alert_line, grow_need, list_columns
from falcotui.ui.alerts.remote_view import RemoteView
from falcotui.ui.widgets.lines import CursorLines, cursor_keys

CACHE_SIZE = 2048
_PLACEHOLDER = "…"  # a row on its way from the engine (one round trip)


class AlertList(CursorLines):
    """See the module docstring."""

    HELP_TITLE = "the alert list"

    BINDINGS: ClassVar[list[BindingType]] = cursor_keys("alert-list", first="Oldest", last="Newest (follow)")
    COMPONENT_CLASSES: ClassVar[set[str]] = {"alert-list--cursor", "alert-list--note"}
    DEFAULT_CSS = """
    AlertList { height: 1fr; overflow-x: hidden; scrollbar-size-vertical: 1; }
    AlertList > .alert-list--cursor { text-style: reverse; }
    AlertList > .alert-list--note { text-style: dim italic; }
    """

    following: reactive[bool] = reactive(True)
    cursor: reactive[int] = reactive(0, repaint=False)

    @dataclass
    class Selected(Message):
        """An alert was chosen (enter or click)."""

        entry: StoredAlert

    @dataclass
    class Moved(Message):
        """The cursor moved, or the alert under it arrived (the screen updates its detail pane)."""

        alert_list: AlertList
        index: int
        entry: StoredAlert | None  # None: the view is empty, or the row is on its way (another Moved follows)

        @property
        def control(self) -> AlertList:
            return self.alert_list

    class ColumnsChanged(Message):
        """The column widths changed (the screen redraws the titles: `header_text()`)."""

    class Synced(Message):
        """A view's first rows (and counts) came: after the first layout or a new filter."""

    def __init__(
        self,
        view: RemoteView,
        *,
        id: str | None = None,
        hide: tuple[str, ...] = (),
        empty: str = "no alerts match the filter",
        counts: bool = False,
    ) -> None:
        super().__init__(id=id)
        self.view = view
        self.hide = hide  # columns never shown (NODE in one node's own list)
        self.empty = empty  # what an empty list says
        self.counts = counts  # a view's first sync brings the per-rule and per-node counts too
        self.set_reactive(AlertList.cursor, max(0, len(view) - 1))
        self.new_while_paused = 0
        self._cache: OrderedDict[tuple[int, int, bool], Strip] = OrderedDict()
        self._moved_pending = False
        self._need: dict[str, int] = {}
        self._opened = True  # the view's first update places the cursor as `set_view` does
        self._laid_out = False
        self.settled = False  # the view's first rows are laid out (columns refit, scrollbar placed)
        self._columns: list[tuple[str, int]] = list_columns(80, self._need, hide=hide)
        view.on_rows = self._rows_came

    # ------------------------------------------------------------ data

    def set_view(self, view: RemoteView) -> None:
        """A new filter: show its alerts (pinned to the newest when following) from its first update,
        which is asked for at once; the engine forgets the old view."""
        self.view.on_rows = None
        self.view.close_soon()
        self.view = view
        view.on_rows = self._rows_came
        view.follow = self.following
        self._cache.clear()
        self.new_while_paused = view.held
        self.cursor = max(0, len(view) - 1)
        self._need = {}
        self._opened = True
        self.settled = False
        self._fit_columns()
        self._sync_size(pin=True)
        self.run_worker(self._first_sync(), group="alert-list-sync")

    async def _first_sync(self) -> None:
        await self.sync(groups=self.counts)
        self.post_message(self.Synced())

    async def sync(self, *, groups: bool = False, rule_groups: bool = False) -> None:
        """One engine round trip: the view's update (and the counts asked for), then `view_changed`. Not
        before the first layout: the list must know its height to ask for the right rows and pin them."""
        if not self._laid_out:
            return
        view = self.view
        view.follow = self.following
        view.see(self.scroll_offset.y, self.scrollable_content_region.height or self.size.height)
        try:
            change = await view.update(groups=groups, rule_groups=rule_groups)
        except EngineFailed:  # the engine's worker is gone (the header says so): the list keeps what it had
            return
        if view is self.view and self.is_attached:  # not replaced or closed meanwhile
            self.view_changed(change)

    def on_unmount(self) -> None:
        self.view.on_rows = None
        self.view.close_soon()

    def _rows_came(self) -> None:
        """Rows fetched for placeholders arrived: repaint, and let the detail pane catch up."""
        self.refresh()
        self._post_moved()

    def _moved_soon(self) -> None:
        """`Moved` once the screen is redrawn (the list scrolled where the cursor went, and asked for those
        rows): one message however many steps the cursor took meanwhile."""
        if not self._moved_pending:
            self._moved_pending = True
            self.call_after_refresh(self._post_moved)

    def _post_moved(self) -> None:
        """`Moved` with the alert under the cursor; a row on its way is fetched with what is on screen now
        (one round trip), and `Moved` comes again when it is here."""
        self._moved_pending = False
        index = self.cursor
        self.view.see(self.scroll_offset.y, self.scrollable_content_region.height)
        entry = self.view.get(index) if index < len(self.view) else None
        self.post_message(self.Moved(self, index, entry))

    def validate_cursor(self, index: int) -> int:
        """A row of the view (the last one when past its end), or 0 when it is empty."""
        return max(0, min(index, len(self.view) - 1))

    def watch_cursor(self, old: int, new: int) -> None:
        """The two lines whose highlight changed are repainted (not the whole list); the screen is told."""
        if self.has_focus:
            self.refresh_line(old)
            self.refresh_line(new)
        self._moved_soon()

    def view_changed(self, change: ViewChange) -> None:
        """After `view.update()`: keep indexes pointing at the same alerts, follow or count."""
        self.new_while_paused = self.view.held  # paused, the view is a snapshot: newer alerts wait
        if self._opened and self.view.synced:  # the first update: as `set_view` placed it, now with rows
            self._opened = False
            self.cursor = max(0, len(self.view) - 1)
            change = ViewChange(change.added, 0, True)
            self.call_after_refresh(self._first_layout)
        if not change.changed:
            return
        need = grow_need(self._need, self.view.widths)
        if need != self._need:
            self._need = need
            self._fit_columns()
        if change.rebuilt:
            self._cache.clear()
            self.cursor = min(self.cursor, max(0, len(self.view) - 1))
        elif change.dropped:
            self.cursor = max(0, self.cursor - change.dropped)
        if self.following:
            self.cursor = max(0, len(self.view) - 1)
        scroll_y = self.scroll_offset.y - (0 if self.following else change.dropped)
        self._sync_size(pin=self.following, scroll_y=max(0, scroll_y))

    def _first_layout(self) -> None:
        """After the layout that follows a view's first rows: the scrollbar may have come, narrowing the
        list (columns refit) and, created after the pin, showing the top (it is told where the list is)."""
        self._fit_columns()
        self.virtual_size = Size(self.scrollable_content_region.width, len(self.view))
        if self.show_vertical_scrollbar:
            self.vertical_scrollbar.position = self.scroll_offset.y
        self.settled = True

    def _set_lines(self, lines: int) -> None:
        """The list's virtual height. Assigning `virtual_size` lays out the whole screen (Textual cannot
        know whether the scrollbar comes or goes); while it stays as it is, only the scrollbar's range and
        the list change: a storm grows the list every update, and a screen layout each time was a large
        part of the UI's time."""
        size = Size(self.scrollable_content_region.width, lines)
        if size == self.virtual_size:
            return
        height = self.container_size.height
        if (
            not self.is_mounted
            or not height
            or size.width != self.virtual_size.width
            or self.styles.overflow_y != "auto"
            or (lines > height) != self.show_vertical_scrollbar
        ):
            self.virtual_size = size
            return
        self.set_reactive(ScrollView.virtual_size, size)
        if self.show_vertical_scrollbar:
            bar = self.vertical_scrollbar
            bar.window_virtual_size = lines
            bar.window_size = height - self.scrollbar_size_horizontal
        if self.scroll_y > self.max_scroll_y:  # shrunk under the scroll position
            self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True)
        self.refresh()

    def _sync_size(self, *, pin: bool, scroll_y: int | None = None) -> None:
        self._set_lines(len(self.view))
        height = self.scrollable_content_region.height or self.size.height
        if pin:
            # force: just grown, the list may not have its scrollbar yet (it comes with the next layout)
            self.scroll_to(y=max(0, len(self.view) - height), animate=False, immediate=True, force=True)
        elif scroll_y is not None and scroll_y != self.scroll_offset.y:
            self.scroll_to(y=scroll_y, animate=False, immediate=True)
        self.refresh()

    def current(self) -> StoredAlert | None:
        """The alert under the cursor; None when there is none or it is still on its way (`Moved` follows
        when it comes)."""
        if not len(self.view):
            return None
        return self.view.get(min(self.cursor, len(self.view) - 1))

    def watch_following(self, following: bool) -> None:
        """Paused, the view holds still at its last alert (a snapshot); following lets the rest in."""
        self.view.follow = following
        if not following:
            self.view.hold()
            return
        self.view.release()
        if following:
            self.new_while_paused = 0
            self.cursor = max(0, len(self.view) - 1)
            self._sync_size(pin=True)

    # ------------------------------------------------------------ rendering

    def _fit_columns(self) -> None:
        width = self.scrollable_content_region.width or self.size.width or 80
        columns = list_columns(width, self._need, hide=self.hide)
        if columns != self._columns:
            self._columns = columns
            self._cache.clear()
            self.refresh()
            self.post_message(self.ColumnsChanged())

    def watch_show_vertical_scrollbar(self) -> None:
        """The scrollbar came or went, so the rows are a column narrower or wider: the columns refit. The
        list's size (on_resize) does not change with it, and `_first_layout` sees it only when that layout
        is the one that brought it (not for a list made unseen, the Alerts screen made at start)."""
        self._fit_columns()

    def on_resize(self) -> None:
        if not self._laid_out:  # the first rows, without waiting for a tick
            self._laid_out = True
            self.run_worker(self._first_sync(), group="alert-list-sync")
        self._fit_columns()
        self._sync_size(pin=self.following)
        if not self.following:  # shrunk (a detail pane opened): the highlighted row stays in sight
            self.keep_in_sight(self.cursor)

    def header_text(self) -> Text:
        """The column titles matching the current widths (the screen shows them above the list)."""
        titles = dict(LIST_COLUMNS)
        line = Text(no_wrap=True, overflow="crop", style="bold")
        for name, width in self._columns:
            line.append(titles[name][:width].ljust(width) + " ")
        return line

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        region = self.scrollable_content_region
        width = region.width
        style = self.line_style()
        self.view.see(scroll_y, region.height)
        if index >= len(self.view):
            if index == 0 and self.empty and (self.view.synced or not self._opened):
                return self._note(self.empty, style, width)
            return Strip.blank(width, style)
        entry = self.view.get(index)
        if entry is None:  # on its way: fetched at once, `_rows_came` repaints
            return self._note(_PLACEHOLDER, style, width)
        selected = index == self.cursor and self.has_focus
        key = (entry.seq, width, selected)
        strip = self._cache.get(key)
        if strip is None:
            text = alert_line(entry, self._columns)
            segments = list(text.render(self.app.console))
            strip = Strip(segments).crop_extend(0, width, style)
            if selected:
                strip = strip.apply_style(self.line_style("alert-list--cursor", partial=True))
            self._cache[key] = strip
            if len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return strip.crop_extend(scroll_x, scroll_x + width, style).apply_offsets(scroll_x, index)

    def _note(self, text: str, style: Style, width: int) -> Strip:
        """A line of our own (the empty list's message, a row on its way) in the `alert-list--note` style,
        without Rich's line end (an unstyled segment: NO_COLOR's filter cannot take it)."""
        note = style + self.line_style("alert-list--note", partial=True)
        segments = [s for s in Text(text, note).render(self.app.console) if s.text != "\n"]
        return Strip(segments).crop_extend(0, width, style)

    def notify_style_update(self) -> None:
        """The styles changed (a theme, a stylesheet): cached lines hold the old colours."""
        super().notify_style_update()  # LineStyles forgets its styles
        self._cache.clear()
        self.refresh()

    def repaint_cursor(self) -> None:
        self.refresh_line(self.cursor)  # the highlight shows only while the list has the focus

    # ------------------------------------------------------------ navigation

    def _move_to(self, index: int) -> None:
        n = len(self.view)
        if not n:
            return
        index = self.validate_cursor(index)
        self.following = index == n - 1 and self.following
        self.keep_in_sight(index)
        self.cursor = index  # the watcher repaints and posts Moved

    def action_cursor(self, step: int) -> None:
        if step < 0:
            self.following = False
        self._move_to(self.cursor + step)

    def action_page(self, direction: int) -> None:
        if direction < 0:
            self.following = False
        self._move_to(self.cursor + direction * max(1, self.scrollable_content_region.height - 1))

    def action_edge(self, end: int) -> None:
        if end:
            self.following = True
            self._move_to(len(self.view) - 1)
        else:
            self.following = False
            self._move_to(0)

    def on_click(self, event: events.Click) -> None:
        index = self.scroll_offset.y + event.y
        if 0 <= index < len(self.view):
            self.following = False
            self._move_to(index)
            entry = self.view.get(index)
            if event.chain >= 2 and entry is not None:
                self.post_message(self.Selected(entry))

    def on_mouse_scroll_up(self) -> None:
        self.following = False

    def key_enter(self) -> None:
        entry = self.current()
        if entry is not None:
            self.post_message(self.Selected(entry))
