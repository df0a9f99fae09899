"""The Alerts screen: the live list, counts by priority and top rules (click to filter), the filter bar,
since presets, follow/pause, group by rule, the detail pane and JSONL export.

Each engine tick runs `view.update()` once (new alerts are matched incrementally by the ops view) and
tells the list what changed; the side counts and titles refresh at most a few times a second.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static

from falcotui.falco.alerts import Priority
from falcotui.falco.sanitize import safe_text, sanitize
from falcotui.ops.alert_query import EMPTY_QUERY, SINCE_PRESETS, AlertQuery, QueryError, parse_query
from falcotui.ops.alert_view import FilteredView, export_jsonl
from falcotui.ops.engine import EngineDelta
from falcotui.ui.alert_detail import AlertDetail
from falcotui.ui.alerts_list import AlertList
from falcotui.ui.widgets import PRIORITY_STYLE, ChipTable, count_text

SIDE_REFRESH_S = 0.4
TOP_RULES = 12
SIDE_RULE_WIDTH = 14
WIDE = 170  # the app's "-wide" breakpoint: the side panel grows
PRESET_KEYS = dict(zip("123456", SINCE_PRESETS.items(), strict=True))


class AlertsScreen(Screen):
    """See the module docstring."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter"),
        Binding("f", "follow", "Follow/pause"),
        Binding("r", "group", "Group by rule"),
        Binding("enter", "detail", "Detail", show=False),
        Binding("e", "export", "Export JSONL"),
        Binding("escape", "back", "Back", show=False),
        *(Binding(k, f"since({s})", f"Since {label}", show=False) for k, (label, s) in PRESET_KEYS.items()),
        Binding("0", "since(0)", "All time", show=False),
    ]

    def __init__(self, query: AlertQuery = EMPTY_QUERY) -> None:
        super().__init__()
        self.query_obj = query
        self.view: FilteredView | None = None
        self.grouped = False
        self._last_side = 0.0
        self._side_prio: list[Priority] = []
        self._side_rules: list[str] = []
        self.export_dir = Path.cwd()
        self._mounted = False
        self.last_export = ""

    def compose(self) -> ComposeResult:
        with Horizontal(id="alerts-body"):
            with Vertical(id="alerts-side"):
                yield ChipTable(id="by-priority", cursor_type="row", show_header=False)
                yield ChipTable(id="top-rules", cursor_type="row", show_header=False)
            with Vertical(id="alerts-main"):
                yield Input(
                    value=self.query_obj.to_text(),
                    id="alerts-filter",
                    placeholder="/ filter: priority>=warning node:NAME ns:NS rule:TEXT tag:T since:5m words…",
                )
                yield Static("", id="filter-error", classes="hidden")
                yield Static("", id="alerts-columns")
                yield AlertList(self.app.services.engine.view(self.query_obj), id="alerts-list")
                yield DataTable(id="rule-groups", cursor_type="row", classes="hidden")
                yield AlertDetail(id="alerts-detail", classes="hidden")

    def on_mount(self) -> None:
        prio = self.query_one("#by-priority", DataTable)
        prio.add_column("priority", width=13)
        prio.add_column("count", width=7)
        rules = self.query_one("#top-rules", DataTable)
        rules.add_column("rule", width=SIDE_RULE_WIDTH + (15 if self.app.size.width >= WIDE else 0))
        rules.add_column("count", width=5)
        self.query_one("#rule-groups", DataTable).add_columns("COUNT", "RULE")
        self.query_one("#by-priority").border_title = "by priority"
        self.query_one("#top-rules").border_title = "top rules"
        self.alert_list.focus()
        self.view = self.alert_list.view
        self._mounted = True
        self.refresh_side(force=True)

    @property
    def alert_list(self) -> AlertList:
        return self.query_one(AlertList)

    # ------------------------------------------------------------ ticks

    def engine_tick(self, delta: EngineDelta | None = None) -> None:
        if not self._mounted:
            return
        view = self.alert_list.view
        self.alert_list.view_changed(view.update())
        if time.monotonic() - self._last_side >= SIDE_REFRESH_S:
            self.refresh_side()

    def refresh_side(self, *, force: bool = False) -> None:
        """Counts, top rules, titles and the status line (a few times a second)."""
        self._last_side = time.monotonic()
        view = self.alert_list.view
        prio = self.query_one("#by-priority", DataTable)
        counts = view.by_priority
        keys = list(counts)
        if keys != self._side_prio or force:
            prio.clear()
            for p in keys:
                prio.add_row(
                    Text(p.label, PRIORITY_STYLE[p]),
                    Text(count_text(counts[p]), justify="right"),
                    key=p.label,
                )
            self._side_prio = keys
        else:
            for p in keys:
                prio.update_cell(
                    p.label, prio.ordered_columns[1].key, Text(count_text(counts[p]), justify="right")
                )
        groups = view.group_by_rule()
        self._fill_rules(self.query_one("#top-rules", DataTable), groups[:TOP_RULES], compact=True)
        if self.grouped:
            self._fill_rules(self.query_one("#rule-groups", DataTable), groups, compact=False)
        self._update_titles()

    def _fill_rules(self, table: DataTable, groups: list[tuple[str, int]], *, compact: bool) -> None:
        rules = [r for r, _ in groups]
        if rules != [str(k.value) for k in table.rows]:
            cursor = table.cursor_row
            table.clear()
            for rule, n in groups:
                cells = (safe_text(rule, max_len=200), Text(count_text(n), justify="right"))
                table.add_row(*(cells if compact else cells[::-1]), key=rule)
            if table.row_count:
                table.move_cursor(row=min(cursor, table.row_count - 1), animate=False)
        else:
            col = table.ordered_columns[1 if compact else 0].key
            for rule, n in groups:
                table.update_cell(rule, col, Text(count_text(n), justify="right"))

    def _update_titles(self) -> None:
        alist = self.alert_list
        store = self.app.services.engine.store
        state = "following" if alist.following else f"paused (+{count_text(alist.new_while_paused)} new)"
        main = self.query_one("#alerts-main")
        main.border_title = (
            f"Alerts · {count_text(len(alist.view))} shown · {count_text(len(store))} kept · "
            f"{store.rate():.0f}/s · {state}"
        )
        subtitle = sanitize(self.query_obj.to_text(), max_len=120) or "no filter"
        if self.last_export:
            subtitle = f"{sanitize(self.last_export, max_len=200)} · {subtitle}"
        main.border_subtitle = subtitle
        self.query_one("#alerts-columns", Static).update(alist.header_text())

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
        self.query_one("#filter-error").add_class("hidden")
        view = self.app.services.engine.view(query)
        self.view = view
        self.alert_list.set_view(view)
        self.refresh_side(force=True)

    def action_filter(self) -> None:
        self.query_one("#alerts-filter", Input).focus()

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

    @on(DataTable.RowSelected, "#by-priority")
    def _pick_priority(self, event: DataTable.RowSelected) -> None:
        priority = Priority.parse(str(event.row_key.value))
        self.apply_query(self.query_obj.with_term("priority", priority.label.lower()))

    @on(DataTable.RowSelected, "#top-rules")
    @on(DataTable.RowSelected, "#rule-groups")
    def _pick_rule(self, event: DataTable.RowSelected) -> None:
        rule = str(event.row_key.value)
        if self.grouped:
            self.action_group()
        self.apply_query(self.query_obj.with_term("rule=", rule))

    # ------------------------------------------------------------ other actions

    def action_follow(self) -> None:
        self.alert_list.following = not self.alert_list.following
        self._update_titles()

    def action_group(self) -> None:
        self.grouped = not self.grouped
        groups = self.query_one("#rule-groups", DataTable)
        groups.set_class(not self.grouped, "hidden")
        self.alert_list.set_class(self.grouped, "hidden")
        self.query_one("#alerts-columns").set_class(self.grouped, "hidden")
        if self.grouped:
            groups.border_title = "grouped by rule · enter filters to the rule · r back to the list"
            self.refresh_side(force=True)
            groups.focus()
        else:
            self.alert_list.focus()

    def action_detail(self) -> None:
        if self.focused is self.alert_list:
            self._open_detail()

    @on(AlertList.Selected)
    def _open_detail(self) -> None:
        detail = self.query_one(AlertDetail)
        detail.show(self.alert_list.current())
        detail.remove_class("hidden")

    @on(AlertDetail.FieldPicked)
    def _pick_field(self, event: AlertDetail.FieldPicked) -> None:
        """Click-to-filter on a value: narrow the filter to this field's value."""
        try:
            query = self.query_obj.with_term(event.field, event.value)
        except QueryError as exc:
            self.notify(sanitize(str(exc), max_len=200), severity="warning", markup=False)
            return
        self.apply_query(query)

    @on(AlertList.Moved)
    def _moved(self) -> None:
        detail = self.query_one(AlertDetail)
        if not detail.has_class("hidden"):
            detail.show(self.alert_list.current())
        self._update_titles()

    def action_back(self) -> None:
        detail = self.query_one(AlertDetail)
        if self.focused is self.query_one("#alerts-filter"):
            self.alert_list.focus()
        elif not detail.has_class("hidden"):
            detail.add_class("hidden")
        elif self.grouped:
            self.action_group()
        else:
            self.app.action_back()

    def action_export(self) -> None:
        view = self.alert_list.view
        path = self.export_dir / time.strftime("falcotui-alerts-%Y%m%d-%H%M%S.jsonl")
        try:
            n = export_jsonl(list(view), path)
        except OSError as exc:
            self.notify(f"export failed: {sanitize(str(exc), max_len=200)}", severity="error", markup=False)
            return
        self.last_export = f"exported {n} → {path}"
        self.notify(f"{n} alert(s) written to {path}", title="Exported", markup=False)
        self._update_titles()
