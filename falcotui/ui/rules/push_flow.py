"""The Rules screen's cluster writes as a controller: confirm and send a push (optionally validated first by
the cluster's own Falco), resolve a conflict without losing either version, follow every node's hot
reload, show the edit against the live rules, browse the history and roll back.

`PushFlow` owns no screen state. Each entry point takes what it needs as arguments (the snapshot the edit is
based on, the working copy, the default rules); it runs the cluster calls in workers of its host screen,
opens the dialogs, and reports every outcome as a message posted to the host (`PushFlow.Busy`,
`PushFlow.Failed`, `PushFlow.Pushed`, `PushFlow.Rebased`, `PushFlow.RolledBack`, `PushFlow.Reload*`,
`PushFlow.Checked`), which the screen turns into its state. The working copy is only replaced through
`Rebased(files=...)` after the user's own choice (taking theirs in a conflict); a rollback says what it
pushed and the screen decides whether its editors follow.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from textual.message import Message
from textual.screen import Screen

from falcotui.ops.rules.incluster import InClusterValidation, exec_permission, validate_in_cluster
from falcotui.ops.rules.model import Conflict, DefaultRules, PushResult, RulesSnapshot, files_diff
from falcotui.ops.rules.reload_state import NodeReload, ReloadSummary
from falcotui.ops.rules.service import RulesService
from falcotui.ui.rules.dialogs import (
    ConflictDialog,
    HistoryDialog,
    PushChoice,
    PushDialog,
    diff_text,
)
from falcotui.ui.rules.incluster_ui import InClusterDialog
from falcotui.ui.rules.problems import Problem
from falcotui.ui.widgets.dialogs import ConfirmDialog


class PushFlow:
    """See the module docstring. `host` is the screen that receives the messages and runs the workers."""

    # The messages are dataclasses, as Textual's own (`Input.Changed`): their fields are what they carry.

    @dataclass
    class Busy(Message):
        """A cluster operation started (`what`) or ended ("")."""

        what: str

    @dataclass
    class Failed(Message):
        what: str
        error: str

    @dataclass
    class Pushed(Message):
        """A push or rollback answered: pushed, unchanged, invalid, needs confirmation or conflict."""

        result: PushResult
        files: dict[str, str]
        what: str

    @dataclass
    class RolledBack(Message):
        """A rollback was pushed; `files` are the version's files (None when they could not be read)."""

        result: PushResult
        version: int
        files: dict[str, str] | None

    @dataclass
    class Rebased(Message):
        """The edit is now based on `snapshot`; `files` replace the working copy when not None (the
        user took theirs), `saved` is where the user's own text was kept."""

        snapshot: RulesSnapshot
        files: dict[str, str] | None = None
        saved: Path | None = None

    @dataclass
    class Checked(Message):
        """The cluster's Falco answered (`result`), or could not be asked (`error`), before a push."""

        result: InClusterValidation | None
        error: str = ""

    @dataclass
    class ReloadStarted(Message):
        what: str

    @dataclass
    class ReloadEvent(Message):
        event: NodeReload

    @dataclass
    class ReloadFinished(Message):
        summary: ReloadSummary | None
        error: str = ""

    def __init__(self, host: Screen, rules: Callable[[], RulesService]) -> None:
        self.host = host
        self._rules = rules
        self.exec_denied: str | None = None  # why the cluster's Falco cannot be asked (asked once)
        self._exec_checked = False
        self.last_check: InClusterValidation | None = None

    @property
    def rules(self) -> RulesService:
        return self._rules()

    def _post(self, message: Message) -> None:
        self.host.post_message(message)

    def _thread(self, fn: Callable[[], None], group: str) -> None:
        self.host.run_worker(fn, thread=True, group=group, exit_on_error=False)

    # ------------------------------------------------------------ push

    def push(
        self,
        snapshot: RulesSnapshot,
        files: dict[str, str],
        warnings: list[Problem],
        defaults: DefaultRules | None,
        *,
        read_only: bool,
    ) -> None:
        """Ask (the diff, the warnings, whether to validate with the cluster's Falco), then push."""
        diff = files_diff(snapshot.files, files, "live", "edited")
        if not diff:
            self.host.notify("nothing to push: the files are as pulled from the cluster", markup=False)
            return

        def permission() -> None:
            if read_only:
                denied = "read-only: exec into a Falco pod is a write"
            elif not self._exec_checked:
                try:
                    self.exec_denied = exec_permission(self.rules.clients, self.rules.namespace)
                except Exception:  # no answer: offer the option, the exec itself will say what is wrong
                    self.exec_denied = None
                self._exec_checked = True
                denied = self.exec_denied
            else:
                denied = self.exec_denied
            self.host.app.call_from_thread(ask, denied)

        def ask(denied: str | None) -> None:
            dialog = PushDialog(diff, warnings, base_rv=snapshot.resource_version, in_cluster_denied=denied)
            self.host.app.push_screen(
                dialog, lambda choice: self._confirmed(choice, snapshot, files, defaults)
            )

        self._thread(permission, "rules-read")

    def _confirmed(
        self,
        choice: PushChoice | None,
        snapshot: RulesSnapshot,
        files: dict[str, str],
        defaults: DefaultRules | None,
    ) -> None:
        if choice is None:
            return
        if choice.in_cluster:
            self._post(PushFlow.Busy("validating with the cluster's Falco"))
            self._thread(lambda: self._check_then_push(choice, snapshot, files, defaults), "rules-write")
            return
        self._post(PushFlow.Busy("pushing"))
        self._thread(
            lambda: self._push(files, snapshot.resource_version, choice.message, defaults), "rules-write"
        )

    def _check_then_push(
        self,
        choice: PushChoice,
        snapshot: RulesSnapshot,
        files: dict[str, str],
        defaults: DefaultRules | None,
    ) -> None:
        try:
            text = defaults.text if defaults is not None else None
            result = validate_in_cluster(self.rules, files, defaults=text)
        except Exception as exc:
            self._post(PushFlow.Checked(None, str(exc)))
            return
        self.last_check = result
        self._post(PushFlow.Checked(result))

        def show() -> None:
            def answered(go: bool | None) -> None:
                if not go:
                    self._post(PushFlow.Busy(""))
                    return
                self._post(PushFlow.Busy("pushing"))
                base = snapshot.resource_version
                self._thread(lambda: self._push(files, base, choice.message, defaults), "rules-write")

            self.host.app.push_screen(InClusterDialog(result), answered)

        self.host.app.call_from_thread(show)

    def _push(self, files: dict[str, str], base_rv: str, message: str, defaults: DefaultRules | None) -> None:
        try:
            result = self.rules.push(files, base_rv, message=message, allow_warnings=True, defaults=defaults)
        except Exception as exc:
            self._post(PushFlow.Failed("push failed", str(exc)))
            return
        self._post(PushFlow.Pushed(result, files, "push"))

    def resolve(self, conflict: Conflict, mine: Callable[[], dict[str, str]]) -> None:
        """The conflict dialog; `mine()` is the editor's text when the user answers."""

        def chosen(choice: str | None) -> None:
            theirs = RulesSnapshot(dict(conflict.theirs), conflict.theirs_rv)
            if choice == "keep":
                self._post(PushFlow.Rebased(theirs))
            elif choice == "theirs":
                saved = save_copy(mine())  # the editor's text, which taking theirs replaces
                self._post(PushFlow.Rebased(theirs, dict(conflict.theirs), saved))

        self.host.app.push_screen(ConflictDialog(conflict), chosen)

    # ------------------------------------------------------------ reload

    def track(self, since_ns: int, what: str, *, timeout: float, poll: float) -> None:
        """Follow every node's reload of the push at `since_ns` (ReloadStarted, ReloadEvent..., Finished)."""

        async def run() -> None:
            self._post(PushFlow.ReloadStarted(what))
            try:
                summary = await self.rules.track_reload(
                    since_ns,
                    timeout=timeout,
                    poll=poll,
                    on_event=lambda ev: self._post(PushFlow.ReloadEvent(ev)),
                )
            except Exception as exc:
                self._post(PushFlow.ReloadFinished(None, f"tracking stopped: {exc}"))
                return
            self._post(PushFlow.ReloadFinished(summary))

        self.host.run_worker(run(), exclusive=True, group="rules-reload", exit_on_error=False)

    # ------------------------------------------------------------ diff, history, roll back

    def diff(self, snapshot: RulesSnapshot, files: dict[str, str]) -> None:
        def pull() -> None:
            try:
                live = self.rules.pull()
            except Exception as exc:
                self._post(PushFlow.Failed("diff failed", str(exc)))
                return
            self.host.app.call_from_thread(show, live)

        def show(live: RulesSnapshot) -> None:
            note = ""
            if live.resource_version != snapshot.resource_version:
                note = (
                    f"the live rules changed since your edit started (rv {snapshot.resource_version} → "
                    f"{live.resource_version}): a push will show the conflict"
                )
            body = diff_text(
                files_diff(live.files, files, "live", "edited"), empty="(no differences: nothing to push)"
            )
            title = f"Edited files vs live (rv {live.resource_version})"
            self.host.app.push_screen(ConfirmDialog(title, body, confirm=None, note=note))

        self._thread(pull, "rules-read")

    def history(self, *, read_only: bool, preselect: int | None, defaults: DefaultRules | None) -> None:
        """The history dialog (`preselect=-1`: the version a rollback would take); a choice rolls back."""

        def read() -> None:
            try:
                entries = self.rules.list_history()
                live = self.rules.pull()
                chosen = self.rules.rollback_target().version if preselect == -1 else preselect
            except Exception as exc:
                self._post(PushFlow.Failed("history", str(exc)))
                return
            self.host.app.call_from_thread(show, entries, live, chosen)

        def show(entries: list, live: RulesSnapshot, chosen: int | None) -> None:
            dialog = HistoryDialog(entries, dict(live.files), read_only=read_only, preselect=chosen)
            self.host.app.push_screen(dialog, lambda version: picked(version))

        def picked(version: int | None) -> None:
            if version is None or read_only:
                return
            self._post(PushFlow.Busy("rolling back"))
            self._thread(lambda: self._rollback(version, defaults), "rules-write")

        self._thread(read, "rules-read")

    def _rollback(self, version: int, defaults: DefaultRules | None) -> None:
        try:
            result = self.rules.rollback(version, defaults=defaults)
        except Exception as exc:
            self._post(PushFlow.Failed("roll back failed", str(exc)))
            return
        files = None
        if result.status.value == "pushed":
            try:
                files = dict(self.rules.history.get(version).files)
            except Exception:
                files = None
        self._post(PushFlow.RolledBack(result, version, files))


def save_copy(files: dict[str, str]) -> Path:
    """The user's files in a new private temporary folder (kept until the screen goes)."""
    folder = Path(tempfile.mkdtemp(prefix="falcotui-rules-mine-"))
    for key, text in files.items():
        (folder / key).write_text(text)
    return folder
