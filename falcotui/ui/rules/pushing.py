"""The Rules screen's cluster writes: the push, diff, history and roll back keys hand the working copy to
`PushFlow` (push_flow.py), and PushFlow's messages (busy, failed, checked, pushed, rebased, rolled back,
reload progress) update the screen's state: the snapshot, `busy`, the working copy on the user's choice,
the reload panel, the notifications.

`RulesPushing` is a `Screen` base of `RulesScreen` (screen.py), not a plain mixin: Textual registers `@on`
handlers only on classes its metaclass builds. It reads the screen's reactives and helpers (`snapshot`,
`busy`, `files`, `flow`, `problems`, `_set_files`, `_refresh_files`, `_schedule_lint`, …).
"""

from __future__ import annotations

from textual import on
from textual.screen import Screen

from falcotui.falco.sanitize import sanitize
from falcotui.ops.rules.model import PushStatus, RulesSnapshot
from falcotui.ui.rules.push_flow import PushFlow
from falcotui.ui.rules.reload_panel import ReloadPanel


class RulesPushing(Screen):
    """The cluster writes of the Rules screen and PushFlow's messages (see the module docstring)."""

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
