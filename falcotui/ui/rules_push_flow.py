"""The Rules screen's cluster writes: confirm and send a push, resolve a conflict without losing either
version, follow every node's hot reload, show the edit against the live rules, browse the history and roll
back.

`RulesPushFlow` is a mixin of `RulesScreen`: it reads the screen's working copy (`files`) and the snapshot
the edit is based on, and replaces the working copy only on the user's own choice (taking theirs in a
conflict, or a rollback while nothing is modified). Cluster calls run in worker threads; the reload tracker
runs on the loop and reads each node's push state from the fleet rows the engine delivers each tick (the
push marks them pending through `services.rules`, whose reload source is the engine's client).
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from textual import work

from falcotui.falco.sanitize import sanitize
from falcotui.ops.reload_tracker import DEFAULT_RELOAD_TIMEOUT
from falcotui.ops.rules_service import (
    Conflict,
    DefaultRules,
    PushResult,
    PushStatus,
    RulesSnapshot,
    files_diff,
)
from falcotui.ui.rules_dialogs import ConfirmDialog, ConflictDialog, HistoryDialog, PushDialog, diff_text
from falcotui.ui.rules_problems import Problem
from falcotui.ui.rules_reload_panel import ReloadPanel


class RulesPushFlow:
    """Mixed into `RulesScreen` (a Textual screen): push, conflict, reload, diff, history, roll back."""

    snapshot: RulesSnapshot | None
    files: dict[str, str]
    defaults: DefaultRules | None
    problems: list[Problem]
    busy: str
    saved_copies: list[Path]

    reload_timeout: float = DEFAULT_RELOAD_TIMEOUT
    reload_poll: float = 0.2  # the rows are the engine's per-tick delivery, read from memory

    def _fail(self, what: str, error: str) -> None:
        self.busy = ""
        self.notify(sanitize(error, max_len=500), title=what, severity="error", timeout=10, markup=False)
        self._update_status()
        self.refresh_bindings()

    # ------------------------------------------------------------ push

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
        self._note_logged_versions()
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
            label = f"{what} → v{result.version}" if result.version is not None else what
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

    # ------------------------------------------------------------ reload, diff, history, roll back

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
