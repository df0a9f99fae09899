"""The Rules screen: edit the rules ConfigMap's files with lint as you type, push them without lost updates,
watch every node hot-reload, browse the history and roll back.

Everything that touches the cluster runs in a worker thread (the kubernetes client is synchronous); the
reload tracker is async and runs on the loop. The working copy (`self.files`) is only ever replaced by
the user's own choice: a conflict, a rollback or a failed push leave the editor text as it is.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, OptionList, Static, TextArea

from falcotui.falco.sanitize import sanitize
from falcotui.ops.reload_tracker import DEFAULT_RELOAD_TIMEOUT
from falcotui.ops.rules_service import (
    RULES_DIR,
    Conflict,
    DefaultRules,
    PushResult,
    PushStatus,
    RulesError,
    RulesSnapshot,
    Validation,
    files_diff,
)
from falcotui.ui.rules_dialogs import ConfirmDialog, ConflictDialog, HistoryDialog, PushDialog, diff_text
from falcotui.ui.rules_editor import DEFAULTS_KEY, EditorStack, RulesEditor, edit_externally, file_options
from falcotui.ui.rules_problems import Problem, ProblemsList, problems_from
from falcotui.ui.rules_reload_panel import ReloadPanel

LINT_DELAY = 0.3  # seconds of quiet typing before the rules are checked again
WRITE_ACTIONS = frozenset({"push", "rollback"})


class RulesScreen(Screen):
    """See the module docstring. Reads `self.app.services.rules`."""

    DEFAULT_CSS = """
    RulesScreen #rules-main { height: 1fr; }
    RulesScreen #rules-files-pane { width: 24; border: round $panel-lighten-2; }
    RulesScreen #rules-editor-pane { width: 1fr; border: round $accent; }
    RulesScreen #rules-problems-pane { width: 40; border: round $panel-lighten-2; }
    RulesScreen #rules-files { height: 1fr; border: none; padding: 0; }
    RulesScreen #rules-editors { height: 1fr; }
    RulesScreen #rules-message { height: 1fr; padding: 1 2; }
    RulesScreen #rules-status { height: 1; padding: 0 1; }
    RulesScreen.-narrow #rules-main { layout: grid; grid-size: 2 2; grid-columns: 25 1fr; grid-rows: 1fr 7; }
    RulesScreen.-narrow #rules-files-pane { width: 25; }
    RulesScreen.-narrow #rules-problems-pane { width: 1fr; column-span: 2; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "check", "Check", priority=True),
        Binding("ctrl+u", "push", "Push", priority=True),
        Binding("ctrl+d", "diff", "Diff vs live", priority=True),
        Binding("ctrl+r", "history", "History", priority=True),
        Binding("ctrl+b", "rollback", "Roll back", priority=True),
        Binding("ctrl+e", "external_editor", "$EDITOR", priority=True),
    ]

    lint_delay: float = LINT_DELAY
    reload_timeout: float = DEFAULT_RELOAD_TIMEOUT
    reload_poll: float = 1.0

    def __init__(self) -> None:
        super().__init__()
        self.snapshot: RulesSnapshot | None = None  # what the edit is based on
        self.files: dict[str, str] = {}  # the working copy, as in the editors
        self.defaults: DefaultRules | None = None
        self.defaults_error = ""
        self.load_error = ""
        self.current = ""
        self.validation: Validation | None = None
        self.problems: list[Problem] = []
        self.lint_error = ""
        self.lint_gen = 0
        self.linted_gen = -1
        self.busy = ""  # what cluster operation runs now ("" when none)
        self.status_text = ""
        self.saved_copies: list[Path] = []  # files where "take theirs" saved the user's version
        self._lint_timer: Timer | None = None

    # ------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        with Horizontal(id="rules-main"):
            with Vertical(id="rules-files-pane") as pane:
                pane.border_title = "files"
                yield OptionList(id="rules-files")
            with Vertical(id="rules-editor-pane") as pane:
                pane.border_title = "rules"
                yield Static(Text("loading the rules ConfigMap…", "dim"), id="rules-message")
                yield EditorStack(id="rules-editors")
            with Vertical(id="rules-problems-pane") as pane:
                pane.border_title = "problems"
                yield ProblemsList(id="rules-problems")
        yield ReloadPanel(id="rules-reload")
        yield Static(id="rules-status")
        yield Footer()

    @property
    def services(self):
        return self.app.services

    @property
    def read_only(self) -> bool:
        ro = getattr(self.app, "read_only", None)
        return bool(self.services.read_only if ro is None else ro)

    def on_mount(self) -> None:
        self.query_one("#rules-editors").display = False
        self._update_status()
        self._load()

    def on_screen_resume(self) -> None:
        if self.snapshot is None and self.load_error:  # e.g. Falco was deployed from the Deploy screen since
            self.load_error = ""
            self.query_one("#rules-message", Static).update(Text("loading the rules ConfigMap…", "dim"))
            self._update_status()
            self._load()

    def on_resize(self) -> None:
        self.set_class(self.size.width < 110, "-narrow")

    # ------------------------------------------------------------ loading

    @work(thread=True, exclusive=True, group="rules-load")
    def _load(self) -> None:
        rules = self.services.rules
        snap, defaults, error, defaults_error = None, None, "", ""
        try:
            snap = rules.pull()
        except RulesError as exc:
            error = str(exc)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        if snap is not None:
            try:
                defaults = rules.default_rules()
            except RulesError as exc:
                defaults_error = str(exc)
            except Exception as exc:
                defaults_error = f"{type(exc).__name__}: {exc}"
        self.app.call_from_thread(self._loaded, snap, defaults, error, defaults_error)

    async def _loaded(
        self, snap: RulesSnapshot | None, defaults: DefaultRules | None, error: str, defaults_error: str
    ) -> None:
        self.load_error, self.defaults_error = error, defaults_error
        self.defaults = defaults or self.defaults
        if snap is None:
            self.query_one("#rules-message", Static).update(Text(f"✗ {sanitize(error)}", "bold red"))
            self._update_status()
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
        self.query_one(EditorStack).show(key)
        self.current = key
        self._update_title()
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

    # ------------------------------------------------------------ lint as you type

    @on(TextArea.Changed)
    def _edited(self, event: TextArea.Changed) -> None:
        editor = event.text_area
        if not isinstance(editor, RulesEditor) or editor.key not in self.files:
            return
        if editor.text == self.files[editor.key]:
            return
        self.files[editor.key] = editor.text
        self._update_title()
        self._refresh_files()
        self._schedule_lint(self.lint_delay)

    def _schedule_lint(self, delay: float) -> None:
        self.lint_gen += 1
        if self._lint_timer is not None:
            self._lint_timer.stop()
        self._update_status()
        self.refresh_bindings()
        if delay <= 0:
            self._lint(self.lint_gen, dict(self.files), False)
        else:
            gen = self.lint_gen
            self._lint_timer = self.set_timer(delay, lambda: self._lint(gen, dict(self.files), False))

    @work(thread=True, group="rules-lint")
    def _lint(self, gen: int, files: dict[str, str], retry_defaults: bool) -> None:
        if gen != self.lint_gen:
            return  # typed again since
        rules = self.services.rules
        defaults, defaults_error = self.defaults, self.defaults_error
        if defaults is None and retry_defaults:
            try:
                defaults, defaults_error = rules.default_rules(), ""
            except RulesError as exc:
                defaults_error = str(exc)
        try:
            validation, error = rules.validate(files, defaults if defaults is not None else ""), ""
        except RulesError as exc:
            validation, error = None, str(exc)
        self.app.call_from_thread(self._linted, gen, validation, error, defaults, defaults_error)

    async def _linted(
        self,
        gen: int,
        validation: Validation | None,
        error: str,
        defaults: DefaultRules | None,
        defaults_error: str,
    ) -> None:
        if defaults is not None and self.defaults is None:
            self.defaults, self.defaults_error = defaults, ""
            await self._mount_defaults()
            self._refresh_files()
        else:
            self.defaults_error = defaults_error
        if gen != self.lint_gen:
            return
        self.linted_gen, self.validation, self.lint_error = gen, validation, error
        self.problems = []
        if validation is not None:
            prefix = RULES_DIR + "/"
            self.problems = problems_from(validation.errors + validation.warnings, prefix)
            self.problems += problems_from(validation.result.lints, prefix, lint=True)
            # errors in the default rules (they block a push too): shown under the default file's name
            foreign = [m for m in validation.errors if not m.file.startswith(prefix)]
            for folder in {os.path.dirname(m.file) + "/" for m in foreign}:
                self.problems += problems_from(foreign, folder)
        self.query_one(ProblemsList).show(self.problems, current_key=self.current, note=self._problems_note())
        self._refresh_files()
        self._update_title()
        self._update_status()
        self.refresh_bindings()

    def _problems_note(self) -> str:
        if self.lint_error:
            return f"✗ {self.lint_error}"
        return "" if self.linted_gen == self.lint_gen else "checking…"

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

    # ------------------------------------------------------------ state shown

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

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
        return True

    def _update_title(self) -> None:
        pane = self.query_one("#rules-editor-pane")
        if self.current == DEFAULTS_KEY and self.defaults is not None:
            pane.border_title = (
                f"falco_rules.yaml · default rules from pod {sanitize(self.defaults.pod)} · read-only"
            )
            return
        if not self.snapshot or not self.current:
            return
        cm = self.services.rules.configmap
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
        if self.defaults_error and not self.load_error:
            text.append(
                "  · default rules unavailable, macros from falco_rules.yaml are unknown: "
                + sanitize(self.defaults_error, max_len=200),
                "yellow",
            )
        self.status_text = text.plain
        self.query_one("#rules-status", Static).update(text)

    def _fail(self, what: str, error: str) -> None:
        self.busy = ""
        self.notify(sanitize(error, max_len=500), title=what, severity="error", timeout=10, markup=False)
        self._update_status()
        self.refresh_bindings()

    # ------------------------------------------------------------ actions

    def action_check(self) -> None:
        self.lint_gen += 1
        self._update_status()
        self._lint(self.lint_gen, dict(self.files), self.defaults is None)

    def action_push(self) -> None:
        why = self.push_blocked()
        if why:
            self.notify(why, severity="warning", markup=False)
            return
        assert self.snapshot is not None
        diff = files_diff(self.snapshot.files, self.files, "live", "edited")
        if not diff:
            self.notify("nothing to push: the files are as pulled from the cluster", markup=False)
            return
        warnings = [p for p in self.problems if not p.is_error]
        dialog = PushDialog(diff, warnings, base_rv=self.snapshot.resource_version)
        self.app.push_screen(dialog, lambda message: self._push_confirmed(message, dict(self.files)))

    def _push_confirmed(self, message: str | None, files: dict[str, str]) -> None:
        if message is None or self.snapshot is None:
            return
        self.busy = "pushing"
        self.refresh_bindings()
        self._update_status()
        self._push(files, self.snapshot.resource_version, message)

    @work(thread=True, group="rules-write")
    def _push(self, files: dict[str, str], base_rv: str, message: str) -> None:
        try:
            result = self.services.rules.push(
                files, base_rv, message=message, allow_warnings=True, defaults=self.defaults
            )
        except Exception as exc:
            self.app.call_from_thread(self._fail, "push failed", str(exc))
            return
        self.app.call_from_thread(self._pushed, result, files, "push")

    async def _pushed(self, result: PushResult, files: dict[str, str], what: str) -> None:
        self.busy = ""
        if result.status is PushStatus.PUSHED:
            self.snapshot = RulesSnapshot(dict(files), result.resource_version)
            label = f"{what} v{result.version}" if result.version is not None else what
            self.notify(f"{label}: ConfigMap updated (rv {sanitize(result.resource_version)})", markup=False)
            if result.history_error:
                self.notify(
                    sanitize(result.history_error),
                    title="history not written",
                    severity="warning",
                    markup=False,
                )
            self._track(result.pushed_at_ns, label)
        elif result.status is PushStatus.UNCHANGED:
            self.snapshot = RulesSnapshot(dict(files), result.resource_version)
            self.notify("the live rules are already exactly these files: nothing sent", markup=False)
        elif result.status is PushStatus.CONFLICT and result.conflict is not None:
            conflict = result.conflict
            self.app.push_screen(ConflictDialog(conflict), lambda c: self._resolve(c, conflict))
        else:
            n = len(result.validation.errors) if result.validation else 0
            self.notify(f"not pushed: {result.status.value} ({n} errors)", severity="error", markup=False)
        self._refresh_files()
        self._update_title()
        self._update_status()
        self.refresh_bindings()

    async def _resolve(self, choice: str | None, conflict: Conflict) -> None:
        if choice == "keep":
            self.snapshot = RulesSnapshot(dict(conflict.theirs), conflict.theirs_rv)
            self.notify(
                "your text is now based on the live version: ctrl+d shows what a push changes", markup=False
            )
        elif choice == "theirs":
            path = self._save_copy(self.files)  # the editor's text, which taking theirs replaces
            self.snapshot = RulesSnapshot(dict(conflict.theirs), conflict.theirs_rv)
            await self._set_files(dict(conflict.theirs))
            self._schedule_lint(0)
            self.notify(f"loaded the live version; yours is saved in {path}", timeout=15, markup=False)
        self._refresh_files()
        self._update_title()
        self._update_status()
        self.refresh_bindings()

    def _save_copy(self, files: dict[str, str]) -> Path:
        folder = Path(tempfile.mkdtemp(prefix="falcotui-rules-mine-"))
        for key, text in files.items():
            (folder / key).write_text(text)
        self.saved_copies.append(folder)
        return folder

    @work(exclusive=True, group="rules-reload")
    async def _track(self, since_ns: int, what: str) -> None:
        panel = self.query_one(ReloadPanel)
        panel.begin(what)
        try:
            summary = await self.services.rules.track_reload(
                since_ns, timeout=self.reload_timeout, poll=self.reload_poll, on_event=panel.node
            )
        except Exception as exc:
            panel.finish(None, f"tracking stopped: {exc}")
            return
        panel.finish(summary)

    def action_diff(self) -> None:
        if self.snapshot is not None:
            self._diff(dict(self.files))

    @work(thread=True, group="rules-read")
    def _diff(self, files: dict[str, str]) -> None:
        try:
            live = self.services.rules.pull()
        except Exception as exc:
            self.app.call_from_thread(self._fail, "diff failed", str(exc))
            return
        self.app.call_from_thread(self._show_diff, live, files)

    def _show_diff(self, live: RulesSnapshot, files: dict[str, str]) -> None:
        base_rv = self.snapshot.resource_version if self.snapshot else ""
        note = ""
        if live.resource_version != base_rv:
            note = (
                f"the live rules changed since your edit started (rv {base_rv} → {live.resource_version}): "
                "a push will show the conflict"
            )
        body = diff_text(
            files_diff(live.files, files, "live", "edited"), empty="(no differences: nothing to push)"
        )
        self.app.push_screen(
            ConfirmDialog(f"Edited files vs live (rv {live.resource_version})", body, confirm=None, note=note)
        )

    def action_history(self) -> None:
        self._history(None)

    def action_rollback(self) -> None:
        if not self.read_only:
            self._history(-1)

    @work(thread=True, group="rules-read")
    def _history(self, preselect: int | None) -> None:
        rules = self.services.rules
        try:
            entries = rules.list_history()
            live = rules.pull()
            if preselect == -1:
                preselect = rules.rollback_target().version
        except Exception as exc:
            self.app.call_from_thread(self._fail, "history", str(exc))
            return
        self.app.call_from_thread(self._show_history, entries, live, preselect)

    def _show_history(self, entries: list, live: RulesSnapshot, preselect: int | None) -> None:
        dialog = HistoryDialog(entries, dict(live.files), read_only=self.read_only, preselect=preselect)
        self.app.push_screen(dialog, self._rollback_chosen)

    def _rollback_chosen(self, version: int | None) -> None:
        if version is None or self.read_only:
            return
        self.busy = "rolling back"
        self.refresh_bindings()
        self._update_status()
        self._rollback(version)

    @work(thread=True, group="rules-write")
    def _rollback(self, version: int) -> None:
        try:
            result = self.services.rules.rollback(version, defaults=self.defaults)
        except Exception as exc:
            self.app.call_from_thread(self._fail, "roll back failed", str(exc))
            return
        self.app.call_from_thread(self._rolled_back, result, version)

    async def _rolled_back(self, result: PushResult, version: int) -> None:
        if result.status is PushStatus.PUSHED:
            try:
                target = await asyncio.to_thread(self.services.rules.history.get, version)
                files = dict(target.files)
            except Exception:
                files = None
            if files is not None and not self.modified:
                self.snapshot = RulesSnapshot(files, result.resource_version)
                await self._set_files(dict(files))
                self._schedule_lint(0)
            elif files is not None:
                self.snapshot = RulesSnapshot(files, result.resource_version)
                self.notify(
                    "rolled back; your unpushed edits stay in the editor (ctrl+d shows them)", markup=False
                )
            await self._pushed(result, files or dict(self.files), f"rollback to v{version}")
        elif result.status is PushStatus.UNCHANGED:
            self.busy = ""
            self.notify(f"the live rules already are version {version}: nothing sent", markup=False)
            self._update_status()
            self.refresh_bindings()
        else:
            await self._pushed(result, dict(self.files), f"rollback to v{version}")

    def action_external_editor(self) -> None:
        if not self.current or self.current == DEFAULTS_KEY:
            self.notify("the default rules are read-only", severity="warning", markup=False)
            return
        problem = edit_externally(self.app, self.editor())
        if problem:
            self.notify(problem, severity="warning", markup=False)
