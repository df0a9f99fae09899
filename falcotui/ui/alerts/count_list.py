"""`CountList`: a short list of labelled counts drawn as text lines — counts by priority, top rules, the
rules grouped — where a click (or `enter`) on a row picks it, Falcosidekick UI's filter chips.

The counts change several times a second under an alert storm. A DataTable re-rendered all its cells on
each change and was a fifth of the Alerts screen's drawing; here a row is one cached line, redrawn only
when its label or count changed, and the list fits its columns to whatever width it gets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.strip import Strip

from falcotui.ui.widgets.lines import CursorLines, cursor_keys

#: (key, label, count text)
Row = tuple[str, Text, str]


def row_text(label: Text, count: str, width: int, *, count_first: bool, count_width: int = 1) -> Text:
    """`label…   123` fitted to `width` (or `   123  label…` with `count_first`), counts right-aligned
    in `count_width` cells."""
    count_width = max(len(count), count_width)
    room = max(1, width - count_width - 3)
    shown = label.copy()
    shown.truncate(room, overflow="ellipsis", pad=not count_first)
    line = Text(no_wrap=True, overflow="crop", end="")
    if count_first:
        line.append(f" {count.rjust(count_width)}  ")
        line.append_text(shown)
    else:
        line.append(" ")
        line.append_text(shown)
        line.append(f" {count.rjust(count_width)} ")
    return line


class CountList(CursorLines):
    """See the module docstring."""

    HELP_TITLE = "the counts list"

    BINDINGS: ClassVar[list[BindingType]] = [
        *cursor_keys("counts", pages=False, edges=False),
        Binding("enter", "pick", "Filter to it", show=False, id="counts.filter-to-it"),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {"count-list--cursor"}
    DEFAULT_CSS = """
    CountList { height: auto; overflow-x: hidden; scrollbar-size-vertical: 1; }
    CountList > .count-list--cursor { background: $block-cursor-blurred-background; }
    CountList:focus > .count-list--cursor { background: $block-cursor-background;
                                            color: $block-cursor-foreground; text-style: bold; }
    """

    @dataclass
    class Selected(Message):
        """A row was picked (click or enter)."""

        count_list: CountList
        key: str

        @property
        def control(self) -> CountList:
            return self.count_list

    def __init__(self, *, count_first: bool = False, id: str | None = None, classes: str | None = None):
        super().__init__(id=id, classes=classes)
        self.count_first = count_first
        self.rows: list[Row] = []
        self.cursor = 0
        self._strips: dict[tuple[str, int], Strip] = {}
        self._seen: dict[str, tuple[str, str, str]] = {}
        self._count_width = 1

    def set_rows(self, rows: Sequence[Row]) -> None:
        """Show `rows` in order; the cursor stays on its key, only changed rows are drawn again."""
        before = self.rows[self.cursor][0] if 0 <= self.cursor < len(self.rows) else None
        seen = {key: (label.plain, str(label.style), count) for key, label, count in rows}
        if list(seen.items()) == list(self._seen.items()) and len(rows) == len(self.rows):
            return
        for key, value in seen.items():
            if self._seen.get(key) != value:
                self._strips = {k: s for k, s in self._strips.items() if k[0] != key}
        self._seen = seen
        count_width = max((len(count) for _, _, count in rows), default=1)
        if count_width != self._count_width:
            self._count_width = count_width
            self._strips.clear()
        resized = len(rows) != len(self.rows)
        self.rows = list(rows)
        keys = [key for key, _, _ in rows]
        self.cursor = keys.index(before) if before in seen else min(self.cursor, max(0, len(rows) - 1))
        if resized:  # `height: auto` follows the number of rows
            self.virtual_size = Size(self.scrollable_content_region.width, len(rows))
        self.refresh(layout=resized)

    def current(self) -> str | None:
        return self.rows[self.cursor][0] if 0 <= self.cursor < len(self.rows) else None

    def get_content_height(self, container, viewport, width: int) -> int:
        return len(self.rows)

    def on_resize(self) -> None:
        self._strips.clear()
        self.virtual_size = Size(self.scrollable_content_region.width, len(self.rows))

    @property
    def row_count(self) -> int:
        return len(self.rows)

    def row_strip(self, index: int, width: int) -> Strip:
        key, label, count = self.rows[index]
        strip = self._strips.get((key, width))
        if strip is None:
            text = row_text(label, count, width, count_first=self.count_first, count_width=self._count_width)
            strip = self._strips[key, width] = Strip(list(text.render(self.app.console)))
        return strip

    def row_look(self, index: int) -> str:
        shown = index == self.cursor and (self.has_focus or self.count_first)  # rule groups: unfocused too
        return "count-list--cursor" if shown else ""

    def _move_to(self, index: int) -> None:
        if self.rows:
            self.cursor = max(0, min(len(self.rows) - 1, index))
            self.keep_in_sight(self.cursor)
            self.refresh()

    def action_cursor(self, step: int) -> None:
        self._move_to(self.cursor + step)

    def action_pick(self) -> None:
        key = self.current()
        if key is not None:
            self.post_message(self.Selected(self, key))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)  # inside the border
        if offset is None:
            return
        index = self.scroll_offset.y + offset.y
        if 0 <= index < len(self.rows):
            self.cursor = index
            self.refresh()
            self.post_message(self.Selected(self, self.rows[index][0]))
