"""`FleetTiles`: the fleet as a heatmap — one small tile per node, for clusters too big for a table.

Each node is a two-cell tile coloured by what matters first: trouble with Falco itself (no pod, crash
loop, pending) shows as a glyph on a warning colour; a healthy node's colour is the worst priority it
alerted on recently. Arrows move between tiles, the screen's hint line names the node under the
cursor, `enter` or a click on the highlighted tile opens it. Same messages as `FleetGrid`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import BindingType
from textual.geometry import Size
from textual.strip import Strip

from falcotui.falco.alerts import Priority
from falcotui.ops.fleet.status import NodeState, NodeStatus
from falcotui.ui.fleet.node_cursor import NodeCursorView
from falcotui.ui.widgets.common import no_color
from falcotui.ui.widgets.lines import cursor_keys

TILE_WIDTH = 3  # two coloured cells and a gap
_BLOCK = "██"
Tile = tuple[str, str]  # (two-cell glyph, style)


@dataclass(frozen=True, slots=True)
class _Look:
    """One kind of tile: its glyph and style in colour, and without colour (NO_COLOR), where every kind
    needs its own glyph because shades of grey do not tell them apart; `label` explains it in the legend."""

    coloured: Tile
    plain: Tile
    label: str

    def tile(self) -> Tile:
        return self.plain if no_color() else self.coloured


_NO_POD = _Look(("✗✗", "bold red on grey15"), ("✗✗", "bold"), "no Falco pod")
_FAILING = _Look(("!!", "bold white on red"), ("!!", "bold reverse"), "crash-loop/failing")
_WAITING = _Look(("··", "bold black on yellow"), ("??", "bold"), "pending/not ready")
_TROUBLE: dict[NodeState, _Look] = {
    NodeState.NO_POD: _NO_POD,
    **dict.fromkeys((NodeState.CRASH_LOOP, NodeState.IMAGE_PULL, NodeState.FAILING), _FAILING),
    **dict.fromkeys(
        (NodeState.PENDING, NodeState.TERMINATING, NodeState.NOT_READY, NodeState.NODE_NOT_READY), _WAITING
    ),
}
_HEAT: tuple[tuple[Priority, _Look], ...] = (  # worst priority at or above → the tile
    (Priority.CRITICAL, _Look((_BLOCK, "magenta1"), ("██", ""), "critical+")),
    (Priority.ERROR, _Look((_BLOCK, "red1"), ("▓▓", ""), "error")),
    (Priority.WARNING, _Look((_BLOCK, "dark_orange"), ("▒▒", ""), "warning")),
    (Priority.DEBUG, _Look((_BLOCK, "dodger_blue2"), ("░░", ""), "notice/info")),
)
_QUIET = _Look((_BLOCK, "green4"), ("··", "dim"), "quiet")
_LEGEND = (_NO_POD, _FAILING, _WAITING, *(look for _, look in _HEAT), _QUIET)
_CURSOR = Style(bold=True, color="white")
_REVERSE = Style(reverse=True)


def node_tile(row: NodeStatus) -> Tile:
    """How one node looks in the heatmap."""
    look = _TROUBLE.get(row.state)
    if look is None and row.worst is not None:
        look = next(look for floor, look in _HEAT if row.worst <= floor)
    return (look or _QUIET).tile()


def legend(width: int) -> Text:
    """The colours explained, trouble first, on as many lines as `width` needs (never splitting one)."""
    text = Text()
    used = 0
    for look in _LEGEND:
        (glyph, style), label = look.tile(), look.label
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

    BINDINGS: ClassVar[list[BindingType]] = cursor_keys("fleet-tiles", across=True, pages=False)
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
