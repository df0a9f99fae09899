"""`?`: every key that works where you were, read from the live bindings (so the list cannot go stale)."""

from __future__ import annotations

import re
from typing import ClassVar, NamedTuple

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingsMap, BindingType
from textual.containers import VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from falcotui.falco.sanitize import sanitize
from falcotui.ui.keymap import UserKeymap, default_keymap_path
from falcotui.ui.widgets.common import titled

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


class KeyRow(NamedTuple):
    keys: str  # as the keyboard shows them, ` / ` between several
    what: str
    ident: str = ""  # the binding id a keymap file remaps it by ("" for Textual's own keys)


def _live_bindings(node: DOMNode) -> BindingsMap:
    """The node's bindings with the user's keymap applied, as they work now (Textual applies it per key)."""
    bindings = node._bindings.copy()
    keymap = getattr(node.app, "_keymap", None)
    if keymap:
        bindings.apply_keymap(keymap)
    return bindings


def key_sections(screen: Screen) -> list[tuple[str, list[KeyRow]]]:
    """(section, rows) for the screen, the focused widget and the app, duplicates merged."""
    app = screen.app
    nodes: list[tuple[str, DOMNode]] = [(type(screen).__name__.removesuffix("Screen") or "Screen", screen)]
    nodes.append(("Everywhere", app))
    focused = screen.focused
    if focused is not None:
        nodes.append((f"In {widget_title(focused)}", focused))
    sections: list[tuple[str, list[KeyRow]]] = []
    seen: set[tuple[str, str]] = set()
    for title, node in nodes:
        by_action: dict[str, list[str]] = {}
        ids: dict[str, str] = {}
        for key, bindings in _live_bindings(node).key_to_bindings.items():
            for b in bindings:
                if b.action in SKIPPED_ACTIONS or not _offered(node, b):
                    continue
                what = _label(b)
                if not what or (key, what) in seen:
                    continue
                seen.add((key, what))
                by_action.setdefault(what, []).append(app.get_key_display(b))
                if b.id:
                    ids.setdefault(what, b.id)
        rows = [
            KeyRow(" / ".join(dict.fromkeys(keys)), what, ids.get(what, ""))
            for what, keys in by_action.items()
        ]
        if rows:
            sections.append((title, rows))
    keymap: UserKeymap = getattr(app, "user_keymap", None) or UserKeymap()
    path = keymap.path or default_keymap_path()
    remapped = f" ({len(keymap.keys)} remapped there)" if keymap.keys else ""
    extra = [KeyRow(keys, what) for keys, what in EXTRA_KEYS]
    extra.append(KeyRow("keymap", f"remap a key by its id (right column) in {sanitize(str(path))}{remapped}"))
    sections.append(("Also", extra))
    return sections


def keys_renderable(sections: list[tuple[str, list[KeyRow]]]) -> Group:
    """Each section's title on its own line, then its keys; the key column as wide as the widest key, the
    binding ids dim on the right."""
    width = max((len(row.keys) for _, rows in sections for row in rows), default=1)
    what_width = max((len(row.what) for _, rows in sections for row in rows if row.ident), default=1)
    parts: list[Text | Table] = []
    for title, rows in sections:
        parts.append(Text(title, style="bold underline"))
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True, width=width)
        table.add_column(min_width=what_width)
        table.add_column(style="dim", no_wrap=True)
        for row in rows:
            table.add_row(row.keys, row.what, row.ident)
        parts.extend((table, Text("")))
    return Group(*parts[:-1])


class HelpScreen(ModalScreen):
    """A scrollable list of keys over the screen it was opened from."""

    # wide enough for key, description and binding id side by side (type-qualified: wins over app.tcss)
    CSS = """
    HelpScreen #help-box { width: 100; max-width: 96%; scrollbar-size-vertical: 1; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Close help", id="help.close"),
        Binding("question_mark", "dismiss", "Close help", show=False, id="help.close"),
        Binding("q", "dismiss", "Close help", show=False, id="help.close"),
    ]

    def __init__(self, under: Screen) -> None:
        super().__init__()
        self.under = under

    def compose(self) -> ComposeResult:
        with titled(VerticalScroll(id="help-box"), "Keys · esc to close · ↑↓ scroll"):
            yield Static(keys_renderable(key_sections(self.under)))

    def on_mount(self) -> None:
        self.query_one("#help-box").focus()
