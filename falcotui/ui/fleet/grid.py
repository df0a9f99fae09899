"""`FleetGrid`: the node table of the Fleet screen as a Line-API view — one cached line per node.

The screen hands it every visible node's cells (`set_rows`) about once a second and whenever nodes
change; the grid keeps one rendered `Strip` per node and re-renders only the lines whose cells differ.
A DataTable re-rendered every cell on any update and cost most of a screen switch at 50 nodes; this
draws a 1000-node fleet in the time of the lines on screen. The cursor follows its node across sorts
and filters; a click on the highlighted line opens it (`enter` is the screen's key).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.binding import BindingType
from textual.geometry import Size
from textual.strip import Strip

from falcotui.ui.fleet.node_cursor import NodeCursorView
from falcotui.ui.widgets.lines import cursor_keys

#: cells of one node, in column order
Cells = tuple[Text, ...]


def grid_line(cells: Cells, widths: Sequence[int]) -> Text:
    """One row: each cell cut (with an ellipsis) or padded to its width, one space either side."""
    line = Text(no_wrap=True, overflow="crop", end="")
    for cell, width in zip(cells, widths, strict=False):
        part = cell.copy()
        part.truncate(width, overflow="ellipsis", pad=True)
        if cell.justify == "right":
            part = Text(" " * (width - cell.cell_len), end="") + cell if cell.cell_len <= width else part
        line.append(" ")
        line.append_text(part)
        line.append(" ")
    return line


def _same(a: Cells | None, b: Cells) -> bool:
    """Equal text *and* styles (rich's Text equality ignores the base style)."""
    return (
        a is not None
        and len(a) == len(b)
        and all(
            x.plain == y.plain and x.style == y.style and x.spans == y.spans
            for x, y in zip(a, b, strict=True)
        )
    )


class FleetGrid(NodeCursorView):
    """See the module docstring."""

    HELP_TITLE = "the node list"

    BINDINGS: ClassVar[list[BindingType]] = cursor_keys("fleet-grid")
    COMPONENT_CLASSES: ClassVar[set[str]] = {"fleet-grid--cursor", "fleet-grid--stripe"}
    DEFAULT_CSS = """
    FleetGrid { height: 1fr; overflow-x: hidden; }
    FleetGrid > .fleet-grid--cursor { background: $block-cursor-background; color: $block-cursor-foreground;
                                      text-style: bold; }
    FleetGrid:blur > .fleet-grid--cursor { background: $block-cursor-blurred-background; text-style: none; }
    FleetGrid > .fleet-grid--stripe { background: $surface-lighten-1 10%; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.widths: tuple[int, ...] = ()
        self.cells: dict[str, Cells] = {}
        self._strips: dict[str, Strip] = {}

    def set_columns(self, widths: Sequence[int]) -> None:
        """New column widths (the terminal was resized): every line is drawn again."""
        if tuple(widths) != self.widths:
            self.widths = tuple(widths)
            self._strips.clear()
            self.refresh()

    def set_rows(self, rows: Sequence[tuple[str, Cells]]) -> None:
        """The nodes to show, in order, with their cells; only changed lines are repainted."""
        before = self.current()
        reordered = self.set_order([name for name, _ in rows], before)
        top = self.scroll_offset.y
        height = self.scrollable_content_region.height or self.size.height
        for index, (name, cells) in enumerate(rows):
            known = self.cells.get(name)
            if known is not cells and not _same(known, cells):
                self.cells[name] = cells
                self._strips.pop(name, None)
                if not reordered and top <= index < top + height:
                    self.refresh_line(index)
        if len(self.cells) > len(self.names):
            keep = set(self.names)
            for gone in [n for n in self.cells if n not in keep]:
                del self.cells[gone]
                self._strips.pop(gone, None)
        if reordered:
            self.virtual_size = Size(self.scrollable_content_region.width, len(self.names))
            self.scroll_to_cursor()
            self.refresh()
        if self.current() != before:
            self.post_message(self.Highlighted(self.current()))

    def update_rows(self, rows: Sequence[tuple[str, Cells]]) -> None:
        """New cells for some of the nodes shown, in place (the order is unchanged): only their lines are
        repainted, and only when they read differently."""
        top = self.scroll_offset.y
        height = self.scrollable_content_region.height or self.size.height
        for name, cells in rows:
            known = self.cells.get(name)
            index = self._index.get(name)
            if index is None or known is cells or _same(known, cells):
                continue
            self.cells[name] = cells
            self._strips.pop(name, None)
            if top <= index < top + height:
                self.refresh_line(index)

    def on_resize(self) -> None:
        self.virtual_size = Size(self.scrollable_content_region.width, len(self.names))
        self.scroll_to_cursor()

    @property
    def row_count(self) -> int:
        return len(self.names)

    def row_strip(self, index: int, width: int) -> Strip:
        name = self.names[index]
        strip = self._strips.get(name)
        if strip is None:
            segments = list(grid_line(self.cells[name], self.widths).render(self.app.console))
            strip = self._strips[name] = Strip(segments)
        return strip

    def row_look(self, index: int) -> str:
        return "fleet-grid--cursor" if index == self.cursor else "fleet-grid--stripe" if index % 2 else ""

    def action_cursor(self, step: int) -> None:
        self._move_to(self.cursor + step)

    def action_page(self, direction: int) -> None:
        self._move_to(self.cursor + direction * max(1, self.scrollable_content_region.height - 1))
