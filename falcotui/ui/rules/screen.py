"""The Rules screen: edit the rules ConfigMap's files with lint as you type, add or remove files, push them
without lost updates, watch every node hot-reload, browse the history and roll back.

This module holds the screen itself: its layout, loading the rules, the files list and editors, the nodes
refusing the rules and `$EDITOR` (through `rules_external_editor`). The state it shows (title, status line,
which actions are offered) is the mixin `RulesStatus` (`rules_status`); linting and file operations are
mixins too (`RulesLinting`, `rules_lint`; `RulesFileOps`, `rules_files_ops`); the cluster writes (push, the
cluster's own Falco checking first, conflict, reload, diff, history, roll back) are a controller,
`PushFlow` (`rules_push_flow`), that reports with messages the screen's base `RulesPushing`
(`rules_pushing`) handles.

Everything that touches the cluster runs in a worker thread (the kubernetes client is synchronous); the
reload tracker is async and runs on the loop. The working copy (`self.files`) is only ever replaced by
the user's own choice: a conflict, a rollback or a failed push leave the editor text as it is.

The state the status line and the key bar show is reactive (`STATUS_STATE`: what runs, what failed, the
snapshot, the checks); a change of any of it redraws the line and re-checks the actions, wherever it
comes from (a worker's answer, a PushFlow message, a key).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import OptionList, Static, TextArea

from falcotui.falco.sanitize import sanitize
from falcotui.ops.engine import EngineDelta
from falcotui.ops.fleet.status import NodeReload
from falcotui.ops.rules.incluster import InClusterValidation
from falcotui.ops.rules.model import DefaultRules, RulesError, RulesSnapshot
from falcotui.ops.rules.reload_tracker import DEFAULT_RELOAD_TIMEOUT
from falcotui.ui.rules.editor import DEFAULTS_KEY, EditorStack, RulesEditor, file_options
from falcotui.ui.rules.external_editor import edit_externally
from falcotui.ui.rules.files_ops import RulesFileOps
from falcotui.ui.rules.lint import RulesLinting
from falcotui.ui.rules.problems import ProblemsList
from falcotui.ui.rules.push_flow import PushFlow
from falcotui.ui.rules.pushing import RulesPushing
from falcotui.ui.rules.rejected import RejectedBanner
from falcotui.ui.rules.reload_panel import ReloadPanel
from falcotui.ui.rules.status import RulesStatus
from falcotui.ui.services import ServicesMixin, attempt
from falcotui.ui.widgets.common import titled
from falcotui.ui.widgets.keybar import KeyBar
from falcotui.ui.widgets.state import redraw_on


class RulesScreen(ServicesMixin, RulesLinting, RulesFileOps, RulesStatus, RulesPushing):
    """See the module docstring. Reads `self.app.services.rules`."""

    DEFAULT_CSS = """
    RulesScreen #rules-main { height: 1fr; }
    RulesScreen #rules-files-pane { width: 24; border: round $panel-lighten-2; }
    RulesScreen #rules-editor-pane { width: 1fr; border: round $panel-lighten-2; }
    RulesScreen #rules-problems-pane { width: 40; border: round $panel-lighten-2; }
    /* where the keys go is visible: Delete removes a file in the list and a character in the editor */
    RulesScreen #rules-files-pane:focus-within, RulesScreen #rules-editor-pane:focus-within,
    RulesScreen #rules-problems-pane:focus-within { border: heavy $accent; }
    RulesScreen #rules-files { height: 1fr; border: none; padding: 0; }
    RulesScreen #rules-editors { height: 1fr; }
    RulesScreen #rules-message { height: 1fr; padding: 1 2; }
    RulesScreen #rules-status { height: 1; padding: 0 1; }
    RulesScreen.-narrow #rules-main { layout: grid; grid-size: 2 2; grid-columns: 25 1fr; grid-rows: 1fr 7; }
    RulesScreen.-narrow #rules-files-pane { width: 25; }
    RulesScreen.-narrow #rules-problems-pane { width: 1fr; column-span: 2; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "check", "Check", priority=True, id="rules.check"),
        Binding("ctrl+u", "push", "Push", priority=True, id="rules.push"),
        Binding("ctrl+d", "diff", "Diff vs live", priority=True, id="rules.diff-vs-live"),
        Binding("ctrl+r", "history", "History", priority=True, id="rules.history"),
        Binding("ctrl+b", "rollback", "Roll back", priority=True, id="rules.roll-back"),
        Binding("ctrl+e", "external_editor", "$EDITOR", priority=True, id="rules.external-editor"),
        Binding("ctrl+n", "new_file", "New file", priority=True, id="rules.new-file"),
        Binding(
            "ctrl+g", "goto_rejected", "Go to refused line", priority=True, id="rules.go-to-refused-line"
        ),
        # not a priority key: in the editor, delete deletes a character; in the files list (its pane's
        # border shows the focus) it removes the file, after a confirmation
        Binding("delete", "remove_file", "Remove file", id="rules.remove-file"),
    ]

    #: what cluster operation runs now ("" when none)
    busy: reactive[str] = reactive("", repaint=False, always_update=True, bindings=True)
    #: what the edit is based on (None until the ConfigMap is read)
    snapshot: reactive[RulesSnapshot | None] = reactive(
        None, repaint=False, always_update=True, bindings=True
    )
    #: why the ConfigMap could not be read, why the image's default rules could not be
    load_error: reactive[str] = reactive("", repaint=False)
    defaults_error: reactive[str] = reactive("", repaint=False)
    #: the cluster's Falco's verdict on the last push (None until one was asked)
    cluster_check: reactive[InClusterValidation | None] = reactive(None, repaint=False, always_update=True)
    #: the file in the editor (the $EDITOR and remove keys depend on it)
    current: reactive[str] = reactive("", repaint=False, bindings=True)
    #: what the status line is drawn from (with the lint state of `RulesLinting`); the working copy
    #: (`files`) is not here: every change of it starts a check, which is
    STATUS_STATE = (
        "busy",
        "snapshot",
        "load_error",
        "defaults_error",
        "cluster_check",
        "lint_gen",
        "linted_gen",
        "lint_error",
        "validation",
        "problems",
    )

    #: what the editor pane's title says: the file, its state against the snapshot, the problems (as with
    #: the status line, an edit of the working copy starts a check: `lint_gen`)
    TITLE_STATE = ("current", "snapshot", "problems", "lint_gen")

    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, str] = {}  # the working copy, as in the editors
        self.defaults: DefaultRules | None = None
        self._init_lint()
        self.status_text = ""
        self.saved_copies: list[Path] = []  # files where "take theirs" saved the user's version
        self._rejected_at = 0.0
        self.flow = PushFlow(self, lambda: self.services.rules)

    reload_timeout: float = DEFAULT_RELOAD_TIMEOUT
    reload_poll: float = 0.2  # the rows are the engine's per-tick delivery, read from memory

    # ------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield RejectedBanner(id="rules-rejected")
        with Horizontal(id="rules-main"):
            with titled(Vertical(id="rules-files-pane"), "files"):
                yield OptionList(id="rules-files")
            with titled(Vertical(id="rules-editor-pane"), "rules"):
                yield Static(Text("loading the rules ConfigMap…", "dim"), id="rules-message")
                yield EditorStack(id="rules-editors")
            with titled(Vertical(id="rules-problems-pane"), "problems"):
                yield ProblemsList(id="rules-problems")
        yield ReloadPanel(id="rules-reload")
        yield Static(id="rules-status")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#rules-editors").display = False
        redraw_on(self, self.STATUS_STATE, self._update_status)
        redraw_on(self, self.TITLE_STATE, self._update_title)
        self._update_status()  # the first paint: nothing has changed yet
        self._update_rejected()
        self._load()
        self.app.ticks.subscribe(self, self._ticked)  # type: ignore[attr-defined]

    def on_unmount(self) -> None:
        self.app.ticks.unsubscribe(self)  # type: ignore[attr-defined]

    def _ticked(self, delta: EngineDelta) -> None:
        # a rejection arrives as Falco's alert (its pod's info changes); a pending push ends with time
        now = time.monotonic()
        if delta.nodes or delta.alerts.pods or now - self._rejected_at >= 2.0:
            self._update_rejected()

    def on_screen_resume(self) -> None:
        self._update_rejected()
        if self.snapshot is None and self.load_error:  # e.g. Falco was deployed from the Deploy screen since
            self.load_error = ""
            self.query_one("#rules-message", Static).update(Text("loading the rules ConfigMap…", "dim"))
            self._load()

    def on_resize(self) -> None:
        self.set_class(self.size.width < 110, "-narrow")
        self.query_one(ReloadPanel).fit_height()

    # ------------------------------------------------------------ loading

    @work(thread=True, exclusive=True, group="rules-load")
    def _load(self) -> None:
        rules = self.services.rules
        snap, error = attempt(rules.pull, RulesError)
        defaults, defaults_error = None, ""
        if snap is not None:
            defaults, defaults_error = attempt(rules.default_rules, RulesError)
        self.app.call_from_thread(self._loaded, snap, defaults, error, defaults_error)

    async def _loaded(
        self, snap: RulesSnapshot | None, defaults: DefaultRules | None, error: str, defaults_error: str
    ) -> None:
        self.load_error, self.defaults_error = error, defaults_error
        self.defaults = defaults or self.defaults
        if snap is None:
            self.query_one("#rules-message", Static).update(Text(f"✗ {sanitize(error)}", "bold red"))
            return
        self.snapshot = snap
        await self._set_files(dict(snap.files))
        self._schedule_lint(0)

    async def _set_files(self, files: dict[str, str]) -> None:
        """Replace the working copy and rebuild the editors (only on load or the user's explicit choice)."""
        self.files = files
        self.current = self.current if self.current in files else next(iter(files), "")
        stack = self.query_one(EditorStack)
        await stack.load(files, self.current)
        await self._mount_defaults()
        self.query_one("#rules-message").display = not files
        stack.display = bool(files)
        if not files:
            self.query_one("#rules-message", Static).update(Text("the rules ConfigMap holds no files", "dim"))
        self._refresh_files()
        if self.current:
            self._select(self.current)

    async def _mount_defaults(self) -> None:
        if self.defaults is not None:
            await self.query_one(EditorStack).add_defaults(self.defaults.text, self.current)

    def _refresh_files(self) -> None:
        olist = self.query_one("#rules-files", OptionList)
        defaults = "loaded" if self.defaults is not None else ("unavailable" if self.defaults_error else "")
        with_errors = {p.key for p in self.problems if p.is_error}
        live = self.snapshot.files if self.snapshot else {}
        stack = self.query_one(EditorStack)
        highlighted = olist.highlighted
        olist.clear_options()
        olist.add_options(file_options(self.files, live, with_errors, stack.ids, defaults))
        if highlighted is not None and highlighted < olist.option_count:
            olist.highlighted = highlighted

    def _select(self, key: str) -> None:
        stack = self.query_one(EditorStack)
        stack.show(key)
        stack.display = True
        self.query_one("#rules-message").display = False
        self.current = key
        self.query_one(ProblemsList).show(self.problems, current_key=key, note=self._problems_note())

    def editor(self, key: str | None = None) -> RulesEditor:
        return self.query_one(EditorStack).editor(key or self.current)

    @on(OptionList.OptionHighlighted, "#rules-files")
    @on(OptionList.OptionSelected, "#rules-files")
    def _file_chosen(self, event: OptionList.OptionHighlighted | OptionList.OptionSelected) -> None:
        option_id = event.option.id or ""
        key = self.query_one(EditorStack).key_of(option_id[2:]) if option_id.startswith("f:") else ""
        if key and key != self.current:
            self._select(key)
        if isinstance(event, OptionList.OptionSelected) and key:
            self.editor().focus()

    @on(TextArea.Changed)
    def _edited(self, event: TextArea.Changed) -> None:
        editor = event.text_area
        if not isinstance(editor, RulesEditor) or editor.key not in self.files:
            return
        if editor.text == self.files[editor.key]:
            return
        self.files[editor.key] = editor.text
        self._refresh_files()
        self._schedule_lint(self.lint_delay)

    @on(ProblemsList.Jump)
    def _jump(self, event: ProblemsList.Jump) -> None:
        p = event.problem
        ids = self.query_one(EditorStack).ids
        if p.key in ids:
            self._select(p.key)
            self.editor().jump_to(p.line, p.column)
        elif p.key == "falco_rules.yaml" and DEFAULTS_KEY in ids:
            self._select(DEFAULTS_KEY)
            self.editor().jump_to(p.line, p.column)

    # ------------------------------------------------------------ nodes refusing the rules

    @property
    def refusing(self) -> list[tuple[str, NodeReload]]:
        """The nodes whose Falco rejected the live rules (node name, its reload state)."""
        return self.query_one(RejectedBanner).refusing

    @property
    def rejected_text(self) -> str:
        """The banner as plain text ("" when no node refuses the rules)."""
        return self.query_one(RejectedBanner).plain

    def _update_rejected(self) -> None:
        self._rejected_at = time.monotonic()
        self.query_one(RejectedBanner).show(self.services.engine.fleet.refusing_rules())

    def _refused_spot(self) -> NodeReload | None:
        return self.query_one(RejectedBanner).spot()

    def action_goto_rejected(self) -> None:
        """ctrl+g: the editor, at the line Falco refused."""
        spot = self._refused_spot()
        failure = spot.failure if spot is not None else None
        if failure is None:
            return
        ids = self.query_one(EditorStack).ids
        key = failure.file
        if key not in ids and key == "falco_rules.yaml":
            key = DEFAULTS_KEY
        if key not in ids:
            self.notify(
                f"{sanitize(failure.file)} is not one of the rules ConfigMap's files",
                severity="warning",
                markup=False,
            )
            return
        self._select(key)
        self.editor().jump_to(failure.line, failure.column)
        if self.files.get(key) != (self.snapshot.files.get(key) if self.snapshot else None):
            self.notify("the editor holds unpushed changes: the line is the live file's", markup=False)

    # ------------------------------------------------------------ $EDITOR

    def action_external_editor(self) -> None:
        if not self.current or self.current == DEFAULTS_KEY:
            self.notify("the default rules are read-only", severity="warning", markup=False)
            return
        editor = self.editor()
        problem = edit_externally(self.app, editor)
        editor.focus()  # carry on where the text is (ctrl+z takes the external edit back in one step)
        if problem:
            shown = sanitize(problem, max_len=500)
            self.notify(shown, title="$EDITOR", severity="warning", timeout=15, markup=False)
