"""One node up close (`enter` on the Fleet screen): its Falco pod, warning events and notices, the last
lines Falco logged, and the node's own live alert list. Everything shown is cluster text: sanitized."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from falcotui.falco.sanitize import safe_text, sanitize
from falcotui.ops.alerts.channel_health import ChannelStatus
from falcotui.ops.alerts.query import AlertQuery
from falcotui.ops.engine import EngineDelta
from falcotui.ops.fleet.status import NodeStatus
from falcotui.ui.alerts.alert_list import AlertList
from falcotui.ui.alerts.detail import AlertDetail
from falcotui.ui.alerts.detail_pane import DetailPaneHost
from falcotui.ui.alerts.remote_view import remote_view
from falcotui.ui.fleet.cells import STATE_STYLE, falco_cell
from falcotui.ui.widgets.common import StatusHeader, TitledBox, count_text, priority_text, sparkline
from falcotui.ui.widgets.keybar import KeyBar
from falcotui.ui.widgets.state import redraw_on

REFRESH_S = 1.0
LOG_LINES = 12
EVENTS = 8


def _clock(ns: int | None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ns / 1e9)) if ns else "--:--:--"


def stream_text(streams: Sequence[ChannelStatus]) -> Text:
    """`log live since 10:20:01 · 2 cuts (last 10:19:58) · 1 gap` for each channel of one node."""
    out = Text()
    for s in streams:
        if out:
            out.append("  ·  ")
        state = "live" if s.connected else "down"
        out.append(f"{s.kind} ", "bold")
        out.append(state, "green" if s.connected else "bold yellow")
        if s.changed_ns:
            out.append(f" since {_clock(s.changed_ns)}", "dim")
        if not s.connected and s.detail:
            out.append_text(safe_text(f" ({s.detail})", "dim", max_len=120))
        if s.cuts:
            out.append(f" · {s.cuts} cut{'s' * (s.cuts != 1)} (last {_clock(s.last_cut_ns)})")
        if s.gaps and s.last_gap:
            gap = f"{_clock(s.last_gap[0])}–{_clock(s.last_gap[1])}"
            out.append(f" · {s.gaps} possible gap{'s' * (s.gaps != 1)} (last {gap})", "bold yellow")
    return out


def node_summary(row: NodeStatus, streams: Sequence[ChannelStatus] = ()) -> Table:
    """Key facts of the node and its Falco pod, two columns, one line per subject (it must fit 80x24)."""
    t = Table.grid(padding=(0, 2))
    t.add_column(style="dim", no_wrap=True, min_width=7)  # the longest label, "streams"
    t.add_column(no_wrap=True, overflow="ellipsis")  # one line each: the box is sized by the row count
    ready = "Ready" if row.ready else "Unknown" if row.ready is None else "NotReady"
    reason = f" ({row.ready_reason})" if row.ready_reason and not row.ready else ""
    t.add_row("node", safe_text(f"{row.name} · {ready}{reason}{' · cordoned' if row.cordoned else ''}"))
    if row.taints:
        t.add_row("taints", safe_text(", ".join(row.taints), max_len=300))
    falco = Text(row.state.value, STATE_STYLE[row.state])
    if row.pod is None:
        t.add_row("falco", falco.append(" · ").append_text(falco_cell(row)))
        return _alerts_row(t, row)
    pod = row.pod
    falco.append(" · ")
    said = pod.state.lower().startswith(row.state.value.replace("-", ""))  # "CrashLoopBackOff", "Running"
    words = f"restarts {pod.restarts} · ready {pod.ready_text} · pod {pod.name}"
    falco.append_text(safe_text(words if said else f"{words} ({pod.state})"))
    t.add_row("falco", falco)
    if pod.detail:
        t.add_row("", safe_text(pod.detail, "yellow", max_len=400))
    t.add_row(
        "image", safe_text(f"{pod.image} · version {row.version or '–'} (from {row.version_source or '–'})")
    )
    reload = f"{row.reload.state.value} {_clock(row.reload.at_ns) if row.reload.at_ns else ''}"
    t.add_row("reload", safe_text(f"{reload} {row.reload.detail}".strip(), max_len=400))
    if any(not s.connected or s.cuts or s.gaps for s in streams):  # healthy: "channels" below says it
        t.add_row("streams", stream_text(streams))
    if row.problem is not None:
        t.add_row("why", safe_text(row.problem.summary, "bold red", max_len=400))
        for i, remedy in enumerate(row.problem.remedies):
            t.add_row("fix" if i == 0 else "", safe_text(remedy, "yellow", max_len=400))
    return _alerts_row(t, row)


def _alerts_row(t: Table, row: NodeStatus) -> Table:
    line = Text(f"{row.alerts_per_min}/min ")
    line.append_text(sparkline(row.series))
    line.append("  worst ")
    line.append_text(priority_text(row.worst))
    line.append(f"  channels {' '.join(row.channels) or '–'}")
    t.add_row("alerts", line)
    return t


class NodeDetailScreen(DetailPaneHost, Screen):
    """See the module docstring."""

    # Sized to content: the facts as wide and tall as their lines, the log beside them (as tall as the
    # facts, or as its lines up to half the screen), the alerts all the rest (`_fit_top`).
    # Type-qualified selectors: they win over app.tcss's plain ids.
    CSS = """
    NodeDetailScreen #node-facts { width: auto; max-width: 60%; height: 100%; }
    NodeDetailScreen #node-log-box { width: 1fr; height: 100%; }
    NodeDetailScreen.-narrow #node-facts { width: 1fr; max-width: 100%; }
    NodeDetailScreen #node-alerts-columns { height: 1; color: $text-muted; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Back to fleet", id="node.back-to-fleet"),
        Binding("enter", "detail", "Alert detail", show=False, id="node.alert-detail"),
        Binding("f", "follow", "Follow/pause", id="node.follow-pause"),
        Binding("l", "pod('log')", "Pod log", id="node.pod-log"),
        Binding("d", "pod('describe')", "Describe pod", id="node.describe-pod"),
        Binding("x", "respond", "Respond", show=False, id="node.respond"),
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
        with TitledBox(id="node-alerts-box"):
            view = remote_view(self.app.services.engine, AlertQuery().with_term("node=", self.node))
            yield Static("", id="node-alerts-columns")
            yield AlertList(view, id="node-alerts", hide=("node",), empty="no alerts from this node yet")
            yield AlertDetail(id="node-alert-detail", classes="hidden")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#node-facts").border_title = f"Node · {sanitize(self.node, max_len=60)}"
        self.query_one("#node-log-box").border_title = "Falco log · events"
        self.query_one(AlertList).focus()
        self.refresh_facts()
        self._columns_changed()
        redraw_on(self.query_one(AlertList), ("following",), self._alerts_title)  # following or paused
        self.app.ticks.subscribe(self, self._ticked)  # type: ignore[attr-defined]

    def on_unmount(self) -> None:
        self.app.ticks.unsubscribe(self)  # type: ignore[attr-defined]

    @on(AlertList.ColumnsChanged)
    def _columns_changed(self) -> None:
        self.query_one("#node-alerts-columns", Static).update(self.query_one(AlertList).header_text())

    async def _ticked(self, delta: EngineDelta) -> None:
        alerts = self.query_one(AlertList)
        await alerts.sync()
        if not self.is_attached:
            return
        self._alerts_title()
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
        summary = node_summary(row, engine.channels_of(self.node))
        facts.update(summary)
        log = self._log_and_events(row)
        self.query_one("#node-log", Static).update(log)
        self.query_one("#node-log-box", VerticalScroll).scroll_end(animate=False)
        self._fit_top(summary.row_count, len(log.renderables))
        self._alerts_title()

    def _fit_top(self, fact_lines: int, log_lines: int) -> None:
        """The top row as tall as the facts, or as the log when it is shown and has more (up to half)."""
        top = self.query_one("#node-top")
        height = fact_lines
        if self.query_one("#node-log-box").display:
            height = max(height, min(log_lines, self.size.height // 2 - 2))
        if top.styles.height is None or top.styles.height.value != height + 2:
            top.styles.height = height + 2

    def _alerts_title(self) -> None:
        alerts = self.query_one(AlertList)
        state = "following" if alerts.following else f"paused (+{count_text(alerts.new_while_paused)} new)"
        title = f"Alerts on {sanitize(self.node, max_len=60)} · {count_text(len(alerts.view))} · {state}"
        self.query_one("#node-alerts-box", TitledBox).set_titles(title)

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
        info = engine.pod_info(pod) if pod else None
        if info is not None and info.recent:
            parts.append(Text("last Falco log lines", "bold"))
            for at, text in list(info.recent)[-LOG_LINES:]:
                line = Text(f"{_clock(at)} ", "dim")
                line.append(sanitize(text, max_len=400))
                parts.append(line)
        if not parts:
            parts.append(Text("no events, notices or Falco log lines for this node yet", "dim"))
        return Group(*parts)

    def action_pod(self, kind: str) -> None:
        from falcotui.ui.fleet.pod_screens import open_pod_screen

        open_pod_screen(self.app, self.node, kind)

    def action_respond(self) -> None:
        """Response actions on the alert in the detail pane (its pod and node), else on this node."""
        from falcotui.ops.alerts.response_actions import Target
        from falcotui.ui.alerts.response import alert_target, open_actions

        detail = self.query_one(AlertDetail)
        target = None if detail.has_class("hidden") else alert_target(detail.entry)
        open_actions(self.app, target or Target(node=self.node))

    def action_close(self) -> None:
        if self.detail_open:
            self.close_detail()
        else:
            self.app.pop_screen()

    def action_detail(self) -> None:
        self.open_detail()
