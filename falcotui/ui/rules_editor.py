"""The rules file editors: a TextArea set up for YAML (tree-sitter highlighting when installed), one per
file in a stack, the files list entries, and editing a file in $EDITOR.

Highlighting needs the `tree-sitter` and `tree-sitter-yaml` packages (Textual's `syntax` extra brings them
with many more grammars); without them the editor still works, unhighlighted.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import App, SuspendNotSupported
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

    DEFAULT_CSS = """
    RulesEditor { height: 1fr; border: none; padding: 0; }
    RulesEditor:focus { border: none; }
    """

    # The Rules screen's keys: when its action is disabled (push with errors) the key must not fall
    # through to TextArea's own binding (ctrl+u would delete to the start of the line).
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+u,ctrl+d,ctrl+e", "reserved", "(kept for the Rules screen)", show=False),
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

    async def load(self, files: dict[str, str], shown: str) -> None:
        """Replace every file's editor (the defaults' editor is mounted again with `add_defaults`)."""
        await self.remove_children()
        self.ids = {key: f"rules-ed-{i}" for i, key in enumerate(files)}
        editors = [RulesEditor(text, key=key, id=self.ids[key]) for key, text in files.items()]
        for editor in editors:
            editor.display = editor.key == shown
        await self.mount_all(editors)

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
    """The files list: `✗` has errors, `●` modified since pulled; then the default rules (`defaults`:
    "loaded", "unavailable" or "")."""
    options: list[Option | None] = []
    for key in files:
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


def edit_externally(app: App, editor: RulesEditor) -> str:
    """Open the editor's text in $VISUAL/$EDITOR (the app suspended), then put the result back into the
    editor as one undoable change; returns a problem to show ("" when none)."""
    command = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.TemporaryDirectory(prefix="falcotui-edit-") as folder:
        path = Path(folder) / editor.key
        path.write_text(editor.text)
        try:
            with app.suspend():
                rc = subprocess.call([*shlex.split(command), str(path)])
        except (SuspendNotSupported, OSError, ValueError) as exc:
            return f"cannot run {command!r}: {exc or type(exc).__name__}"
        text = path.read_text()
    if text != editor.text:
        editor.replace(text, (0, 0), editor.document.end)
    return f"{command} exited with status {rc}; its file was loaded anyway" if rc else ""
