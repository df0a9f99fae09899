"""`FleetGrid`: the node table of the Fleet screen as a Line-API view — one cached line per node.

The grid pulls: it holds the node order, and when it draws a line it asks the screen for that node's
cells as they are now (`cells_of`), keeping the rendered `Strip` while the cells are the same. So only the
lines on screen ever cost cells: a node whose row changed off-screen costs nothing until it scrolls into
view, and then it is drawn from its current row at once. The screen says which nodes changed
(`changed`): those on screen are repainted. A DataTable re-rendered every cell on any update and cost most
of a screen switch at 50 nodes; at 5,000 nodes building every changed row's cells each tick was a quarter
of the UI's time. The cursor follows its node across sorts and filters; a click on the highlighted line
opens it (`enter` is the screen's key).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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

    def __init__(self, cells_of: Callable[[str], Cells | None], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.widths: tuple[int, ...] = ()
        self._cells_of = cells_of
        self._drawn: dict[str, tuple[Cells, Strip]] = {}  # node -> the cells its cached line was drawn from

    def set_columns(self, widths: Sequence[int]) -> None:
        """New column widths (the terminal was resized): every line is drawn again."""
        if tuple(widths) != self.widths:
            self.widths = tuple(widths)
            self._drawn.clear()
            self.refresh()

    def _sync_size(self) -> None:
        self.virtual_size = Size(self.scrollable_content_region.width, len(self.names))
        self.scroll_to_cursor()

    def _forget_gone(self) -> None:
        if len(self._drawn) > len(self.names) + 64:
            self._drawn = {name: found for name, found in self._drawn.items() if name in self._index}

    def on_resize(self) -> None:
        self._sync_size()

    @property
    def row_count(self) -> int:
        return len(self.names)

    def row_strip(self, index: int, width: int) -> Strip:
        """The node's line from its cells as the screen has them now, re-rendered only if they differ from
        the ones its cached line was drawn from."""
        name = self.names[index]
        cells = self._cells_of(name)
        drawn = self._drawn.get(name)
        if cells is None:  # gone from the fleet since the order was set (the screen reorders at once)
            return drawn[1] if drawn is not None else Strip.blank(width)
        if drawn is not None and drawn[0] is cells:
            return drawn[1]
        if drawn is not None and _same(drawn[0], cells):  # a new row that reads the same
            self._drawn[name] = (cells, drawn[1])
            return drawn[1]
        strip = Strip(list(grid_line(cells, self.widths).render(self.app.console)))
        self._drawn[name] = (cells, strip)
        return strip

    def row_look(self, index: int) -> str:
        return "fleet-grid--cursor" if index == self.cursor else "fleet-grid--stripe" if index % 2 else ""

    def action_cursor(self, step: int) -> None:
        self._move_to(self.cursor + step)

    def action_page(self, direction: int) -> None:
        self._move_to(self.cursor + direction * max(1, self.scrollable_content_region.height - 1))
