"""Editing one rules file in the user's own editor ($VISUAL, else $EDITOR, else vi): the app gives the
terminal to the editor, which works on a temporary copy of the file; only a clean exit puts the result back
into the editor widget, as one undoable change. Nothing is lost either way: when the editor fails after
changing the copy, the copy is kept and its path reported.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from textual.app import App, SuspendNotSupported

from falcotui.ui.rules.editor import RulesEditor

DEFAULT_EDITOR = "vi"


def editor_command(environ: Mapping[str, str] = os.environ) -> tuple[str, str]:
    """(the variable it came from, the command line): $VISUAL, else $EDITOR, else `vi`."""
    for name in ("VISUAL", "EDITOR"):
        value = environ.get(name, "").strip()
        if value:
            return f"${name}", value
    return "the default editor", DEFAULT_EDITOR


def edit_externally(app: App, editor: RulesEditor) -> str:
    """Run the user's editor on `editor`'s text; returns a problem to show ("" when all went well)."""
    source, command = editor_command()
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        return f"cannot run {source} ({command!r}): {exc}; nothing changed"
    if not argv or shutil.which(argv[0]) is None:
        return (
            f"{source} ({command!r}) was not found: set VISUAL or EDITOR to an installed editor; "
            "nothing changed"
        )
    original = editor.text
    folder = Path(tempfile.mkdtemp(prefix="falcotui-edit-"))
    path = folder / editor.key
    path.write_text(original, encoding="utf-8")
    rc: int | None = None
    failure: OSError | None = None
    try:
        # Textual resumes the app only when the block ends normally: nothing may escape it.
        with app.suspend():
            try:
                rc = subprocess.call([*argv, str(path)])
            except OSError as exc:
                failure = exc
    except SuspendNotSupported:
        shutil.rmtree(folder, ignore_errors=True)
        return "this terminal cannot be handed to an external editor; nothing changed"
    if failure is not None:
        shutil.rmtree(folder, ignore_errors=True)
        return f"cannot run {source} ({command!r}): {failure}; nothing changed"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        shutil.rmtree(folder, ignore_errors=True)
        return f"{argv[0]} removed the file it was given; nothing changed"
    except (OSError, UnicodeDecodeError) as exc:
        return f"cannot read what {argv[0]} saved ({exc}): not loaded; the file is kept at {path}"
    if rc:
        if text == original:
            shutil.rmtree(folder, ignore_errors=True)
            return f"{argv[0]} exited with status {rc}; nothing changed"
        return (
            f"{argv[0]} exited with status {rc}: its changes were not loaded and your text is unchanged; "
            f"the edited copy is kept at {path}"
        )
    shutil.rmtree(folder, ignore_errors=True)
    if text != editor.text:
        editor.replace(text, (0, 0), editor.document.end)
    return ""
