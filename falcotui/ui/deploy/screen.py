"""The Deploy screen: the rendered manifests of the chosen profile with the server's dry-run diff, apply
with confirmation, the rollout advancing node by node (stuck nodes with their reason and last log lines),
rollout restart and uninstall with confirmation.

The plan, apply, restart and uninstall's deletes run in worker threads (the kubernetes client is
synchronous); following the rollout is async (informers) and runs on the loop. The state the status line
and the key bar show is reactive (`STATUS_STATE`): a change of it redraws the line and re-checks the keys.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partialmethod
from typing import ClassVar, TypeVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, ScrollableContainer, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Static

from falcotui.falco.sanitize import sanitize
from falcotui.ops.deploy.deployer import DeployPlan, ObjectChange
from falcotui.ops.deploy.ownership import Removal
from falcotui.ops.deploy.results import DeployConflictError, DeployError
from falcotui.ui.deploy.widgets import (
    ManifestTable,
    PlanOptions,
    RolloutPanel,
    apply_body,
    change_text,
    grpc_profile_note,
    namespace_labels_note,
    plan_summary,
    restart_body,
    uninstall_body,
)
from falcotui.ui.services import ServicesMixin, attempt
from falcotui.ui.widgets.common import titled
from falcotui.ui.widgets.dialogs import ConfirmDialog
from falcotui.ui.widgets.keybar import KeyBar
from falcotui.ui.widgets.state import redraw_on

WRITE_ACTIONS = frozenset({"apply", "restart", "uninstall"})
T = TypeVar("T")


class DeployScreen(ServicesMixin, Screen):
    """See the module docstring. Reads `self.app.services.deployer`."""

    DEFAULT_CSS = """
    DeployScreen #deploy-main { height: 1fr; }
    DeployScreen #deploy-manifests-pane { width: 42; border: round $panel-lighten-2; }
    DeployScreen #deploy-diff-pane { width: 1fr; border: round $accent; scrollbar-gutter: stable; }
    DeployScreen #deploy-manifests { height: 1fr; }
    DeployScreen #deploy-diff { width: auto; min-width: 100%; }
    DeployScreen #deploy-rollout { border: round $panel-lighten-2; }
    DeployScreen #deploy-status { height: 1; padding: 0 1; }
    DeployScreen.-narrow #deploy-manifests-pane { width: 38; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "apply", "Apply", id="deploy.apply"),
        Binding("p", "profile", "gRPC profile", id="deploy.grpc-profile"),
        Binding("d", "plan", "Dry-run again", id="deploy.dry-run-again"),
        Binding("w", "watch", "Watch rollout", id="deploy.watch-rollout"),
        Binding("r", "restart", "Restart", id="deploy.restart"),
        Binding("x", "uninstall", "Uninstall", id="deploy.uninstall"),
        Binding("P", "privileged", "Privileged", id="deploy.privileged"),
        Binding("t", "tolerate_all", "Tolerate all", id="deploy.tolerate-all"),
        Binding("l", "label_namespace", "Label namespace", id="deploy.label-namespace"),
    ]

    rollout_timeout: float = 300.0
    stuck_grace: float = 30.0
    uninstall_timeout: float = 120.0

    #: what write runs now ("" when none) and whether a plan is being rendered
    busy: reactive[str] = reactive("", repaint=False, always_update=True, bindings=True)
    planning: reactive[bool] = reactive(False, repaint=False, always_update=True, bindings=True)
    #: the last plan (the server's dry run of the chosen profile), or why there is none
    plan: reactive[DeployPlan | None] = reactive(None, repaint=False, always_update=True, bindings=True)
    plan_error: reactive[str] = reactive("", repaint=False)
    #: the toggles, `falcotui apply`'s flags: the gRPC profile, privileged, tolerate every taint, set Pod
    #: Security labels on an adopted namespace
    options: reactive[PlanOptions] = reactive(PlanOptions, repaint=False, bindings=True)
    #: what the status line is drawn from
    STATUS_STATE = ("busy", "planning", "plan", "plan_error", "options")

    def __init__(self) -> None:
        super().__init__()
        self.plan_gen = 0
        self._covered = False  # suspended under one of our own dialogs (not left for another screen)

    def compose(self) -> ComposeResult:
        with Horizontal(id="deploy-main"):
            with titled(Vertical(id="deploy-manifests-pane"), "manifests (default profile)"):
                yield ManifestTable(id="deploy-manifests")
            with titled(ScrollableContainer(id="deploy-diff-pane"), "diff vs cluster (server dry-run)"):
                yield Static(Text("rendering and dry-running…", "dim"), id="deploy-diff")
        yield RolloutPanel(id="deploy-rollout")
        yield Static(id="deploy-status")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#deploy-rollout").border_title = "rollout"
        redraw_on(self, self.STATUS_STATE, self._update_status)
        self._update_status()  # the first paint: nothing has changed yet
        self._plan(then_watch=True)

    def on_screen_resume(self) -> None:
        if not self.busy and (
            self.plan is not None or self.plan_error
        ):  # back here: the cluster may have moved
            self._plan()

    def on_resize(self) -> None:
        self.set_class(self.size.width < 110, "-narrow")

    # ------------------------------------------------------------ state shown

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in WRITE_ACTIONS and self.read_only:
            return False
        if action == "apply":
            ready = self.plan is not None and self.plan.pending and not (self.busy or self.planning)
            return True if ready else None
        if action == "label_namespace":
            needed = (
                self.plan is not None and bool(self.plan.namespace_labels)
            ) or self.options.label_namespace
            return (None if self.busy else True) if needed else False
        if action in ("restart", "uninstall", "profile", "privileged", "tolerate_all", "plan", "watch"):
            return None if self.busy else True
        return True

    def _update_status(self) -> None:
        text = Text()
        if self.busy or self.planning:
            text.append(f"{self.busy or 'rendering and dry-running'}…", "yellow")
        elif self.plan_error:
            text.append(f"✗ {sanitize(self.plan_error, max_len=400)}", "bold red")
        elif self.plan is not None:
            text.append(plan_summary(self.plan))
            if note := grpc_profile_note(self.plan):
                text.append(f" · ⚠ {note}", "yellow")
            if note := namespace_labels_note(self.plan, self.options.label_namespace):
                text.append(f" · ⚠ {note}", "yellow")
            if self.plan.pending:
                text.append(" · a apply" if not self.read_only else "", "dim")
            else:
                text.append(" · the cluster matches the manifests", "green")
        if self.read_only:
            text.append("  read-only: apply, restart and uninstall are disabled", "yellow")
        self.query_one("#deploy-status", Static).update(text)

    def _set_busy(self, what: str) -> None:
        self.busy = what

    def _fail(self, what: str, error: str) -> None:
        self.notify(sanitize(error, max_len=800), title=what, severity="error", timeout=12, markup=False)
        self._set_busy("")

    def _or_say(self, call: Callable[[], T], what: str) -> T | None:
        """In a worker thread: `call()`, or None once its failure is said (titled `what`)."""
        value, error = attempt(call, Exception)
        if error:
            self.app.call_from_thread(self._fail, what, error)
        return value

    # ------------------------------------------------------------ plan

    def _toggle(self, option: str) -> None:
        """Turn one of `apply`'s choices the other way and dry-run again."""
        self.options = self.options.toggled(option)
        self._plan()

    action_profile = partialmethod(_toggle, "grpc")
    action_privileged = partialmethod(
        _toggle, "privileged"
    )  # the Helm chart's default, perf_event_paranoid > 2
    action_tolerate_all = partialmethod(_toggle, "tolerate_all")  # every taint tolerated, GPU pools too
    action_label_namespace = partialmethod(_toggle, "label_namespace")

    def action_plan(self) -> None:
        self._plan()

    def _plan(self, *, then_watch: bool = False) -> None:
        self.plan_gen += 1
        self.planning = True
        self._plan_worker(self.plan_gen, self.options, then_watch)

    @work(thread=True, group="deploy-plan")
    def _plan_worker(self, gen: int, options: PlanOptions, then_watch: bool) -> None:
        if self.read_only:
            # The plan is a server-side dry run of every apply, authorized as `patch` like the apply
            # itself: read-only credentials (the viewer role) may not, so do not send it.
            error = "read-only: planning is a server-side dry run (patch), which needs the operator role"
            self.app.call_from_thread(self._planned, gen, None, error, then_watch)
            return
        plan, error = attempt(lambda: self.services.deployer.plan(**options.plan_kwargs()), DeployError)
        self.app.call_from_thread(self._planned, gen, plan, error, then_watch)

    def _planned(self, gen: int, plan: DeployPlan | None, error: str, then_watch: bool) -> None:
        if gen != self.plan_gen:
            return  # a newer plan is on its way
        self.plan, self.plan_error = plan, error
        self.query_one("#deploy-manifests-pane").border_title = f"manifests ({self.options.title()})"
        table = self.query_one(ManifestTable)
        if plan is None:
            table.clear()
            self.query_one("#deploy-diff", Static).update(Text(f"✗ {sanitize(error)}", "bold red"))
        else:
            table.show(plan)
            if not plan.changes:
                self.query_one("#deploy-diff", Static).update(Text("(nothing rendered)", "dim"))
        self.planning = False
        exists = self.read_only or (
            plan is not None and any(c.kind == "DaemonSet" and c.status != "created" for c in plan.changes)
        )
        if then_watch and exists:
            self._follow("current state")

    @on(ManifestTable.Chosen)
    def _chosen(self, event: ManifestTable.Chosen) -> None:
        self.query_one("#deploy-diff", Static).update(change_text(event.change))

    # ------------------------------------------------------------ apply

    def action_apply(self) -> None:
        if self.read_only or self.plan is None or not self.plan.pending:
            return
        plan = self.plan
        dialog = ConfirmDialog(
            f"Apply {len(plan.pending)} change(s) to the cluster?",
            apply_body(plan, self.services.context_name),
            confirm="Apply",
        )
        self.app.push_screen(dialog, lambda ok: self._apply(plan, False) if ok else None)

    @work(thread=True, exclusive=True, group="deploy-write")
    def _apply(self, plan: DeployPlan, force: bool) -> None:
        self.app.call_from_thread(self._set_busy, "applying")
        for pending in plan.pending:
            self.app.call_from_thread(self._row_status, pending.ref, "applying")

        def done(change: ObjectChange) -> None:
            self.app.call_from_thread(self._row_status, change.ref, change.status)

        try:
            self.services.deployer.apply(plan, force=force, on_object=done)
        except DeployConflictError as exc:
            self.app.call_from_thread(self._conflicts, plan, exc.reports)
            return
        except Exception as exc:
            self.app.call_from_thread(self._fail, "apply failed", str(exc))
            return
        self.app.call_from_thread(self._applied)

    def _row_status(self, ref: str, status: str) -> None:
        self.query_one(ManifestTable).set_status(ref, status)

    def _conflicts(self, plan: DeployPlan, reports: list[str]) -> None:
        self._set_busy("")
        body = Text("\n".join(sanitize(r, max_len=2000) for r in reports))
        dialog = ConfirmDialog(
            "Other field managers own fields this apply sets",
            body,
            confirm="Force apply (take the fields)",
            danger=True,
            note="The other objects were applied. Forcing takes ownership of the fields listed above.",
        )
        self.app.push_screen(dialog, lambda ok: self._apply(plan, True) if ok else None)

    def _applied(self) -> None:
        self._set_busy("")
        self.notify("applied: following the rollout", markup=False)
        self._follow("apply")

    # ------------------------------------------------------------ rollout

    def action_watch(self) -> None:
        self._follow("watching")

    @work(exclusive=True, group="deploy-rollout")
    async def _follow(self, why: str) -> None:
        panel = self.query_one(RolloutPanel)
        panel.begin(f"{why}: following the DaemonSet…")
        try:
            result = await self.services.deployer.follow_rollout(
                timeout=self.rollout_timeout, stuck_grace=self.stuck_grace, on_progress=panel.progress
            )
        except Exception as exc:
            panel.message(f"cannot follow the rollout: {exc}")
            return
        panel.result(result)
        if why != "current state":
            self._plan()

    # ------------------------------------------------------------ restart / uninstall

    def action_restart(self) -> None:
        if self.read_only:
            return
        body = restart_body(self.services.context_name, self.services.namespace)
        dialog = ConfirmDialog("Restart Falco on every node?", body, confirm="Restart", danger=True)
        self.app.push_screen(dialog, lambda ok: self._restart() if ok else None)

    @work(thread=True, exclusive=True, group="deploy-write")
    def _restart(self) -> None:
        stamp = self._or_say(self.services.deployer.restart, "restart failed")
        if stamp is not None:
            self.app.call_from_thread(self.notify, f"restart requested at {stamp}", markup=False)
            self.app.call_from_thread(self._follow, "restart")

    def action_uninstall(self) -> None:
        if self.read_only:
            return
        self._uninstall_confirm()

    @work(thread=True, exclusive=True, group="deploy-write")
    def _uninstall_confirm(self) -> None:
        removals = self._or_say(self.services.deployer.uninstall_plan, "uninstall")
        if removals is not None:
            self.app.call_from_thread(self._uninstall_ask, removals)

    def _uninstall_ask(self, removals: list[Removal]) -> None:
        body = uninstall_body(removals, self.services.namespace, self.services.context_name)
        dialog = ConfirmDialog("Uninstall Falco from the cluster?", body, confirm="Uninstall", danger=True)
        self.app.push_screen(dialog, lambda ok: self._uninstall(removals) if ok else None)

    @work(exclusive=True, group="deploy-write")
    async def _uninstall(self, removals: list[Removal]) -> None:
        self._set_busy("uninstalling")
        panel = self.query_one(RolloutPanel)
        panel.reset("uninstalling…")
        try:
            gone = await self.services.deployer.uninstall(
                removals=removals, timeout=self.uninstall_timeout, on_progress=panel.uninstall
            )
        except Exception as exc:
            self._fail("uninstall failed", str(exc))
            return
        panel.reset("uninstalled: Falco is gone" if gone else "uninstall sent: Falco is still terminating")
        self._set_busy("")
        self._plan()
