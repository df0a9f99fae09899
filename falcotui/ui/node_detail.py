"""One node up close (`enter` on the Fleet screen): its Falco pod, warning events and notices, the last
lines Falco logged, and the node's own live alert list. Everything shown is cluster text: sanitized."""

from __future__ import annotations

import time
from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from falcotui.falco.sanitize import safe_text, sanitize
from falcotui.ops.alert_query import AlertQuery
from falcotui.ops.engine import EngineDelta
from falcotui.ops.fleet_status import NodeStatus
from falcotui.ui.alert_detail import AlertDetail
from falcotui.ui.alerts_list import AlertList
from falcotui.ui.fleet_screen import STATE_STYLE, falco_cell
from falcotui.ui.widgets import StatusHeader, priority_text, sparkline

REFRESH_S = 1.0
LOG_LINES = 12
EVENTS = 8


def _clock(ns: int | None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ns / 1e9)) if ns else "--:--:--"


def node_summary(row: NodeStatus) -> Table:
    """Key facts of the node and its Falco pod, two columns."""
    t = Table.grid(padding=(0, 2))
    t.add_column(style="dim", no_wrap=True)
    t.add_column()
    ready = "Ready" if row.ready else "Unknown" if row.ready is None else "NotReady"
    reason = f" ({row.ready_reason})" if row.ready_reason and not row.ready else ""
    t.add_row("node", safe_text(f"{row.name} · {ready}{reason}{' · cordoned' if row.cordoned else ''}"))
    t.add_row("state", Text(row.state.value, STATE_STYLE[row.state]))
    if row.taints:
        t.add_row("taints", safe_text(", ".join(row.taints), max_len=300))
    if row.pod is None:
        t.add_row("falco", falco_cell(row))
    else:
        pod = row.pod
        t.add_row(
            "pod", safe_text(f"{pod.name} · {pod.state} · ready {pod.ready_text} · restarts {pod.restarts}")
        )
        if pod.detail:
            t.add_row("", safe_text(pod.detail, "yellow", max_len=400))
        t.add_row("image", safe_text(pod.image))
        t.add_row("version", safe_text(f"{row.version or '–'} (from {row.version_source or '–'})"))
        reload = f"{row.reload.state.value} {_clock(row.reload.at_ns) if row.reload.at_ns else ''}"
        t.add_row("reload", safe_text(f"{reload} {row.reload.detail}".strip(), max_len=400))
    line = Text(f"{row.alerts_per_min}/min ")
    line.append_text(sparkline(row.series))
    line.append("  worst ")
    line.append_text(priority_text(row.worst))
    line.append(f"  channels {' '.join(row.channels) or '–'}")
    t.add_row("alerts", line)
    return t


class NodeDetailScreen(Screen):
    """See the module docstring."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Back to fleet"),
        Binding("enter", "detail", "Alert detail", show=False),
        Binding("f", "follow", "Follow/pause"),
    ]

    def __init__(self, node: str) -> None:
        super().__init__()
        self.node = node
        self._last = 0.0

    def compose(self) -> ComposeResult:
        yield StatusHeader()
        with Horizontal(id="node-top"):
            yield Static("", id="node-facts")
            with VerticalScroll(id="node-log-box"):
                yield Static("", id="node-log")
        with Vertical(id="node-alerts-box"):
            view = self.app.services.engine.view(AlertQuery().with_term("node", self.node))
            yield AlertList(view, id="node-alerts")
            yield AlertDetail(id="node-alert-detail", classes="hidden")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#node-facts").border_title = f"Node · {sanitize(self.node, max_len=60)}"
        self.query_one("#node-log-box").border_title = "Falco log · events"
        self.query_one("#node-alerts-box").border_title = "Alerts on this node"
        self.query_one(AlertList).focus()
        self.refresh_facts()

    def engine_tick(self, delta: EngineDelta) -> None:
        alerts = self.query_one(AlertList)
        alerts.view_changed(alerts.view.update())
        if self.node in delta.nodes or time.monotonic() - self._last >= REFRESH_S:
            self.refresh_facts()

    def refresh_facts(self) -> None:
        self._last = time.monotonic()
        engine = self.app.services.engine
        row = engine.fleet.row(self.node)
        facts = self.query_one("#node-facts", Static)
        if row is None:
            facts.update(Text("this node is no longer in the cluster", "red"))
            return
        facts.update(node_summary(row))
        self.query_one("#node-log", Static).update(self._log_and_events(row))

    def _log_and_events(self, row: NodeStatus) -> Group:
        engine = self.app.services.engine
        parts: list[Text] = []
        pod = row.pod.name if row.pod else None
        objects = {f"Node/{self.node}"} | ({f"Pod/{pod}"} if pod else set())
        events = [e for e in engine.k8s_events if e.object in objects][-EVENTS:]
        for e in events:
            line = Text()
            line.append(f"{e.at[11:19] or '--:--:--'} ", "dim")
            line.append(sanitize(e.reason, max_len=60), "yellow")
            line.append(f" ×{e.count} " if e.count > 1 else " ")
            line.append(sanitize(e.message, max_len=300))
            parts.append(line)
        notices = [n for n in engine.notices.recent(200) if n.node == self.node or (pod and n.pod == pod)]
        for n in notices[-EVENTS:]:
            line = Text(f"{_clock(n.at_ns)} ", "dim")
            line.append(f"{n.kind.value} ", "magenta")
            line.append(sanitize(n.message, max_len=300))
            parts.append(line)
        info = engine.hub.pod_info(pod) if pod else None
        if info is not None and info.recent:
            parts.append(Text("last Falco log lines", "bold"))
            for at, text in list(info.recent)[-LOG_LINES:]:
                line = Text(f"{_clock(at)} ", "dim")
                line.append(sanitize(text, max_len=400))
                parts.append(line)
        if not parts:
            parts.append(Text("no events, notices or Falco log lines for this node yet", "dim"))
        return Group(*parts)

    def action_close(self) -> None:
        detail = self.query_one(AlertDetail)
        if not detail.has_class("hidden"):
            detail.add_class("hidden")
        else:
            self.app.pop_screen()

    def action_follow(self) -> None:
        alerts = self.query_one(AlertList)
        alerts.following = not alerts.following

    def action_detail(self) -> None:
        self._show_detail()

    def on_alert_list_selected(self) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        detail = self.query_one(AlertDetail)
        detail.show(self.query_one(AlertList).current())
        detail.remove_class("hidden")
