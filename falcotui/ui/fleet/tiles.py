"""`FleetTiles`: the fleet as a heatmap — one small tile per node, for clusters too big for a table.

Each node is a two-cell tile coloured by what matters first: trouble with Falco itself (no pod, crash
loop, pending) shows as a glyph on a warning colour; a healthy node's colour is the worst priority it
alerted on recently. Arrows move between tiles, the screen's hint line names the node under the
cursor, `enter` or a click on the highlighted tile opens it. Same messages as `FleetGrid`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.strip import Strip

from falcotui.falco.alerts import Priority
from falcotui.ops.fleet.status import NodeState, NodeStatus
from falcotui.ui.fleet.node_cursor import NodeCursorView
from falcotui.ui.widgets.common import no_color

TILE_WIDTH = 3  # two coloured cells and a gap
_BLOCK = "██"
_TROUBLE: dict[NodeState, tuple[str, str]] = {
    NodeState.NO_POD: ("✗✗", "bold red on grey15"),
    NodeState.CRASH_LOOP: ("!!", "bold white on red"),
    NodeState.IMAGE_PULL: ("!!", "bold white on red"),
    NodeState.FAILING: ("!!", "bold white on red"),
    NodeState.PENDING: ("··", "bold black on yellow"),
    NodeState.TERMINATING: ("··", "bold black on yellow"),
    NodeState.NOT_READY: ("··", "bold black on yellow"),
    NodeState.NODE_NOT_READY: ("··", "bold black on yellow"),
}
_QUIET = "green4"
_HEAT: tuple[tuple[Priority, str], ...] = (  # worst priority at or above → tile colour
    (Priority.CRITICAL, "magenta1"),
    (Priority.ERROR, "red1"),
    (Priority.WARNING, "dark_orange"),
    (Priority.DEBUG, "dodger_blue2"),
)
_LEGEND = (
    ("✗✗", "bold red on grey15", "no Falco pod"),
    ("!!", "bold white on red", "crash-loop/failing"),
    ("··", "bold black on yellow", "pending/not ready"),
    (_BLOCK, "magenta1", "critical+"),
    (_BLOCK, "red1", "error"),
    (_BLOCK, "dark_orange", "warning"),
    (_BLOCK, "dodger_blue2", "notice/info"),
    (_BLOCK, _QUIET, "quiet"),
)
#: Without colour (NO_COLOR) every kind of tile needs its own glyph: shades of grey do not tell them apart.
_TROUBLE_NO_COLOR: dict[NodeState, tuple[str, str]] = {
    NodeState.NO_POD: ("✗✗", "bold"),
    NodeState.CRASH_LOOP: ("!!", "bold reverse"),
    NodeState.IMAGE_PULL: ("!!", "bold reverse"),
    NodeState.FAILING: ("!!", "bold reverse"),
    NodeState.PENDING: ("??", "bold"),
    NodeState.TERMINATING: ("??", "bold"),
    NodeState.NOT_READY: ("??", "bold"),
    NodeState.NODE_NOT_READY: ("??", "bold"),
}
_HEAT_NO_COLOR: tuple[tuple[Priority, str], ...] = (
    (Priority.CRITICAL, "██"),
    (Priority.ERROR, "▓▓"),
    (Priority.WARNING, "▒▒"),
    (Priority.DEBUG, "░░"),
)
_QUIET_NO_COLOR = "··"
_LEGEND_NO_COLOR = (
    ("✗✗", "bold", "no Falco pod"),
    ("!!", "bold reverse", "crash-loop/failing"),
    ("??", "bold", "pending/not ready"),
    ("██", "", "critical+"),
    ("▓▓", "", "error"),
    ("▒▒", "", "warning"),
    ("░░", "", "notice/info"),
    (_QUIET_NO_COLOR, "dim", "quiet"),
)
_CURSOR = Style(bold=True, color="white")
_REVERSE = Style(reverse=True)

Tile = tuple[str, str]  # (two-cell glyph, style)


def node_tile(row: NodeStatus) -> Tile:
    """How one node looks in the heatmap."""
    if no_color():
        trouble = _TROUBLE_NO_COLOR.get(row.state)
        if trouble is not None:
            return trouble
        if row.worst is None:
            return (_QUIET_NO_COLOR, "dim")
        return (next(glyph for floor, glyph in _HEAT_NO_COLOR if row.worst <= floor), "")
    trouble = _TROUBLE.get(row.state)
    if trouble is not None:
        return trouble
    if row.worst is None:
        return (_BLOCK, _QUIET)
    return (_BLOCK, next(colour for floor, colour in _HEAT if row.worst <= floor))


def legend(width: int) -> Text:
    """The colours explained, trouble first, on as many lines as `width` needs (never splitting one)."""
    text = Text()
    used = 0
    for glyph, style, label in _LEGEND_NO_COLOR if no_color() else _LEGEND:
        entry = 2 + 1 + len(label) + 3
        if used and used + entry > width:
            text.append("\n")
            used = 0
        text.append(glyph, style)
        text.append(f" {label}   ", "dim")
        used += entry
    return text


class FleetTiles(NodeCursorView):
    """See the module docstring."""

    HELP_TITLE = "the node tiles"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left,h", "cursor(-1, 0)", "Left", show=False, id="fleet-tiles.left"),
        Binding("right,l", "cursor(1, 0)", "Right", show=False, id="fleet-tiles.right"),
        Binding("up,k", "cursor(0, -1)", "Up", show=False, id="fleet-tiles.up"),
        Binding("down,j", "cursor(0, 1)", "Down", show=False, id="fleet-tiles.down"),
        Binding("home", "edge(0)", "First", show=False, id="fleet-tiles.first"),
        Binding("end", "edge(1)", "Last", show=False, id="fleet-tiles.last"),
    ]
    DEFAULT_CSS = """
    FleetTiles { height: 1fr; overflow-x: hidden; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.tiles: dict[str, Tile] = {}

    @property
    def per_row(self) -> int:
        return max(1, (self.scrollable_content_region.width or self.size.width or TILE_WIDTH) // TILE_WIDTH)

    def line_of(self, index: int) -> int:
        return index // self.per_row

    def index_at(self, x: int, y: int) -> int | None:
        column = x // TILE_WIDTH
        index = (self.scroll_offset.y + y) * self.per_row + column
        return index if column < self.per_row and 0 <= index < len(self.names) else None

    def set_tiles(self, rows: Sequence[tuple[str, Tile]]) -> None:
        """The nodes to show, in order, with their tiles."""
        before = self.current()
        tiles = dict(rows)
        reordered = self.set_order([name for name, _ in rows], before)
        changed = reordered or tiles != self.tiles
        self.tiles = tiles
        if reordered:
            self._sync_size()
        if changed:
            self.refresh()
        if self.current() != before:
            self.post_message(self.Highlighted(self.current()))

    def _sync_size(self) -> None:
        rows = -(-len(self.names) // self.per_row)
        self.virtual_size = Size(self.scrollable_content_region.width, rows)
        self.scroll_to_cursor()

    def on_resize(self) -> None:
        self._sync_size()
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.line_style()
        per_row = self.per_row
        first = (self.scroll_offset.y + y) * per_row
        segments: list[Segment] = []
        for index in range(first, min(first + per_row, len(self.names))):
            glyph, style = self.tiles[self.names[index]]
            tile_style = base + Style.parse(style)
            if index == self.cursor and glyph == _BLOCK:  # pointers on the tile's colour
                glyph, tile_style = "▶◀", base + _CURSOR + Style(bgcolor=tile_style.color)
            elif index == self.cursor:  # trouble keeps its glyph, reversed
                tile_style += _REVERSE
            segments.append(Segment(glyph, tile_style))
            segments.append(Segment(" ", base))
        return Strip(segments).crop_extend(0, width, base)

    def action_cursor(self, dx: int, dy: int) -> None:
        self._move_to(self.cursor + dx + dy * self.per_row)
