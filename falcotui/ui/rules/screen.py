"""The Rules screen: edit the rules ConfigMap's files with lint as you type, add or remove files, push them
without lost updates, watch every node hot-reload, browse the history and roll back.

This module holds the screen itself: its layout, loading the rules, the files list and editors, and the
state it shows (title, status line, which actions are offered). Linting and file operations come from
mixins (`RulesLinting`, `rules_lint`; `RulesFileOps`, `rules_files_ops`); the cluster writes (push, the
cluster's own Falco checking first, conflict, reload, diff, history, roll back) are a controller,
`PushFlow` (`rules_push_flow`), that reports with messages this screen handles; `$EDITOR` runs through
`rules_external_editor`.

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
from textual.screen import Screen
from textual.widgets import OptionList, Static, TextArea

from falcotui.falco.sanitize import sanitize
from falcotui.ops.engine import EngineDelta
from falcotui.ops.fleet.status import NodeReload
from falcotui.ops.rules.incluster import InClusterValidation
from falcotui.ops.rules.model import DefaultRules, PushStatus, RulesError, RulesSnapshot
from falcotui.ops.rules.reload_tracker import DEFAULT_RELOAD_TIMEOUT
from falcotui.ui.rules.editor import DEFAULTS_KEY, EditorStack, RulesEditor, file_options
from falcotui.ui.rules.external_editor import edit_externally
from falcotui.ui.rules.files_ops import RulesFileOps
from falcotui.ui.rules.incluster_ui import summary_line
from falcotui.ui.rules.lint import RulesLinting
from falcotui.ui.rules.problems import ProblemsList
from falcotui.ui.rules.push_flow import PushFlow
from falcotui.ui.rules.rejected import RejectedBanner
from falcotui.ui.rules.reload_panel import ReloadPanel
from falcotui.ui.services import ServicesMixin, attempt
from falcotui.ui.widgets.common import titled
from falcotui.ui.widgets.keybar import KeyBar
from falcotui.ui.widgets.state import redraw_on

WRITE_ACTIONS = frozenset({"push", "rollback", "new_file", "remove_file"})


class RulesScreen(ServicesMixin, RulesLinting, RulesFileOps, Screen):
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

    # ------------------------------------------------------------ cluster writes (PushFlow's messages)

    def action_push(self) -> None:
        why = self.push_blocked()
        if why:
            self.notify(why, severity="warning", markup=False)
            return
        assert self.snapshot is not None
        self._note_logged_versions()
        warnings = [p for p in self.problems if not p.is_error]
        self.flow.push(self.snapshot, dict(self.files), warnings, self.defaults, read_only=self.read_only)

    def action_diff(self) -> None:
        if self.snapshot is not None:
            self.flow.diff(self.snapshot, dict(self.files))

    def action_history(self) -> None:
        self.flow.history(read_only=self.read_only, preselect=None, defaults=self.defaults)

    def action_rollback(self) -> None:
        if not self.read_only:
            self.flow.history(read_only=False, preselect=-1, defaults=self.defaults)

    def _refresh_state(self) -> None:
        """The files list after a push, rebase or rollback (the title and the status line follow by
        themselves: the snapshot and `busy` are reactive)."""
        self._refresh_files()

    @on(PushFlow.Busy)
    def _flow_busy(self, message: PushFlow.Busy) -> None:
        self.busy = message.what

    @on(PushFlow.Failed)
    def _flow_failed(self, message: PushFlow.Failed) -> None:
        error = sanitize(message.error, max_len=500)
        self.notify(error, title=message.what, severity="error", timeout=10, markup=False)
        self.busy = ""

    @on(PushFlow.Checked)
    def _flow_checked(self, message: PushFlow.Checked) -> None:
        if message.result is None:
            self.busy = ""
            self.notify(
                sanitize(message.error, max_len=500),
                title="the cluster's Falco could not be asked: nothing pushed",
                severity="error",
                timeout=12,
                markup=False,
            )
        else:
            self.cluster_check = message.result
            self.busy = "the cluster's Falco answered"

    @on(PushFlow.Pushed)
    def _flow_pushed(self, message: PushFlow.Pushed) -> None:
        result, files, what = message.result, message.files, message.what
        self.busy = ""
        if result.status is PushStatus.PUSHED:
            self.snapshot = RulesSnapshot(dict(files), result.resource_version)
            label = f"{what} → v{result.version}" if result.version is not None else what
            self.notify(f"{label}: ConfigMap updated (rv {sanitize(result.resource_version)})", markup=False)
            if result.history_error:
                self.notify(
                    sanitize(result.history_error),
                    title="history not written",
                    severity="warning",
                    markup=False,
                )
            self.flow.track(result.pushed_at_ns, label, timeout=self.reload_timeout, poll=self.reload_poll)
        elif result.status is PushStatus.UNCHANGED:
            self.snapshot = RulesSnapshot(dict(files), result.resource_version)
            self.notify("the live rules are already exactly these files: nothing sent", markup=False)
        elif result.status is PushStatus.CONFLICT and result.conflict is not None:
            self.flow.resolve(result.conflict, lambda: dict(self.files))
        else:
            n = len(result.validation.errors) if result.validation else 0
            self.notify(f"not pushed: {result.status.value} ({n} errors)", severity="error", markup=False)
        self._refresh_state()

    @on(PushFlow.Rebased)
    async def _flow_rebased(self, message: PushFlow.Rebased) -> None:
        self.snapshot = message.snapshot
        if message.files is None:
            self.notify(
                "your text is now based on the live version: ctrl+d shows what a push changes", markup=False
            )
        else:
            if message.saved is not None:
                self.saved_copies.append(message.saved)
            await self._set_files(dict(message.files))
            self._schedule_lint(0)
            self.notify(
                f"loaded the live version; yours is saved in {message.saved}", timeout=15, markup=False
            )
        self._refresh_state()

    @on(PushFlow.RolledBack)
    async def _flow_rolled_back(self, message: PushFlow.RolledBack) -> None:
        result, version, files = message.result, message.version, message.files
        what = f"rollback to v{version}"
        if result.status is PushStatus.PUSHED:
            if files is not None and not self.modified:
                self.snapshot = RulesSnapshot(files, result.resource_version)
                await self._set_files(dict(files))
                self._schedule_lint(0)
            elif files is not None:
                self.snapshot = RulesSnapshot(files, result.resource_version)
                self.notify(
                    "rolled back; your unpushed edits stay in the editor (ctrl+d shows them)", markup=False
                )
            self._flow_pushed(PushFlow.Pushed(result, files or dict(self.files), what))
        elif result.status is PushStatus.UNCHANGED:
            self.notify(f"the live rules already are version {version}: nothing sent", markup=False)
            self.busy = ""
        else:
            self._flow_pushed(PushFlow.Pushed(result, dict(self.files), what))

    @on(PushFlow.ReloadStarted)
    def _flow_reload_started(self, message: PushFlow.ReloadStarted) -> None:
        self.query_one(ReloadPanel).begin(message.what)

    @on(PushFlow.ReloadEvent)
    def _flow_reload_event(self, message: PushFlow.ReloadEvent) -> None:
        self.query_one(ReloadPanel).node(message.event)

    @on(PushFlow.ReloadFinished)
    def _flow_reload_finished(self, message: PushFlow.ReloadFinished) -> None:
        self.query_one(ReloadPanel).finish(message.summary, message.error)

    # ------------------------------------------------------------ state shown

    @property
    def modified(self) -> bool:
        return self.snapshot is not None and self.files != self.snapshot.files

    def push_blocked(self) -> str:
        """Why a push cannot be offered now ("" when it can)."""
        if self.read_only:
            return "read-only: pushing is disabled"
        if self.snapshot is None:
            return "the rules are not loaded"
        if self.busy:
            return f"{self.busy}…"
        if self.linted_gen != self.lint_gen:
            return "checking the rules…"
        if self.lint_error:
            return self.lint_error
        n = len(self.errors)
        if n:
            return f"push disabled: {n} error{'s' if n != 1 else ''} — fix {'them' if n != 1 else 'it'} first"
        return ""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in WRITE_ACTIONS and self.read_only:
            return False  # hidden: nothing to offer in read-only mode
        if action == "push":
            return None if self.push_blocked() else True
        if action == "rollback":
            return None if (self.busy or self.snapshot is None) else True
        if action == "external_editor":
            return True if self.current and self.current != DEFAULTS_KEY else None
        if action == "new_file":
            return None if self.snapshot is None else True
        if action == "goto_rejected":
            spot = self._refused_spot()
            return True if spot is not None and spot.failure is not None else False
        if action == "remove_file":
            return True if self.snapshot is not None and self.current in self.files else None
        return True

    def _update_title(self) -> None:
        pane = self.query_one("#rules-editor-pane")
        if self.current == DEFAULTS_KEY and self.defaults is not None:
            pane.border_title = (
                f"falco_rules.yaml · default rules from pod {sanitize(self.defaults.pod)} · read-only"
            )
            return
        if not self.snapshot:
            return
        cm = self.services.rules.configmap
        if not self.current:
            pane.border_title = f"{cm} rv {sanitize(self.snapshot.resource_version)} · no files"
            return
        state = "modified" if self.files.get(self.current) != self.snapshot.files.get(self.current) else ""
        parts = [sanitize(self.current), f"{cm} rv {sanitize(self.snapshot.resource_version)}", state]
        pane.border_title = " · ".join(p for p in parts if p)
        n_err = len(self.errors)
        n_warn = len(self.problems) - n_err
        self.query_one("#rules-problems-pane").border_title = f"problems ✗{n_err} ⚠{n_warn}"

    def _update_status(self) -> None:
        text = Text()
        if self.load_error:
            text.append(f"✗ {sanitize(self.load_error)}", "bold red")
        elif self.read_only:
            text.append("read-only: push and roll back are disabled", "yellow")
        elif (why := self.push_blocked()) and self.snapshot is not None:
            text.append(
                f"{'✗' if self.errors else '…'} {sanitize(why)}", "bold red" if self.errors else "dim"
            )
        elif self.snapshot is not None:
            n = len(self.problems)
            if n:
                text.append(
                    f"⚠ {n} warning{'s' if n != 1 else ''}: a push asks you to confirm them", "yellow"
                )
            else:
                text.append("✓ valid", "green")
            text.append(" · ctrl+u push" if self.modified else " · no changes to push", "dim")
        target = self.validation.target if self.validation is not None else None
        if target is not None and target.noteworthy and not self.load_error:
            # the nodes run another Falco than the pinned one, or several: say which one the check is for
            text.append("  · " + sanitize(target.describe(), max_len=300), "yellow" if target.note else "dim")
        if self.cluster_check is not None and not self.load_error:
            check = self.cluster_check
            bad = bool(check.rejected_by or check.disagreements or check.leftovers)
            text.append("  · " + sanitize(summary_line(check), max_len=200), "yellow" if bad else "dim")
        if self.defaults_error and not self.load_error:
            text.append(
                "  · default rules unavailable, macros from falco_rules.yaml are unknown: "
                + sanitize(self.defaults_error, max_len=200),
                "yellow",
            )
        self.status_text = text.plain
        self.query_one("#rules-status", Static).update(text)

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
