"""`NodeCursorView`: what the fleet's table and tiles share — a Line-API view of named nodes with a cursor.

It keeps the node order and the cursor (which follows its node when the order changes), scrolls the
cursor's line into view, and turns keys and clicks into `Highlighted` / `Selected` messages. Subclasses
say where a node sits (`line_of`) and which node is under a click (`index_at`), and draw the lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from textual import events
from textual.message import Message

from falcotui.ui.widgets.lines import CursorLines


class NodeCursorView(CursorLines):
    """See the module docstring."""

    @dataclass
    class Highlighted(Message):
        """The cursor moved to another node (or the node under it changed)."""

        node: str | None

    @dataclass
    class Selected(Message):
        """A node was chosen (a click on the highlighted node; `enter` is the screen's key)."""

        node: str

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.names: list[str] = []
        self.cursor = 0
        self._index: dict[str, int] = {}

    # ------------------------------------------------------------ what subclasses define

    def line_of(self, index: int) -> int:
        """The virtual line the node at `index` is drawn on."""
        return index

    def index_at(self, x: int, y: int) -> int | None:
        """The index of the node drawn at content offset (x, y), if any."""
        index = self.scroll_offset.y + y
        return index if 0 <= index < len(self.names) else None

    # ------------------------------------------------------------ order and cursor

    def set_order(self, names: Sequence[str], before: str | None) -> bool:
        """Adopt a new node order, keeping the cursor on `before` when it is still shown; True if changed."""
        names = list(names)
        if names == self.names:
            return False
        self.names = names
        self._index = {name: i for i, name in enumerate(names)}
        found = self._index.get(before) if before is not None else None
        self.cursor = max(0, found if found is not None else min(self.cursor, len(names) - 1))
        return True

    def current(self) -> str | None:
        """The highlighted node's name."""
        return self.names[self.cursor] if 0 <= self.cursor < len(self.names) else None

    def select_node(self, name: str) -> None:
        """Put the cursor on `name` (when it is shown)."""
        index = self._index.get(name)
        if index is not None:
            self._move_to(index)

    def scroll_to_cursor(self) -> None:
        self.keep_in_sight(self.line_of(self.cursor))

    def _move_to(self, index: int) -> None:
        if not self.names:
            return
        index = max(0, min(len(self.names) - 1, index))
        if index == self.cursor:
            return
        self.cursor = index
        self.scroll_to_cursor()
        self.refresh()
        self.post_message(self.Highlighted(self.current()))

    def action_edge(self, end: int) -> None:
        self._move_to(len(self.names) - 1 if end else 0)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        index = None if offset is None else self.index_at(offset.x, offset.y)
        if index is None:
            return
        if index == self.cursor:
            self.post_message(self.Selected(self.names[index]))
        else:
            self._move_to(index)
