"""What the Line-API lists share (the alert list, the count lists, the fleet's table and tiles): their
movement keys, a cursor line kept in sight, the cursor's look redrawn when the focus comes or goes, and
the painting of one cached row under the row's look (cursor, stripe)."""

from __future__ import annotations

from textual.binding import Binding, BindingType
from textual.scroll_view import ScrollView
from textual.strip import Strip

from falcotui.ui.widgets.common import KeysFollowFocus, LineStyles

_ACROSS = (  # a grid of tiles: left/right by one, up/down by a row
    ("left,h", "cursor(-1, 0)", "Left", "left"),
    ("right,l", "cursor(1, 0)", "Right", "right"),
    ("up,k", "cursor(0, -1)", "Up", "up"),
    ("down,j", "cursor(0, 1)", "Down", "down"),
)
_DOWN = (("up,k", "cursor(-1)", "Up", "up"), ("down,j", "cursor(1)", "Down", "down"))
_PAGES = (("pageup", "page(-1)", "Page up", "page-up"), ("pagedown", "page(1)", "Page down", "page-down"))


def cursor_keys(
    prefix: str,
    *,
    first: str = "First",
    last: str = "Last",
    pages: bool = True,
    edges: bool = True,
    across: bool = False,
) -> list[BindingType]:
    """The movement keys of a list (not in the key bar: `?` lists them), with ids `<prefix>.up` … for the
    user's keymap: arrows and vi keys, page up/down (`pages`), home/end (`edges`, said as `first`/`last`,
    their ids the first word of each); `across` for a grid of tiles. The widget defines the actions
    (`cursor`, `page`, `edge`)."""
    moves = list(_ACROSS if across else _DOWN)
    if pages:
        moves += _PAGES
    if edges:
        moves += [("home", "edge(0)", first, first.split()[0].lower())]
        moves += [("end", "edge(1)", last, last.split()[0].lower())]
    return [
        Binding(key, action, text, show=False, id=f"{prefix}.{slug}") for key, action, text, slug in moves
    ]


class CursorLines(LineStyles, KeysFollowFocus, ScrollView, can_focus=True):
    """A Line-API list of rows with a cursor. Subclasses say how many rows there are (`row_count`), draw
    one (`row_strip`, cached by them) and name its look (`row_look`: a component class, or ""); the
    widgets drawing something else than one row a line (tiles, the alert list's placeholders) override
    `render_line` and use only the rest."""

    @property
    def row_count(self) -> int:
        return 0

    def row_strip(self, index: int, width: int) -> Strip:
        """Row `index` drawn at `width` (without the row's look)."""
        raise NotImplementedError

    def row_look(self, index: int) -> str:
        """The component class row `index` is drawn in ("" for none)."""
        return ""

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        width = self.scrollable_content_region.width
        base = self.line_style()
        if index >= self.row_count:
            return Strip.blank(width, base)
        look = self.row_look(index)
        if look:
            base += self.line_style(look)
        return self.row_strip(index, width).crop_extend(0, width, None).apply_style(base)

    def keep_in_sight(self, line: int) -> None:
        """Scroll (at once) so that virtual line `line` is on screen, moving as little as needed."""
        height = self.scrollable_content_region.height
        if height <= 0:
            return
        top = self.scroll_offset.y
        if line < top:
            self.scroll_to(y=line, animate=False, immediate=True)
        elif line >= top + height:
            self.scroll_to(y=line - height + 1, animate=False, immediate=True)

    def repaint_cursor(self) -> None:
        """Draw the cursor's look again (its focus and blur styles differ)."""
        self.refresh()

    def on_focus(self) -> None:
        self.forget_line_styles()
        self.repaint_cursor()

    def on_blur(self) -> None:
        self.forget_line_styles()
        self.repaint_cursor()
