"""`?`: every key that works where you were, read from the live bindings (so the list cannot go stale)."""

from __future__ import annotations

import re
from typing import ClassVar

from rich.console import Group
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
    {
        "focus_next",
        "focus_previous",
        "app.focus_next",
        "app.focus_previous",
        "screen.copy_text",
        "app.copy_text",
        "help_quit",
        "scroll_left",  # the lists fit their width: nothing to scroll sideways
        "scroll_right",
    }
)
EXTRA_KEYS = (
    ("ctrl+p", "Command palette (also :)"),
    ("tab / shift+tab", "Move focus"),
    ("mouse", "Click rows, counts and rules; wheel scrolls"),
)


def _label(binding: Binding) -> str:
    return binding.description or binding.action.replace("_", " ")


_SIDEWAYS = frozenset({"page_left", "page_right", "scroll_left", "scroll_right"})


def _offered(node: DOMNode, binding: Binding) -> bool:
    """False for actions the node hides right now (e.g. every write action in read-only mode) and for
    sideways scrolling in a widget that never scrolls sideways (Textual's scroll views all bind it)."""
    name = binding.action.split("(", 1)[0].rsplit(".", 1)[-1]
    if name in _SIDEWAYS and not getattr(node, "allow_horizontal_scroll", True):
        return False
    return node.check_action(name, ()) is not False


def widget_title(widget: DOMNode) -> str:
    """How help names a focused widget: its HELP_TITLE (`the node list`), else its class in words."""
    title = getattr(widget, "HELP_TITLE", None)
    if title:
        return title
    words = re.findall(r"[A-Z][a-z0-9]*|[a-z0-9]+", type(widget).__name__)
    return "the " + " ".join(w.lower() for w in words)


def key_sections(screen: Screen) -> list[tuple[str, list[tuple[str, str]]]]:
    """(section, [(keys, what)]) for the screen, the focused widget and the app, duplicates merged."""
    app = screen.app
    nodes: list[tuple[str, DOMNode]] = [(type(screen).__name__.removesuffix("Screen") or "Screen", screen)]
    nodes.append(("Everywhere", app))
    focused = screen.focused
    if focused is not None:
        nodes.append((f"In {widget_title(focused)}", focused))
    sections: list[tuple[str, list[tuple[str, str]]]] = []
    seen: set[str] = set()
    for title, node in nodes:
        by_action: dict[str, list[str]] = {}
        for key, bindings in node._bindings.key_to_bindings.items():
            for b in bindings:
                if b.action in SKIPPED_ACTIONS or not _offered(node, b):
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


def keys_renderable(sections: list[tuple[str, list[tuple[str, str]]]]) -> Group:
    """Each section's title on its own line, then its keys; the key column as wide as the widest key."""
    width = max((len(keys) for _, rows in sections for keys, _ in rows), default=1)
    parts: list[Text | Table] = []
    for title, rows in sections:
        parts.append(Text(title, style="bold underline"))
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True, width=width)
        table.add_column()
        for keys, what in rows:
            table.add_row(keys, what)
        parts.extend((table, Text("")))
    return Group(*parts[:-1])


class HelpScreen(ModalScreen):
    """A scrollable list of keys over the screen it was opened from."""

    # as wide as the keys need (type-qualified: wins over app.tcss's plain id)
    CSS = """
    HelpScreen #help-box { width: auto; min-width: 40; scrollbar-size-vertical: 1; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Close help"),
        Binding("question_mark", "dismiss", "Close help", show=False),
        Binding("q", "dismiss", "Close help", show=False),
    ]

    def __init__(self, under: Screen) -> None:
        super().__init__()
        self.under = under

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box") as box:
            box.border_title = "Keys · esc to close · ↑↓ scroll"
            yield Static(keys_renderable(key_sections(self.under)))

    def on_mount(self) -> None:
        self.query_one("#help-box").focus()
