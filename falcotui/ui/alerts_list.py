"""`AlertList`: a Line-API list over a `FilteredView` — renders only the visible rows, whatever the rate.

The widget holds no per-alert widgets or copies: its virtual height is `len(view)` and `render_line(y)`
formats the one alert on that line (cached per alert and width). After each `view.update()` the screen
calls `view_changed(change)`; following, the list stays pinned to the newest alert; paused, it keeps the
same alerts on screen while the store evicts from the front and counts what arrived meanwhile.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from falcotui.falco.sanitize import sanitize
from falcotui.ops.alert_store import StoredAlert
from falcotui.ops.alert_view import FilteredView, ViewChange
from falcotui.ui.widgets import PRIORITY_STYLE

#: (name, title) in display order; widths come from `list_columns`.
LIST_COLUMNS = (
    ("time", "TIME"),
    ("priority", "PRIORITY"),
    ("rule", "RULE"),
    ("node", "NODE"),
    ("pod", "NS/POD"),
    ("output", "OUTPUT"),
)
OUTPUT_MIN = 12
CACHE_SIZE = 2048
_SELECTED = Style(reverse=True)


def list_columns(width: int) -> list[tuple[str, int]]:
    """Columns (name, width) fitting `width`: RULE and NS/POD grow with the room, OUTPUT takes the rest;
    when narrow NS/POD goes first, then NODE, then OUTPUT."""
    widths = {
        "time": 12,
        "priority": 8,
        "rule": max(18, min(34, width // 4)),
        "node": max(14, min(20, width // 7)),
        "pod": max(16, min(30, width // 5)),
    }
    names = ["time", "priority", "rule", "node", "pod"]
    for drop in ("pod", "node", None):
        used = sum(widths[n] + 1 for n in names)
        if width - used >= OUTPUT_MIN or drop is None:
            break
        names.remove(drop)
    out = [(n, widths[n]) for n in names]
    rest = width - sum(widths[n] + 1 for n in names)
    if rest >= OUTPUT_MIN:
        out.append(("output", rest))
    return out


def _clock(ns: int) -> str:
    seconds, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%H:%M:%S", time.localtime(seconds)) + f".{frac // 1_000_000:03d}"


def alert_cells(entry: StoredAlert) -> dict[str, tuple[str, str]]:
    """(text, style) per column for one alert; every string is sanitized (one line, no controls)."""
    a = entry.alert
    ns = entry.namespace
    pod = a.output_fields.get("k8s.pod.name")
    where = f"{ns}/{pod}" if ns and pod not in (None, "", "<NA>") else (ns or "")
    return {
        "time": (_clock(a.time_ns), "dim"),
        "priority": (a.priority.label, PRIORITY_STYLE[a.priority]),
        "rule": (sanitize(a.rule, max_len=200), "bold"),
        "node": (sanitize(entry.node, max_len=100), "cyan"),
        "pod": (sanitize(where, max_len=200), ""),
        "output": (sanitize(a.message, max_len=1000), ""),
    }


def alert_line(entry: StoredAlert, columns: list[tuple[str, int]]) -> Text:
    """One list row: each column cut to its width, separated by one space."""
    values = alert_cells(entry)
    line = Text(no_wrap=True, overflow="crop")
    for i, (name, width) in enumerate(columns):
        text, style = values[name]
        if len(text) > width:
            text = text[: max(0, width - 1)] + "…"
        line.append(text.ljust(width) if i < len(columns) - 1 else text, style)
        if i < len(columns) - 1:
            line.append(" ")
    return line


class AlertList(ScrollView, can_focus=True):
    """See the module docstring."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "edge(0)", "Oldest", show=False),
        Binding("end", "edge(1)", "Newest (follow)", show=False),
    ]
    DEFAULT_CSS = """
    AlertList { height: 1fr; overflow-x: hidden; }
    """

    following: reactive[bool] = reactive(True)

    class Selected(Message):
        """An alert was chosen (enter or click)."""

        def __init__(self, entry: StoredAlert) -> None:
            super().__init__()
            self.entry = entry

    class Moved(Message):
        """The cursor moved (the screen updates its detail pane)."""

    def __init__(self, view: FilteredView, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view = view
        self.cursor = max(0, len(view) - 1)
        self.new_while_paused = 0
        self._cache: OrderedDict[tuple[int, int, bool], Strip] = OrderedDict()
        self._columns: list[tuple[str, int]] = list_columns(80)

    # ------------------------------------------------------------ data

    def set_view(self, view: FilteredView) -> None:
        """A new filter: show its alerts (pinned to the newest when following)."""
        self.view = view
        self._cache.clear()
        self.new_while_paused = 0
        self.cursor = max(0, len(view) - 1)
        self._sync_size(pin=True)

    def view_changed(self, change: ViewChange) -> None:
        """After `view.update()`: keep indexes pointing at the same alerts, follow or count."""
        if not change.changed:
            return
        if change.rebuilt:
            self._cache.clear()
            self.cursor = min(self.cursor, max(0, len(self.view) - 1))
        elif change.dropped:
            self.cursor = max(0, self.cursor - change.dropped)
        if self.following:
            self.cursor = max(0, len(self.view) - 1)
        else:
            self.new_while_paused += change.added
        scroll_y = self.scroll_offset.y - (0 if self.following else change.dropped)
        self._sync_size(pin=self.following, scroll_y=max(0, scroll_y))

    def _sync_size(self, *, pin: bool, scroll_y: int | None = None) -> None:
        self.virtual_size = Size(self.scrollable_content_region.width, len(self.view))
        height = self.scrollable_content_region.height or self.size.height
        if pin:
            self.scroll_to(y=max(0, len(self.view) - height), animate=False, immediate=True)
        elif scroll_y is not None and scroll_y != self.scroll_offset.y:
            self.scroll_to(y=scroll_y, animate=False, immediate=True)
        self.refresh()

    def current(self) -> StoredAlert | None:
        if not len(self.view):
            return None
        return self.view.get(min(self.cursor, len(self.view) - 1))

    def watch_following(self, following: bool) -> None:
        if following:
            self.new_while_paused = 0
            self.cursor = max(0, len(self.view) - 1)
            self._sync_size(pin=True)

    # ------------------------------------------------------------ rendering

    def on_resize(self) -> None:
        columns = list_columns(self.scrollable_content_region.width or self.size.width)
        if columns != self._columns:
            self._columns = columns
            self._cache.clear()
        self._sync_size(pin=self.following)

    def header_text(self) -> Text:
        """The column titles matching the current widths (the screen shows them above the list)."""
        titles = dict(LIST_COLUMNS)
        line = Text(no_wrap=True, overflow="crop", style="bold")
        for name, width in self._columns:
            line.append(titles[name].ljust(width) + " ")
        return line

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.scrollable_content_region.width
        style = self.rich_style
        if index >= len(self.view):
            return Strip.blank(width, style)
        entry = self.view.get(index)
        selected = index == self.cursor and self.has_focus
        key = (entry.seq, width, selected)
        strip = self._cache.get(key)
        if strip is None:
            text = alert_line(entry, self._columns)
            segments = list(text.render(self.app.console))
            strip = Strip(segments).crop_extend(0, width, style)
            if selected:
                strip = strip.apply_style(_SELECTED)
            self._cache[key] = strip
            if len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return strip.crop_extend(scroll_x, scroll_x + width, style).apply_offsets(scroll_x, index)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    # ------------------------------------------------------------ navigation

    def _move_to(self, index: int) -> None:
        n = len(self.view)
        if not n:
            return
        index = max(0, min(n - 1, index))
        self.cursor = index
        self.following = index == n - 1 and self.following
        height = self.scrollable_content_region.height
        top = self.scroll_offset.y
        if index < top:
            self.scroll_to(y=index, animate=False, immediate=True)
        elif index >= top + height:
            self.scroll_to(y=index - height + 1, animate=False, immediate=True)
        self.refresh()
        self.post_message(self.Moved())

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
            if event.chain >= 2:
                self.post_message(self.Selected(self.view.get(index)))

    def on_mouse_scroll_up(self) -> None:
        self.following = False

    def key_enter(self) -> None:
        entry = self.current()
        if entry is not None:
            self.post_message(self.Selected(entry))
