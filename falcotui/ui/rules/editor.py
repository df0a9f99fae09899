"""The rules file editors: a TextArea set up for YAML (tree-sitter highlighting when installed), one per
file in a stack, and the files list entries.

Highlighting needs the `tree-sitter` and `tree-sitter-yaml` packages (Textual's `syntax` extra brings them
with many more grammars); without them the editor still works, unhighlighted.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import TextArea
from textual.widgets.option_list import Option

from falcotui.falco.sanitize import sanitize

YAML = "yaml"
DEFAULTS_KEY = "<default rules>"  # not a valid ConfigMap key: no clash with a file
DEFAULTS_ID = "rules-defaults"


class RulesEditor(TextArea):
    """One rules file: `key` is its ConfigMap key (or the default rules' path, read-only)."""

    HELP_TITLE = "the rules editor"

    DEFAULT_CSS = """
    RulesEditor { height: 1fr; border: none; padding: 0; }
    RulesEditor:focus { border: none; }
    """

    # The Rules screen's keys: when its action is disabled (push with errors) the key must not fall
    # through to TextArea's own binding (ctrl+u would delete to the start of the line).
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "ctrl+u,ctrl+d,ctrl+e",
            "reserved",
            "(kept for the Rules screen)",
            show=False,
            id="editor.reserved",
        ),
        # Tab indents here; esc leaves (TextArea moves the focus on esc itself in indent mode — this
        # binding is what help and the key bar show, and what runs if TextArea ever stops doing it)
        Binding("escape", "leave", "Leave editor", id="editor.leave-editor"),
    ]

    def __init__(self, text: str, *, key: str, read_only: bool = False, id: str | None = None) -> None:
        super().__init__(
            text,
            language=None,
            theme="css",
            soft_wrap=False,
            tab_behavior="indent",
            read_only=read_only,
            show_line_numbers=True,
            max_checkpoints=200,
            id=id,
        )
        self.key = key
        self.indent_width = 2
        self.indent_type = "spaces"

    def action_leave(self) -> None:
        self.screen.focus_next()

    def render_lines(self, crop: Region) -> list[Strip]:
        # Textual can ask a TextArea for lines before the stylesheet gave it its component styles
        # (seen once when an editor is mounted while the screen refreshes): draw blank this frame
        # and refresh, instead of letting the KeyError end the app.
        try:
            return super().render_lines(crop)
        except KeyError:
            self.refresh()
            return [Strip.blank(crop.width)] * crop.height

    def on_mount(self) -> None:
        if YAML in self.available_languages:
            self.language = YAML
        if self.app.is_headless:  # deterministic screenshots
            self.cursor_blink = False

    def action_reserved(self) -> None:
        self.app.bell()

    @property
    def highlighted(self) -> bool:
        return self.language == YAML

    def jump_to(self, line: int, column: int) -> None:
        """Put the cursor on a 1-based `line`:`column` (clamped to the text) and show it."""
        row = min(max(line - 1, 0), max(self.document.line_count - 1, 0))
        col = min(max(column - 1, 0), len(self.document.get_line(row)))
        self.move_cursor((row, col), center=True)
        self.focus()


class EditorStack(Vertical):
    """One `RulesEditor` per rules file (each keeps its own undo history and cursor), one shown at a
    time, plus the default rules read-only; `key` is the ConfigMap key, `DEFAULTS_KEY` the defaults."""

    DEFAULT_CSS = "EditorStack { height: 1fr; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.ids: dict[str, str] = {}  # key -> editor widget id (keys may hold dots)
        self._serial = 0  # editor ids are never reused: a removed editor may still be unmounting

    def _new_id(self) -> str:
        self._serial += 1
        return f"rules-ed-{self._serial - 1}"

    async def load(self, files: dict[str, str], shown: str) -> None:
        """Replace every file's editor (the defaults' editor is mounted again with `add_defaults`)."""
        await self.remove_children()
        self._serial = 0
        self.ids = {key: self._new_id() for key in files}
        editors = [RulesEditor(text, key=key, id=self.ids[key]) for key, text in files.items()]
        for editor in editors:
            editor.display = editor.key == shown
        await self.mount_all(editors)

    async def add(self, key: str, text: str) -> RulesEditor:
        """A new file's editor (hidden until shown); the other editors keep their undo history."""
        self.ids[key] = self._new_id()
        editor = RulesEditor(text, key=key, id=self.ids[key])
        editor.display = False
        await self.mount(editor)
        return editor

    async def discard(self, key: str) -> None:
        """Remove one file's editor (and its undo history)."""
        editor = self.editor(key)
        del self.ids[key]
        await editor.remove()

    async def add_defaults(self, text: str, shown: str) -> None:
        if DEFAULTS_KEY in self.ids:
            return
        self.ids[DEFAULTS_KEY] = DEFAULTS_ID
        editor = RulesEditor(text, key=DEFAULTS_KEY, read_only=True, id=DEFAULTS_ID)
        editor.display = shown == DEFAULTS_KEY
        await self.mount(editor)

    def show(self, key: str) -> None:
        wanted = self.ids[key]
        for editor in self.query(RulesEditor):
            editor.display = editor.id == wanted

    def editor(self, key: str) -> RulesEditor:
        return self.query_one(f"#{self.ids[key]}", RulesEditor)

    def key_of(self, editor_id: str) -> str:
        return next((k for k, v in self.ids.items() if v == editor_id), "")


def file_options(
    files: dict[str, str], live: dict[str, str], with_errors: set[str], ids: dict[str, str], defaults: str
) -> list[Option | None]:
    """The files list: `✗` has errors, `●` modified (or new) since pulled, `−` removed (the next push
    deletes it from the ConfigMap); then the default rules (`defaults`: "loaded", "unavailable" or "")."""
    options: list[Option | None] = []
    for key in sorted(set(files) | set(live)):
        if key not in files:
            text = Text.assemble((" −", "bold red"), (" " + sanitize(key, max_len=80), "dim strike"))
            options.append(Option(text, id=f"removed:{len(options)}", disabled=True))
            continue
        text = Text.assemble(
            ("✗" if key in with_errors else " ", "bold red"),
            ("●" if files[key] != live.get(key) else " ", "yellow"),
            " " + sanitize(key, max_len=80),
        )
        options.append(Option(text, id=f"f:{ids[key]}"))
    if defaults == "loaded":
        options.append(None)
        text = Text.assemble("  falco_rules.yaml\n", ("  default · read-only", "dim"))
        options.append(Option(text, id=f"f:{DEFAULTS_ID}"))
    elif defaults:
        options.append(None)
        options.append(Option(Text("  default rules unavailable", "dim"), id="f:none", disabled=True))
    return options
