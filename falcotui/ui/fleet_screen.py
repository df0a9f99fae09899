"""The Fleet screen (home): one keyed DataTable row per node, updated in place, sorted and filtered.

Cells are recomputed from `engine.fleet.rows()` about twice a second (alert rates move with time) and
at once for nodes the engine reports changed; only cells whose content differs are written. Columns drop
by priority when the terminal is narrow (80×24 keeps NODE, FALCO, ALERTS/MIN, WORST, READY, RST).
"""

from __future__ import annotations

import time
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static

from falcotui.falco.sanitize import safe_text, sanitize
from falcotui.ops.engine import EngineDelta
from falcotui.ops.fleet import SORT_KEYS
from falcotui.ops.fleet_status import NodeState, NodeStatus, ReloadState
from falcotui.ui.widgets import priority_text, sparkline

REFRESH_S = 1.0

#: (key, label, width, priority: lower stays longer when the screen is narrow)
COLUMNS: tuple[tuple[str, str, int, int], ...] = (
    ("node", "NODE", 18, 0),
    ("ready", "READY", 5, 4),
    ("falco", "FALCO", 18, 1),
    ("ver", "VER", 7, 6),
    ("rst", "RST", 3, 5),
    ("reload", "RELOAD", 13, 7),
    ("rate", "ALERTS/MIN", 10, 2),
    ("spark", "LAST 10 MIN", 11, 8),
    ("worst", "WORST", 8, 3),
    ("channels", "CHANNELS", 9, 9),
)
SORT_LABELS = {
    "name": "name",
    "alerts": "alerts/min ▼",
    "worst": "worst ▼",
    "restarts": "restarts ▼",
    "state": "state (worst first)",
}

STATE_STYLE = {
    NodeState.NO_POD: "bold red",
    NodeState.CRASH_LOOP: "bold red",
    NodeState.IMAGE_PULL: "bold red",
    NodeState.FAILING: "red",
    NodeState.PENDING: "yellow",
    NodeState.TERMINATING: "yellow",
    NodeState.NODE_NOT_READY: "yellow",
    NodeState.NOT_READY: "yellow",
    NodeState.RUNNING: "green",
}
RELOAD_STYLE = {
    ReloadState.OK: "green",
    ReloadState.REJECTED: "bold red",
    ReloadState.FAILED: "bold red",
    ReloadState.CRASH_LOOP: "bold red",
    ReloadState.PENDING: "yellow",
    ReloadState.NONE: "dim",
    ReloadState.UNKNOWN: "dim",
}


def visible_columns(width: int) -> list[tuple[str, str, int, int]]:
    """The columns that fit in `width` cells, dropping the least important first, in display order; room
    left over widens FALCO (where a missing pod's reason goes) and NODE."""
    chosen = sorted(COLUMNS, key=lambda c: c[3])
    while len(chosen) > 1 and sum(c[2] + 2 for c in chosen) > width - 2:
        chosen.pop()
    keep = {c[0] for c in chosen}
    spare = width - 2 - sum(c[2] + 2 for c in chosen)
    grow = {"falco": min(max(spare, 0), 20)}
    grow["node"] = min(max(spare - grow["falco"], 0), 12)
    return [(k, label, w + grow.get(k, 0), p) for k, label, w, p in COLUMNS if k in keep]


def _clock(ns: int | None) -> str:
    return time.strftime("%H:%M", time.localtime(ns / 1e9)) if ns else ""


def falco_cell(row: NodeStatus) -> Text:
    """Pod state words: `Running 1/1`, `CrashLoop`, `no pod — taint …` (trouble in red)."""
    style = STATE_STYLE[row.state]
    if row.pod is None:
        why = f"taint {row.no_pod_taint}" if row.no_pod_taint else row.no_pod_reason or "not scheduled"
        return safe_text(f"no pod: {why}", style, max_len=60)
    state = row.pod.state
    if state == "CrashLoopBackOff":
        state = "CrashLoop"
    text = f"{state} {row.pod.ready_text}" if row.state is NodeState.RUNNING else state
    return safe_text(text, style, max_len=40)


def cells(row: NodeStatus) -> dict[str, Text]:
    """Every column's cell for one node (sanitized Text, never markup)."""
    ready = (
        Text("✓", "green") if row.ready else Text("?", "yellow") if row.ready is None else Text("✗", "red")
    )
    if row.cordoned:
        ready.append(" ⊘", "yellow")
    no_pod = row.pod is None
    reload = row.reload
    word = "started" if reload.state is ReloadState.NONE else reload.state.value
    reload_text = "" if no_pod else f"{word} {_clock(reload.at_ns)}".strip()
    return {
        "node": safe_text(row.name, "bold" if row.state is not NodeState.RUNNING else "", max_len=63),
        "ready": ready,
        "falco": falco_cell(row),
        "ver": safe_text(row.version or "–", "" if row.version else "dim", max_len=20),
        "rst": Text(str(row.restarts), "red" if row.restarts else "dim"),
        "reload": Text(reload_text, RELOAD_STYLE[reload.state]),
        "rate": Text(str(row.alerts_per_min) if not no_pod else "–", justify="right"),
        "spark": sparkline(row.series) if not no_pod else Text(""),
        "worst": priority_text(row.worst),
        "channels": Text(" ".join(row.channels) or "–", "green" if row.channels else "dim"),
    }


class FleetScreen(Screen):
    """Every node at a glance; `enter` opens one."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "cycle_sort", "Sort"),
        Binding("slash", "filter", "Filter"),
        Binding("enter", "open_node", "Open node", show=False),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.sort = "name"
        self.filter_text = ""
        self._shown: dict[str, dict[str, Text]] = {}
        self._order: list[str] = []
        self._columns: list[str] = []
        self._last_full = 0.0
        self._mounted = False

    def compose(self) -> ComposeResult:
        with Vertical(id="fleet-box"):
            yield Input(
                placeholder="filter nodes: name, state, reason…  (enter to apply, esc to clear)",
                id="fleet-filter",
                classes="hidden",
            )
            yield DataTable(id="fleet-table", cursor_type="row", zebra_stripes=True)
            yield Static("", id="fleet-hint")

    def on_mount(self) -> None:
        self._rebuild_columns()
        self._mounted = True
        self.refresh_rows(force=True)
        self.query_one(DataTable).focus()

    def on_screen_resume(self) -> None:
        self.refresh_rows(force=True)

    def on_resize(self) -> None:
        if self._mounted and [c[:3] for c in visible_columns(self.size.width)] != self._columns:
            self._rebuild_columns()
            self.refresh_rows(force=True)

    # ------------------------------------------------------------ data

    @property
    def _keys(self) -> list[str]:
        return [c[0] for c in self._columns]

    @property
    def table(self) -> DataTable:
        return self.query_one("#fleet-table", DataTable)

    def _rebuild_columns(self) -> None:
        """Column set changed (resize): the only time the table is rebuilt."""
        table = self.table
        table.clear(columns=True)
        cols = visible_columns(self.size.width or 120)
        self._columns = [c[:3] for c in cols]
        for key, label, width, _ in cols:
            table.add_column(label, key=key, width=width)
        self._shown.clear()
        self._order = []

    def engine_tick(self, delta: EngineDelta) -> None:
        if not self._mounted:
            return
        now = time.monotonic()
        if delta.nodes or now - self._last_full >= REFRESH_S:
            self.refresh_rows()

    def refresh_rows(self, *, force: bool = False) -> None:
        """Bring the table in line with the fleet: add/remove rows, write changed cells, re-sort if needed."""
        self._last_full = time.monotonic()
        fleet = self.app.services.engine.fleet
        rows = fleet.rows(self.sort, text=self.filter_text)
        table = self.table
        wanted = [r.name for r in rows]
        for gone in set(self._shown) - set(wanted):
            table.remove_row(gone)
            del self._shown[gone]
        for row in rows:
            new = cells(row)
            old = self._shown.get(row.name)
            if old is None:
                table.add_row(*(new[k] for k in self._keys), key=row.name)
            else:
                for key in self._keys:
                    if old[key] != new[key]:
                        table.update_cell(row.name, key, new[key])
            self._shown[row.name] = new
        if wanted != self._order:
            rank = {name: i for i, name in enumerate(wanted)}
            table.sort("node", key=lambda cell: rank.get(cell.plain, len(rank)))
            self._order = wanted
        self._update_titles(fleet)
        self._update_hint(rows)

    def _update_titles(self, fleet) -> None:
        box = self.query_one("#fleet-box")
        box.border_title = f"Fleet · {fleet.summary().text}"
        filt = f"filter: {sanitize(self.filter_text, max_len=30)}   " if self.filter_text else "/ filter   "
        box.border_subtitle = f"{filt}s sort: {SORT_LABELS[self.sort]}"

    def _update_hint(self, rows: list[NodeStatus]) -> None:
        """Below the table: the highlighted node's trouble in full (a reason does not fit in a cell)."""
        hint = self.query_one("#fleet-hint", Static)
        name = self.current_node()
        row = next((r for r in rows if r.name == name), None)
        if not rows:
            text = Text("no nodes match the filter" if self.filter_text else "no nodes listed yet", "dim")
        elif row is None:
            text = Text("")
        elif row.pod is None:
            text = safe_text(f"{row.name}: no Falco pod — {row.no_pod_reason or 'not scheduled yet'}", "red")
        elif row.state is not NodeState.RUNNING or row.reload.state in (
            ReloadState.REJECTED,
            ReloadState.FAILED,
        ):
            detail = row.reload.detail or row.pod.detail or row.ready_reason
            text = safe_text(f"{row.name}: {row.pod.state} — {detail}".rstrip(" —"), "yellow", max_len=300)
        else:
            text = safe_text(f"{row.name}: {row.pod.name} · {row.pod.image}", "dim", max_len=300)
        hint.update(text)

    def current_node(self) -> str | None:
        table = self.table
        if not table.row_count:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        except Exception:
            return None
        return key.value

    # ------------------------------------------------------------ actions

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        self._update_hint(self.app.services.engine.fleet.rows(self.sort, text=self.filter_text))

    @on(DataTable.RowSelected)
    def _selected(self) -> None:
        self.action_open_node()

    def action_cycle_sort(self) -> None:
        self.sort = SORT_KEYS[(SORT_KEYS.index(self.sort) + 1) % len(SORT_KEYS)]
        self.refresh_rows()

    def action_filter(self) -> None:
        box = self.query_one("#fleet-filter", Input)
        box.remove_class("hidden")
        box.focus()

    @on(Input.Changed, "#fleet-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value
        self.refresh_rows()

    @on(Input.Submitted, "#fleet-filter")
    def _filter_done(self) -> None:
        self.table.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#fleet-filter", Input)
        if self.filter_text or not box.has_class("hidden"):
            box.value = ""
            box.add_class("hidden")
            self.filter_text = ""
            self.refresh_rows()
            self.table.focus()
        else:
            self.app.action_back()

    def action_open_node(self) -> None:
        from falcotui.ui.node_detail import NodeDetailScreen

        name = self.current_node()
        if name is not None:
            self.app.push_screen(NodeDetailScreen(name))
