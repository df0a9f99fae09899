"""`?`: every key that works where you were, read from the live bindings (so the list cannot go stale)."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

#: Textual's generic keys, listed once under "Also" instead of on every screen.
SKIPPED_ACTIONS = frozenset(
    {"focus_next", "focus_previous", "screen.copy_text", "app.copy_text", "help_quit"}
)
EXTRA_KEYS = (
    ("ctrl+p", "Command palette (also :)"),
    ("tab / shift+tab", "Move focus"),
    ("mouse", "Click rows, counts and rules; wheel scrolls"),
)


def _label(binding: Binding) -> str:
    return binding.description or binding.action.replace("_", " ")


def key_sections(screen: Screen) -> list[tuple[str, list[tuple[str, str]]]]:
    """(section, [(keys, what)]) for the screen, the focused widget and the app, duplicates merged."""
    app = screen.app
    nodes: list[tuple[str, DOMNode]] = [(type(screen).__name__.removesuffix("Screen") or "Screen", screen)]
    nodes.append(("Everywhere", app))
    focused = screen.focused
    if focused is not None:
        nodes.append(("In the focused " + type(focused).__name__, focused))
    sections: list[tuple[str, list[tuple[str, str]]]] = []
    seen: set[str] = set()
    for title, node in nodes:
        by_action: dict[str, list[str]] = {}
        for key, bindings in node._bindings.key_to_bindings.items():
            for b in bindings:
                if b.action in SKIPPED_ACTIONS:
                    continue
                what = _label(b)
                if not what or (key, what) in seen:
                    continue
                seen.add((key, what))
                by_action.setdefault(what, []).append(app.get_key_display(b))
        rows = [(" / ".join(dict.fromkeys(keys)), what) for what, keys in by_action.items()]
        if rows:
            sections.append((title, rows))
    sections.append(("Also", list(EXTRA_KEYS)))
    return sections


class HelpScreen(ModalScreen):
    """A scrollable list of keys over the screen it was opened from."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Close help"),
        Binding("question_mark", "dismiss", "Close help", show=False),
        Binding("q", "dismiss", "Close help", show=False),
    ]

    def __init__(self, under: Screen) -> None:
        super().__init__()
        self.under = under

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for title, rows in key_sections(self.under):
            table.add_row(Text(title, style="bold underline"), "")
            for keys, what in rows:
                table.add_row(keys, what)
            table.add_row("", "")
        with VerticalScroll(id="help-box") as box:
            box.border_title = "Keys · esc to close · ↑↓ scroll"
            yield Static(table)

    def on_mount(self) -> None:
        self.query_one("#help-box").focus()
