"""Response actions in the TUI: `x` on an alert or a node opens the menu of actions (each enabled, or
disabled with the reason: read-only, RBAC, no pod in the alert, the object's state); choosing one shows the
exact change in a ConfirmDialog and runs it; the Action log screen lists every action taken (and exports
it as JSONL). The cluster is reached through the UI's own clients (`services.deployer.clients`), never
through the engine."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, OptionList, Static
from textual.widgets.option_list import Option

from falcotui.falco.sanitize import safe_text, sanitize
from falcotui.ops.alerts.action_log import ActionLog
from falcotui.ops.alerts.response_actions import (
    ACTIONS,
    NO_POD,
    NODE_ACTIONS,
    TITLES,
    ActionError,
    Availability,
    ResponseActions,
    Target,
)
from falcotui.ops.alerts.store import StoredAlert
from falcotui.ops.alerts.view import export_path
from falcotui.ui.web_delivery import hand_to_browser
from falcotui.ui.widgets.common import StatusHeader
from falcotui.ui.widgets.dialogs import DIALOG_CSS, ConfirmDialog, write_title
from falcotui.ui.widgets.keybar import KeyBar


def response_actions(app: App, cluster: str | None = None) -> ResponseActions:
    """The app's ResponseActions over the UI's own clients of `cluster` (with many clusters: the alert's or
    node's own; else the one connected), one per connection; `--read-only` disables."""
    pick = getattr(app, "services_of", None)
    services = pick(cluster) if callable(pick) else app.services  # type: ignore[attr-defined]
    clients = services.deployer.clients
    cache: dict[int, ResponseActions] = app.__dict__.setdefault("_response_actions", {})
    log: ActionLog = app.__dict__.setdefault("_action_log", ActionLog())  # one file, one writer's lock
    current = cache.get(id(clients))
    if current is None or current.clients is not clients:
        if len(cache) > 16:  # reconnected many times: the old connections' entries go
            cache.clear()
        current = ResponseActions(clients, log, read_only=services.read_only)
        cache[id(clients)] = current
    return current


def target_cluster(app: App, target: Target) -> str | None:
    """With many clusters, the cluster a target belongs to: its alert's `cluster` (set from the context it
    came from), else the cluster in use; None with one cluster."""
    clusters = getattr(app, "clusters", None)
    if clusters is None:
        return None
    return target.cluster or clusters.current


def target_text(target: Target) -> Text:
    out = Text()
    if target.alert is not None:
        out.append("alert ", "dim")
        out.append_text(safe_text(f"{target.alert.priority} {target.alert.rule} at {target.alert.time}"))
        out.append("\n")
    if target.pod:
        out.append("pod ", "dim")
        out.append_text(safe_text(f"{target.namespace}/{target.pod}", "bold"))
        out.append("  ")
    out.append("node ", "dim")
    out.append_text(safe_text(target.node or "–", "bold"))
    if target.alert is not None and not target.pod:
        out.append("\n")
        out.append_text(safe_text(f"node actions only: {NO_POD}", "yellow", max_len=400))
    return out


class ActionsMenu(ModalScreen[str | None]):
    """The actions for one target, each enabled or disabled with its reason; answers the chosen action."""

    DEFAULT_CSS = DIALOG_CSS
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="actions-menu.cancel")]

    def __init__(self, target: Target, actions: tuple[str, ...]) -> None:
        super().__init__()
        self.target = target
        self.actions = actions

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog small"):
            cluster = target_cluster(self.app, self.target)
            yield Static(write_title(self, Text("Respond", "bold"), cluster), classes="title")
            yield Static(target_text(self.target), classes="note")
            yield OptionList(
                *[Option(Text(f"{TITLES[a]} … asking the cluster", "dim"), id=a) for a in self.actions]
            )
            yield Static(
                Text("⏎ choose  ·  esc: cancel  ·  every change is shown before it runs"), classes="keys"
            )

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()
        self._check()

    @work(thread=True, exclusive=True)
    def _check(self) -> None:
        actions = response_actions(self.app, target_cluster(self.app, self.target))
        for action in self.actions:
            try:
                available = actions.availability(action, self.target)
            except ActionError as exc:
                available = Availability(False, str(exc))
            self.app.call_from_thread(self._show, action, available)

    def _show(self, action: str, available: Availability) -> None:
        options = self.query_one(OptionList)
        index = options.get_option_index(action)
        label = Text(TITLES[action], "bold" if available.enabled else "dim")
        if not available.enabled:
            label.append("  — ")
            label.append_text(safe_text(available.reason, "yellow", max_len=300))
        options.replace_option_prompt_at_index(index, label)
        if available.enabled:
            options.enable_option(action)
        else:
            options.disable_option(action)

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


def open_actions(app: App, target: Target) -> None:
    """The whole flow for one target: menu → plan → confirm (the exact change) → run → notify."""
    actions = tuple(a for a in ACTIONS if target.pod or a in NODE_ACTIONS)

    def chosen(action: str | None) -> None:
        if action:
            _plan(app, target, action)

    app.push_screen(ActionsMenu(target, actions), chosen)


def _plan(app: App, target: Target, action: str) -> None:
    async def run() -> None:
        import asyncio

        cluster = target_cluster(app, target)
        actions = response_actions(app, cluster)
        try:
            plan = await asyncio.to_thread(actions.plan, action, target)
        except (ActionError, Exception) as exc:
            app.notify(sanitize(f"{TITLES[action]}: {exc}", max_len=400), severity="error", markup=False)
            return
        body = Text()
        body.append_text(target_text(target))
        body.append("\n\n")
        body.append(sanitize(plan.change, max_len=20_000, multiline=True))
        who = f"as {actions.who} · context {actions.clients.context or '–'}"
        note = sanitize(f"{plan.note} · {who}" if plan.note else who, max_len=600)
        dialog = ConfirmDialog(
            f"{TITLES[action]}: {plan.ref}",
            body,
            confirm=TITLES[action] if cluster is None else f"{TITLES[action]} on {cluster}",
            danger=True,
            note=note,
            cluster=cluster,
        )

        async def answered(yes: bool | None) -> None:
            if not yes:
                return
            try:
                record = await asyncio.to_thread(actions.run, plan)
            except ActionError as exc:
                app.notify(sanitize(str(exc), max_len=400), severity="error", markup=False)
                return
            app.notify(
                sanitize(f"{record.action} {record.target}: {record.result}", max_len=300),
                title="Response action",
                markup=False,
            )

        app.push_screen(dialog, answered)

    app.run_worker(run(), exclusive=False, group="response-actions")


def alert_target(entry: StoredAlert | None) -> Target | None:
    return Target.of_alert(entry.alert) if entry is not None else None


class ActionLogScreen(Screen):
    """Every response action recorded in the log, newest first; `e` exports it as JSONL."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="action-log.back"),
        Binding("e", "export", "Export JSONL", id="action-log.export-jsonl"),
        Binding("r", "reload", "Reload", id="action-log.reload"),
    ]

    def compose(self) -> ComposeResult:
        yield StatusHeader()
        yield Static("", id="action-log-status")
        yield DataTable(id="action-log-table", cursor_type="row")
        yield KeyBar()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for name in ("time (UTC)", "who", "context", "action", "target", "result", "alert", "detail"):
            table.add_column(name, key=name)
        self.action_reload()
        table.focus()

    @property
    def actions_log(self) -> ActionLog:
        return response_actions(self.app).log

    def action_reload(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        records = self.actions_log.records()
        for i, r in enumerate(reversed(records)):
            alert = f"{r.alert.priority} {r.alert.rule}" if r.alert else "–"
            result = Text(r.result, "green" if r.result == "done" else "bold red")
            if r.undo_of:
                result.append(" (undo)", "dim")
            table.add_row(
                safe_text(r.at[:19].replace("T", " "), max_len=30),
                safe_text(r.who, max_len=60),
                safe_text(r.context, max_len=40),
                safe_text(r.action, "bold", max_len=20),
                safe_text(r.target, max_len=120),
                result,
                safe_text(alert, max_len=120),
                safe_text(r.detail, "dim", max_len=200),
                key=str(i),
            )
        where = Text(f"{len(records)} action(s) · {self.actions_log.path}", "dim")
        self.query_one("#action-log-status", Static).update(where)

    def action_export(self) -> None:
        services = self.app.services  # type: ignore[attr-defined]
        base = export_path(services.export_dir)  # the Alerts export's folder and naming
        path = base.with_name(base.name.replace("falcotui-alerts-", "falcotui-actions-", 1))
        try:
            n = self.actions_log.export(path)
        except OSError as exc:
            self.notify(sanitize(f"export failed: {exc}", max_len=300), severity="error", markup=False)
            return
        self.notify(f"{n} action(s) written to {path}", title="Exported", markup=False)
        hand_to_browser(self.app, path)  # `falcotui serve`: downloaded by the browser too
