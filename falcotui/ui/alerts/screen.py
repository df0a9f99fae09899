"""The Alerts screen: the live list, counts by priority and top rules (click to filter), the filter bar,
since presets, follow/pause, group by rule, the detail pane, and export (`e`: JSON lines, or an incident
report of the list's filter and window — both written by the engine, which holds the alerts).

At most ~7 times a second an engine tick awaits the list's `sync()`: one round trip to the engine's view
(new alerts are matched incrementally there) that brings the rows on screen and what changed; a few times a
second the same round trip also brings the side counts (and the rule groups while they are shown).

The list's title and subtitle say the screen's state (following or paused, the last export, a report
being written): that state is reactive and the titles follow it (`redraw_on`).
"""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Input, Static

from falcotui.falco.alerts import Priority
from falcotui.falco.sanitize import safe_text, sanitize
from falcotui.ops.alerts.query import EMPTY_QUERY, SINCE_PRESETS, AlertQuery, QueryError, parse_query
from falcotui.ops.alerts.report import ReportMeta
from falcotui.ops.alerts.view import RuleGroup
from falcotui.ops.engine import EngineDelta
from falcotui.ui.alerts.alert_list import AlertList
from falcotui.ui.alerts.alert_row import priority_label
from falcotui.ui.alerts.count_list import CountList
from falcotui.ui.alerts.detail import AlertDetail
from falcotui.ui.alerts.detail_pane import DetailPaneHost
from falcotui.ui.alerts.export_menu import JSONL, REPORT, ExportMenu
from falcotui.ui.alerts.remote_view import RemoteView, remote_view
from falcotui.ui.web_delivery import hand_to_browser
from falcotui.ui.widgets.common import TitledBox, count_text, priority_style
from falcotui.ui.widgets.state import redraw_on

SIDE_REFRESH_S = 0.4
LIST_REFRESH_S = 0.14
TOP_RULES = 12
#: the busiest nodes the side list gets (and scrolls through); its title says how many there are in all.
#: Every node's count at each side refresh cost the engine a sort and the UI a row each (5,000 nodes).
TOP_NODES = 50
PRESET_KEYS = dict(zip("123456", SINCE_PRESETS.items(), strict=True))


@functools.lru_cache(maxsize=8192)
def _label(name: str) -> Text:
    """A node's or rule's name as the side lists show it, sanitized once (a thousand nodes' names were
    sanitized again a few times a second); the lists copy it before they cut it, never change it."""
    return safe_text(name, max_len=200)


def _empty_text(query: AlertQuery) -> str:
    return "no alerts match the filter" if query.to_text() else "no alerts yet"


def short_count(n: int) -> str:
    """A count in at most six characters: `99,999`, `123k`, `45M`."""
    if n < 100_000:
        return count_text(n)
    return f"{n // 1000}k" if n < 10_000_000 else f"{n // 1_000_000}M"


def group_label(group: RuleGroup) -> Text:
    """`  3 nodes  Critical  last 09:02:17  Terminal shell in container` (the rule last: it may be cut)."""
    nodes = f"{group.nodes} node{'s' if group.nodes != 1 else ''}"
    text = Text(f"{nodes:>9}  ", "dim")
    text.append(f"{priority_label(group.worst):<8}", priority_style(group.worst))
    clock = time.strftime("%H:%M:%S", time.localtime(group.last_ns / 1e9))
    text.append(f"  last {clock}  ", "dim")
    text.append_text(safe_text(group.rule, "bold", max_len=200))
    return text


class AlertsScreen(DetailPaneHost, Screen):
    """See the module docstring."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter", id="alerts.filter"),
        Binding("f", "follow", "Follow/pause", id="alerts.follow-pause"),
        Binding("r", "group", "Group by rule", id="alerts.group-by-rule"),
        Binding("enter", "detail", "Detail", show=False, id="alerts.detail"),
        Binding("e", "export", "Export (JSONL, report)", id="alerts.export"),
        Binding("x", "respond", "Respond", show=False, id="alerts.respond"),
        Binding("escape", "back", "Back", show=False, id="alerts.back"),
        *(
            Binding(k, f"since({s})", f"Since {label}", show=False, id=f"alerts.since-{label}")
            for k, (label, s) in PRESET_KEYS.items()
        ),
        Binding("0", "since(0)", "All time", show=False, id="alerts.since-all"),
    ]

    #: what the last export wrote ("" after a new filter); whether an incident report is being written
    last_export: reactive[str] = reactive("", repaint=False)
    reporting: reactive[bool] = reactive(False, repaint=False)

    def __init__(self, query: AlertQuery = EMPTY_QUERY) -> None:
        super().__init__()
        self.query_obj = query
        self.view: RemoteView | None = None
        self.grouped = False
        self._last_side = 0.0
        self._last_list = 0.0
        self.export_dir: Path | None = None  # None: the services' choice, else the user's data dir
        self._columns_shown: Text | None = None
        self._node_title = "by node"

    def compose(self) -> ComposeResult:
        with Horizontal(id="alerts-body"):
            with Vertical(id="alerts-side"):
                yield CountList(id="by-priority")
                yield CountList(id="by-node")
                yield CountList(id="top-rules")
            with TitledBox(id="alerts-main"):
                yield Input(
                    value=self.query_obj.to_text(),
                    id="alerts-filter",
                    placeholder="/ filter: priority>=warning node:NAME ns:NS rule:TEXT tag:T since:5m words…",
                )
                yield Static("", id="filter-error", classes="hidden")
                yield Static("", id="alerts-columns")
                view = remote_view(self.source, self.query_obj, top=TOP_NODES)
                yield AlertList(view, id="alerts-list", empty=_empty_text(self.query_obj), counts=True)
                yield CountList(id="rule-groups", count_first=True, classes="hidden")
                yield AlertDetail(id="alerts-detail", classes="hidden")

    def on_mount(self) -> None:
        self.query_one("#by-priority").border_title = "by priority"
        # many clusters: a name counts every cluster's node of that name (the CLUSTER column tells them apart)
        many = getattr(self.app, "clusters", None) is not None
        self._node_title = "nodes, all clusters" if many else "by node"
        self.query_one("#by-node").border_title = self._node_title
        self.query_one("#top-rules").border_title = "top rules"
        self.alert_list.focus()
        self.view = self.alert_list.view
        self.refresh_side()
        redraw_on(self, ("last_export", "reporting"), self._update_titles)
        redraw_on(self.alert_list, ("following",), self._update_titles)
        # every tick, with many clusters too: the list is the merged store's, whichever cluster is in use
        self.app.ticks.subscribe(self, self._ticked, every_tick=True)  # type: ignore[attr-defined]

    def on_unmount(self) -> None:
        self.app.ticks.unsubscribe(self)  # type: ignore[attr-defined]

    @property
    def source(self) -> Any:
        """Where the alerts come from: the engine, or with many clusters the merged store of them all."""
        merged = getattr(self.app, "alert_engine", None)
        return merged if merged is not None else self.app.services.engine  # type: ignore[attr-defined]

    @property
    def alert_list(self) -> AlertList:
        return self.query_one(AlertList)

    # ------------------------------------------------------------ ticks

    async def _ticked(self, delta: EngineDelta | None = None) -> None:
        now = time.monotonic()
        side = now - self._last_side >= SIDE_REFRESH_S
        if side or now - self._last_list >= LIST_REFRESH_S:
            # A followed storm scrolls every visible line on each update: ~7 a second read the same as 15
            # and leave the keyboard its share of the CPU.
            self._last_list = now
            if side:
                self._last_side = now
            await self.alert_list.sync(groups=side, rule_groups=side and self.grouped)
        if side and self.is_attached:
            self.refresh_side()

    async def _sync_side(self) -> None:
        """The counts (and rule groups) now, not at the next side refresh: a new filter or grouping."""
        await self.alert_list.sync(groups=True, rule_groups=self.grouped)
        if self.is_attached:
            self.refresh_side()

    def refresh_side(self) -> None:
        """Counts, top rules, titles and the status line (a few times a second; unchanged rows stay)."""
        self._last_side = time.monotonic()
        view = self.alert_list.view
        if not view.synced:  # a new view's counts are one round trip away: keep the last ones till then
            self._update_titles()
            return
        counts = view.by_priority
        self.query_one("#by-priority", CountList).set_rows(
            [(p.label, Text(priority_label(p), priority_style(p)), short_count(n)) for p, n in counts.items()]
        )
        nodes = view.group_by_node()
        by_node = self.query_one("#by-node", CountList)
        by_node.set_rows([(node, _label(node), short_count(n)) for node, n in nodes])
        title = self._node_title
        if view.nodes > len(nodes):  # the list is only the busiest nodes: say how many have alerts
            title += f" · top {len(nodes)} of {view.nodes:,}"
        if by_node.border_title != title:
            by_node.border_title = title
        groups = view.group_by_rule()
        self.query_one("#top-rules", CountList).set_rows(
            [(rule, _label(rule), short_count(n)) for rule, n in groups[:TOP_RULES]]
        )
        if self.grouped:
            self.query_one("#rule-groups", CountList).set_rows(
                [(g.rule, group_label(g), count_text(g.count)) for g in view.rule_groups()]
            )
        self._update_titles()

    def _update_titles(self) -> None:
        alist = self.alert_list
        store = self.source.store
        state = "following" if alist.following else f"paused (+{count_text(alist.new_while_paused)} new)"
        dropped = f" · older alerts dropped: {count_text(store.evicted)}" if store.evicted else ""
        title = (
            f"Alerts · {count_text(len(alist.view))} shown · {count_text(len(store))} of "
            f"{count_text(store.capacity)} kept{dropped} · {store.rate():.0f}/s · {state}"
        )
        subtitle = sanitize(self.query_obj.to_text(), max_len=120) or "no filter"
        if self.last_export:
            subtitle = f"{sanitize(self.last_export, max_len=200)} · {subtitle}"
        if self.reporting:
            subtitle = f"writing the incident report… · {subtitle}"
        self.query_one("#alerts-main", TitledBox).set_titles(title, subtitle)
        self._show_columns()

    def _show_columns(self) -> None:
        """The column titles over the list: one line, repainted only when they read differently."""
        header = self.alert_list.header_text()
        if header != self._columns_shown:
            self._columns_shown = header
            self.query_one("#alerts-columns", Static).update(header, layout=False)

    # ------------------------------------------------------------ filtering

    def apply_query(self, query: AlertQuery) -> None:
        """Show the alerts matching `query` (a new incremental view over the same store)."""
        self.query_obj = query
        self.last_export = ""
        box = self.query_one("#alerts-filter", Input)
        text = query.to_text()
        if box.value != text:
            with box.prevent(Input.Changed):
                box.value = text
        self._say_unmatched_nodes(query)
        # paused, the list is a snapshot: a new filter looks at the same moment, not at newer alerts
        hold = None if self.alert_list.following else self.alert_list.view.hold_at
        view = remote_view(self.source, query, hold_at=hold, top=TOP_NODES)
        self.view = view
        self.alert_list.empty = _empty_text(query)
        self.alert_list.set_view(view)
        self.refresh_side()

    def _say_unmatched_nodes(self, query: AlertQuery) -> None:
        """A `node:` term that names no node shows nothing: say so under the bar instead of a blank list."""
        note = self.query_one("#filter-error", Static)
        nodes = self.source.fleet.nodes
        unmatched = query.unmatched_nodes(nodes) if nodes else []
        if not unmatched:
            note.add_class("hidden")
            return
        names = ", ".join(f"node:{sanitize(p, max_len=60)}" for p in unmatched)
        note.update(
            Text(f" {names} matches none of the {len(nodes)} nodes (a name, its start or its end)", "yellow")
        )
        note.remove_class("hidden")

    def action_filter(self) -> None:
        self.set_focus(self.query_one("#alerts-filter", Input))  # now: keys typed right after "/" land in it

    @on(Input.Changed, "#alerts-filter")
    def _typed(self, event: Input.Changed) -> None:
        """Check as you type: errors show at once under the bar, with a caret at the position."""
        error = self.query_one("#filter-error", Static)
        try:
            parse_query(event.value)
        except QueryError as exc:
            msg = Text(" " + sanitize(exc.caret(event.value), max_len=500, multiline=True), "red")
            msg.append(f"\n {sanitize(exc.message, max_len=200)} (column {exc.position + 1})", "bold red")
            error.update(msg)
            error.remove_class("hidden")
        else:
            error.add_class("hidden")

    @on(Input.Submitted, "#alerts-filter")
    def _submitted(self, event: Input.Submitted) -> None:
        try:
            query = parse_query(event.value)
        except QueryError:
            return  # the error is on screen already; keep the text so it can be fixed
        self.apply_query(query)
        self.alert_list.focus()

    def action_since(self, seconds: int) -> None:
        self.apply_query(self.query_obj.with_since(seconds or None))

    @on(CountList.Selected, "#by-priority")
    def _pick_priority(self, event: CountList.Selected) -> None:
        priority = Priority.parse(event.key)
        self.apply_query(self.query_obj.with_term("priority", priority.label.lower()))

    @on(CountList.Selected, "#by-node")
    def _pick_node(self, event: CountList.Selected) -> None:
        self.apply_query(self.query_obj.with_term("node=", event.key))  # the picked node, not its prefix

    @on(CountList.Selected, "#top-rules")
    @on(CountList.Selected, "#rule-groups")
    def _pick_rule(self, event: CountList.Selected) -> None:
        rule = event.key
        if self.grouped:
            self.action_group()
        self.apply_query(self.query_obj.with_term("rule=", rule))

    # ------------------------------------------------------------ other actions

    def action_group(self) -> None:
        self.grouped = not self.grouped
        groups = self.query_one("#rule-groups", CountList)
        groups.set_class(not self.grouped, "hidden")
        self.alert_list.set_class(self.grouped, "hidden")
        self.query_one("#alerts-columns").set_class(self.grouped, "hidden")
        if self.grouped:
            groups.border_title = (
                "grouped by rule: alerts · nodes · worst · last seen · rule — enter filters to it · r back"
            )
            self.refresh_side()
            self.run_worker(self._sync_side(), group="alerts-side")
            groups.focus()
        else:
            self.alert_list.focus()

    def action_detail(self) -> None:
        if self.focused is self.alert_list:
            self.open_detail()

    @on(AlertDetail.FieldPicked)
    def _pick_field(self, event: AlertDetail.FieldPicked) -> None:
        """Click-to-filter on a value: narrow the filter to this field's value."""
        try:
            query = self.query_obj.with_term(event.field, event.value)
        except QueryError as exc:
            self.notify(sanitize(str(exc), max_len=200), severity="warning", markup=False)
            return
        self.apply_query(query)

    @on(AlertList.Synced)
    def _first_rows(self) -> None:
        self.refresh_side()

    @on(AlertList.ColumnsChanged)
    def _columns_changed(self) -> None:
        self._show_columns()

    def action_back(self) -> None:
        if self.focused is self.query_one("#alerts-filter"):
            self.alert_list.focus()
        elif self.detail_open:
            self.close_detail()
        elif self.grouped:
            self.action_group()
        elif not self.query_obj.is_empty:  # as on Fleet: esc clears the filter first, then goes back
            self.apply_query(EMPTY_QUERY)
        else:
            self.app.action_back()

    def action_respond(self) -> None:
        """Response actions on the alert shown in the detail pane, else the one under the cursor."""
        from falcotui.ui.alerts.response import alert_target, open_actions

        detail = self.query_one(AlertDetail)
        target = alert_target(detail.entry if not detail.has_class("hidden") else self.alert_list.current())
        if target is None:
            self.notify("no alert selected", severity="warning")
            return
        open_actions(self.app, target)

    def action_export(self) -> None:
        """Ask what to export (ui/export_menu.py): JSON lines or an incident report."""

        def chosen(what: str | None) -> None:
            if what == JSONL:
                self.run_worker(self.export_jsonl(), group="alerts-export")
            elif what == REPORT:
                self.export_report()

        self.app.push_screen(ExportMenu(len(self.alert_list.view), self.query_obj.to_text()), chosen)

    def export_report(self) -> None:
        """An incident report of the list's filter and window, written by the engine on a thread; the
        screen stays live meanwhile."""
        if self.reporting:  # a second e r while one is written: one report, not two racing
            self.notify("an incident report is being written…", title="Incident report", markup=False)
            return
        self.reporting = True
        self.notify("writing the incident report…", title="Incident report", markup=False)
        self.run_worker(self._report(), group="alerts-report")

    async def _report(self) -> None:
        from falcotui.ops.alerts.action_log import default_path

        services = self.app.services
        directory = self.export_dir or services.export_dir
        context = services.context_name
        meta = ReportMeta(
            title=f"Falco incident report: {context}",
            source=f"falcotui's engine: the alerts it kept from context {context} (Falco in namespace "
            f"{services.namespace})",
            filter_text="",
            since_ns=None,
            until_ns=None,
            context=None,  # every action of the window: the list may merge clusters (the context column says)
        )
        try:
            result = await self.alert_list.view.report(
                None if directory is None else str(directory), meta, str(default_path())
            )
        except Exception as exc:  # OSError in the engine, or the link gone: said, not raised
            msg = f"incident report failed: {sanitize(str(exc), max_len=300)}"
            self.notify(msg, severity="error", markup=False)
            return
        finally:
            self.reporting = False
        self.last_export = f"report of {result.alerts} → {result.directory}"
        self.notify(
            f"{result.alerts} alert(s), {result.actions} response action(s): {result.html}",
            title="Incident report written",
            markup=False,
            timeout=10,
        )
        hand_to_browser(self.app, result.html)  # `falcotui serve`: the browser downloads the HTML page

    async def export_jsonl(self) -> None:
        """Every alert of the list as JSON lines, written by the engine (it holds them)."""
        directory = self.export_dir or self.app.services.export_dir
        try:
            result = await self.alert_list.view.export(None if directory is None else str(directory))
        except Exception as exc:  # OSError in the engine, or the link gone: said, not raised
            self.notify(f"export failed: {sanitize(str(exc), max_len=200)}", severity="error", markup=False)
            return
        n, path = result.count, result.path
        self.last_export = f"exported {n} → {path}"
        self.notify(f"{n} alert(s) written to {path}", title="Exported", markup=False)
        hand_to_browser(self.app, path)  # `falcotui serve`: downloaded by the browser too
