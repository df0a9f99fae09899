"""Adding and removing rules files on the Rules screen: which names Falco will load from the rules
ConfigMap, the dialog asking for a new file's name, the starter text, and the screen actions.

The `falco-rules` ConfigMap is mounted at `/etc/falco/rules.d`, one file per key, and falco.yaml lists that
directory in `rules_files`: Falco loads every `*.yaml`/`*.yml` file in it, in name order, after
`/etc/falco/falco_rules.yaml`. A new file lives in the working copy only until the next push sends it; a
removed one disappears from the ConfigMap with the next push.

`RulesFileOps` is a mixin of `RulesScreen`; it changes only the working copy (`files`) and the editors.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, OptionList, Static

from falcotui.falco.sanitize import sanitize
from falcotui.ops.rules.model import CONFIGMAP_KEY, MAX_KEY_LEN, RULES_DIR, RulesSnapshot
from falcotui.ui.rules.editor import DEFAULTS_KEY, EditorStack
from falcotui.ui.widgets.dialogs import DIALOG_CSS, ConfirmDialog

RULES_SUFFIXES = (".yaml", ".yml")  # the only files Falco loads from a rules directory
DEFAULT_RULES_NAME = "falco_rules.yaml"  # the image's default rules, listed under this name


def new_file_problem(name: str, existing: Collection[str]) -> str:
    """Why `name` cannot be a new rules file next to `existing` ("" when it can)."""
    if not name:
        return "type a file name, e.g. 50-network-rules.yaml"
    if len(name) > MAX_KEY_LEN:
        return f"a ConfigMap key has at most {MAX_KEY_LEN} characters"
    if not CONFIGMAP_KEY.fullmatch(name):
        return "use only letters, digits, '-', '_' and '.' (a ConfigMap key)"
    if not name[0].isalnum():
        return "start the name with a letter or a digit"
    if not name.endswith(RULES_SUFFIXES):
        return f"end the name in .yaml or .yml: Falco loads nothing else from {RULES_DIR}"
    if name == DEFAULT_RULES_NAME:
        return f"{DEFAULT_RULES_NAME} is the name of Falco's default rules: choose another name"
    if name in existing:
        return f"{name} exists already"
    return ""


def load_order_note(name: str, existing: Collection[str]) -> str:
    """Where `name` comes in Falco's load order (after the default rules, then by name)."""
    before = [k for k in sorted(existing) if k < name]
    after = f"after {DEFAULT_RULES_NAME}" + (f" and {', '.join(before)}" if before else "")
    return f"{RULES_DIR}/{name} loads {after}: it can use their macros and lists"


def starter_text(name: str) -> str:
    """A new file's text: comments only (a valid, empty rules file) with an example rule to start from."""
    return (
        f"# {name}: custom Falco rules, loaded from {RULES_DIR} after {DEFAULT_RULES_NAME}\n"
        "# and after the files whose names sort before this one.\n"
        "#\n"
        "# - rule: Netcat started in container\n"
        "#   desc: nc or ncat started in a container\n"
        "#   condition: spawned_process and container and proc.name in (nc, ncat)\n"
        "#   output: Netcat started (cmd=%proc.cmdline container=%container.name)\n"
        "#   priority: WARNING\n"
        "#   tags: [container, network]\n"
    )


class NewFileDialog(ModalScreen[str | None]):
    """Ask for a new rules file's name, checked as you type; answers the name or None."""

    DEFAULT_CSS = (
        DIALOG_CSS
        + """
    NewFileDialog .dialog { height: auto; max-width: 90; }
    NewFileDialog #new-file-problem { height: auto; color: $error; }
    """
    )
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="new-file.cancel")]

    def __init__(self, existing: Collection[str]) -> None:
        super().__init__()
        self.existing = list(existing)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog small"):
            yield Static(Text(f"New rules file in the rules ConfigMap ({RULES_DIR})"), classes="title")
            yield Input(placeholder="e.g. 50-network-rules.yaml", id="new-file-name")
            yield Static(id="new-file-problem")
            yield Static(id="new-file-note", classes="note")
            with Horizontal(classes="buttons"):
                yield Button("Create", id="confirm", variant="primary", disabled=True)
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one(Input).focus()
        self._check("")

    @property
    def problem(self) -> str:
        return new_file_problem(self.query_one(Input).value.strip(), self.existing)

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        self._check(event.value.strip())

    def _check(self, name: str) -> None:
        problem = new_file_problem(name, self.existing)
        shown = problem if name else ""
        self.query_one("#new-file-problem", Static).update(Text(sanitize(shown)))
        note = "sent to the cluster with the next push"
        if not problem:
            note = load_order_note(name, self.existing)
        self.query_one("#new-file-note", Static).update(Text(sanitize(note)))
        self.query_one("#confirm", Button).disabled = bool(problem)

    @on(Input.Submitted)
    @on(Button.Pressed, "#confirm")
    def _create(self) -> None:
        name = self.query_one(Input).value.strip()
        if self.problem:
            self.query_one("#new-file-problem", Static).update(Text(sanitize(self.problem)))
            self.app.bell()
            return
        self.dismiss(name)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class RulesFileOps:
    """Mixed into `RulesScreen` (a Textual screen): ctrl+n adds a rules file, delete removes one."""

    snapshot: RulesSnapshot | None
    files: dict[str, str]
    current: str

    def action_new_file(self) -> None:
        if self.read_only or self.snapshot is None:
            return
        self.app.push_screen(NewFileDialog(self.files), self._new_file_named)

    async def _new_file_named(self, name: str | None) -> None:
        if not name or self.snapshot is None or new_file_problem(name, self.files):
            return
        text = starter_text(name)
        self.files = dict(sorted({**self.files, name: text}.items()))  # Falco's load order
        stack = self.query_one(EditorStack)
        await stack.add(name, text)
        self.query_one("#rules-message").display = False
        stack.display = True
        self._refresh_files()
        self._select(name)
        self._follow_in_list(name)
        self.editor().focus()
        self._schedule_lint(0)
        self.notify(f"{name} added: the next push (ctrl+u) sends it to the cluster", markup=False)

    def _follow_in_list(self, key: str) -> None:
        """Move the files list's highlight (when it has one) to `key`, so it does not point elsewhere."""
        olist = self.query_one("#rules-files", OptionList)
        wanted = f"f:{self.query_one(EditorStack).ids.get(key)}"
        if olist.highlighted is None:
            return
        for index in range(olist.option_count):
            if olist.get_option_at_index(index).id == wanted:
                olist.highlighted = index
                return

    def action_remove_file(self) -> None:
        key = self.current
        if self.read_only or self.snapshot is None or key not in self.files:
            return
        if key in self.snapshot.files:
            body = (
                f"The next push deletes {key} from the rules ConfigMap: every Falco then reloads its rules "
                f"without the rules, macros and lists of {RULES_DIR}/{key}.\n\n"
                "Rolling back to a version in the history that holds it brings it back."
            )
        else:
            body = f"{key} was never pushed: its text is discarded."
        dialog = ConfirmDialog(f"Remove {key}?", body, confirm="Remove", danger=True)
        self.app.push_screen(dialog, lambda yes: self._remove_confirmed(bool(yes), key))

    async def _remove_confirmed(self, yes: bool, key: str) -> None:
        if not yes or key not in self.files:
            return
        keys = list(self.files)
        nxt = keys[keys.index(key) + 1] if keys.index(key) + 1 < len(keys) else ""
        nxt = nxt or (keys[keys.index(key) - 1] if len(keys) > 1 else "")
        self.files = {k: v for k, v in self.files.items() if k != key}
        stack = self.query_one(EditorStack)
        await stack.discard(key)
        self._refresh_files()
        if nxt or DEFAULTS_KEY in stack.ids:
            self._select(nxt or DEFAULTS_KEY)
            self._follow_in_list(nxt or DEFAULTS_KEY)
        else:
            self.current = ""
            stack.display = False
            self.query_one("#rules-message").display = True
            self.query_one("#rules-message", Static).update(Text("no rules files: ctrl+n adds one", "dim"))
        self._schedule_lint(0)
        live = self.snapshot is not None and key in self.snapshot.files
        after = ": the next push deletes it from the cluster" if live else ""
        self.notify(f"{key} removed{after}", markup=False)
