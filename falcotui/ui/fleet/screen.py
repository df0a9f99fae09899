"""The Fleet screen (home): every node as a line of a `FleetGrid`, or as a tile of a `FleetTiles` heatmap.

Each tick redraws what changed: the engine's worker sends only rows that differ (rates and sparklines
age there), the mirror says which (`changed_since`), and sorted by name without a filter only those
lines are recomputed and repainted; another sort or a filter reorders the whole list at most once a second
(at once when nodes come or go), reusing the cells of every row that is still the same object. An
in-process engine, whose rows are computed on demand, is redrawn whole once a second as before.
Columns drop by priority when the terminal is narrow (80×24 keeps NODE, FALCO, ALERTS/MIN, WORST, READY,
RST); `g` switches to the tiles for clusters too big to read as a table.
"""

from __future__ import annotations

import time
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Input, Static

from falcotui.falco.sanitize import safe_text, sanitize
from falcotui.ops.engine import EngineDelta
from falcotui.ops.fleet.model import SORT_KEYS
from falcotui.ops.fleet.status import NodeState, NodeStatus, ReloadState
from falcotui.ui.fleet.cells import falco_cell
from falcotui.ui.fleet.grid import FleetGrid, grid_line
from falcotui.ui.fleet.node_cursor import NodeCursorView
from falcotui.ui.fleet.tiles import FleetTiles, legend, node_tile
from falcotui.ui.widgets.common import TitledBox, priority_text, sparkline
from falcotui.ui.widgets.state import redraw_on

REFRESH_S = 1.0

#: (key, label, width, priority: lower stays longer when the screen is narrow)
COLUMNS: tuple[tuple[str, str, int, int], ...] = (
    ("node", "NODE", 18, 0),
    ("ready", "READY", 5, 4),
    ("falco", "FALCO", 18, 1),
    ("ver", "VER", 7, 6),
    ("rst", "RST", 3, 5),
    ("reload", "RELOAD", 17, 7),  # "rejected 09:05:12" whole
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

RELOAD_STYLE = {
    ReloadState.RELOADED: "green",
    ReloadState.RESTARTING: "yellow",
    ReloadState.TIMED_OUT: "magenta",
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
    return time.strftime("%H:%M:%S", time.localtime(ns / 1e9)) if ns else ""


def problem_text(row: NodeStatus) -> str:
    """`node: PodState — why — ways out: a | b`, for the hint line."""
    p = row.problem
    if p is None:
        return ""
    state = f"{row.pod.state} — " if row.pod is not None else ""
    return f"{row.name}: {state}{p.summary} — ways out: {' | '.join(p.remedies)}"


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
        "rst": Text("–" if no_pod else str(row.restarts), "red" if row.restarts else "dim"),
        "reload": Text(reload_text, RELOAD_STYLE[reload.state]),
        "rate": Text(str(row.alerts_per_min) if not no_pod else "–", justify="right"),
        "spark": sparkline(row.series) if not no_pod else Text(""),
        "worst": priority_text(row.worst),
        "channels": Text(" ".join(row.channels) or "–", "green" if row.channels else "dim"),
    }


class FleetScreen(Screen):
    """Every node at a glance; `enter` opens one."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "cycle_sort", "Sort", id="fleet.sort"),
        Binding("slash", "filter", "Filter", id="fleet.filter"),
        Binding("g", "toggle_tiles", "Tiles/table", id="fleet.tiles-table"),
        Binding("l", "pod('log')", "Logs", id="fleet.logs"),
        Binding("d", "pod('describe')", "Describe", id="fleet.describe"),
        Binding("x", "respond", "Respond", show=False, id="fleet.respond"),
        Binding("enter", "open_node", "Open node", show=False, id="fleet.open-node"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="fleet.clear-filter"),
    ]

    #: how the nodes are shown: the sort key, the filter typed, the tiles (else the table); a change of any
    #: redraws the rows and the titles (`redraw_on`)
    sort: reactive[str] = reactive("name", repaint=False, init=False)
    filter_text: reactive[str] = reactive("", repaint=False, init=False)
    tiles: reactive[bool] = reactive(False, repaint=False, init=False)

    def __init__(self) -> None:
        super().__init__()
        self._columns: list[tuple[str, str, int]] = []
        self._cells: dict[str, tuple[NodeStatus, tuple[Text, ...]]] = {}  # node -> (row, its cells)
        self._hint = Text()
        self._last_full = 0.0
        self._version = -1  # the fleet's rows as of this version are on screen (`changed_since`)
        self._pending: set[str] = set()  # rows changed since, waiting for the next reorder
        self._known: set[str] = set()  # the fleet's nodes as of the last reorder (shown or filtered out)
        self._mounted = False

    def compose(self) -> ComposeResult:
        with TitledBox(id="fleet-box"):
            yield Input(
                placeholder="filter nodes: name, state, reason…  (enter to apply, esc to clear)",
                id="fleet-filter",
                classes="hidden",
            )
            yield Static("", id="fleet-columns")
            yield FleetGrid(id="fleet-grid")
            yield Static("", id="fleet-legend", classes="hidden")
            yield FleetTiles(id="fleet-tiles", classes="hidden")
            yield Static("", id="fleet-hint")

    def on_mount(self) -> None:
        self._rebuild_columns()
        self._mounted = True
        self.refresh_rows()
        redraw_on(self, ("sort", "filter_text", "tiles"), self.refresh_rows)
        self.grid.focus()
        self.app.ticks.subscribe(self, self._ticked)  # type: ignore[attr-defined]

    def on_unmount(self) -> None:
        self.app.ticks.unsubscribe(self)  # type: ignore[attr-defined]

    def on_screen_resume(self) -> None:
        self._catch_up(force=True)

    def on_resize(self) -> None:
        if self._mounted and [c[:3] for c in visible_columns(self.size.width)] != self._columns:
            self._rebuild_columns()
            self.refresh_rows()

    # ------------------------------------------------------------ data

    @property
    def _keys(self) -> list[str]:
        return [c[0] for c in self._columns]

    @property
    def grid(self) -> FleetGrid:
        return self.query_one("#fleet-grid", FleetGrid)

    @property
    def tile_view(self) -> FleetTiles:
        return self.query_one("#fleet-tiles", FleetTiles)

    def _rebuild_columns(self) -> None:
        """The column set for this width (on mount and when the terminal is resized)."""
        cols = visible_columns(self.size.width or 120)
        self._columns = [c[:3] for c in cols]
        widths = [width for _, _, width, _ in cols]
        self._cells.clear()
        self.grid.set_columns(widths)
        titles = tuple(Text(label, "bold") for _, label, _, _ in cols)
        self.query_one("#fleet-columns", Static).update(grid_line(titles, widths), layout=False)
        self.query_one("#fleet-legend", Static).update(legend((self.size.width or 120) - 4))

    def _ticked(self, delta: EngineDelta) -> None:
        self._catch_up(k8s_changed=bool(delta.nodes))

    def _catch_up(self, *, force: bool = False, k8s_changed: bool = False) -> None:
        """Redraw the rows that changed since the last redraw (see the module docstring); `force` reorders
        now (the screen came back) instead of at the next second."""
        fleet = self.app.services.engine.fleet
        version, changed = fleet.changed_since(self._version)
        now = time.monotonic()
        if changed is None:  # rows computed on demand: all of them, once a second
            if force or k8s_changed or now - self._last_full >= REFRESH_S:
                self.refresh_rows()
            return
        self._version = version
        self._pending |= changed
        self._update_titles(fleet)  # the summary comes from the worker too (a string compared: cheap)
        if not self._pending:
            return
        shown = self.grid.cells if not self.tiles else self.tile_view.tiles
        in_place = (
            self.sort == "name"
            and not self.filter_text
            and not self.tiles
            and all(name in fleet.nodes and name in shown for name in self._pending)
        )
        if in_place:  # same nodes, same order: only the changed lines
            rows = [row for name in self._pending if (row := fleet.row(name)) is not None]
            self._pending.clear()
            self.grid.update_rows([(row.name, self._cells_of(row)) for row in rows])
            current = self.current_node()
            if current is not None and any(row.name == current for row in rows):
                self._show_hint(True, fleet.row(current))
            return
        came_or_went = any((name in fleet.nodes) != (name in self._known) for name in self._pending)
        if force or came_or_went or now - self._last_full >= REFRESH_S:
            self.refresh_rows()

    def refresh_rows(self) -> None:
        """Bring the grid (or the tiles) in line with the fleet; only changed lines are repainted."""
        self._last_full = time.monotonic()
        self._pending.clear()
        fleet = self.app.services.engine.fleet
        self._version, _ = fleet.changed_since(self._version)
        rows = fleet.rows(self.sort, text=self.filter_text)
        self._known = set(fleet.nodes)
        if self.tiles:
            self.tile_view.set_tiles([(row.name, node_tile(row)) for row in rows])
        else:
            self.grid.set_rows([(row.name, self._cells_of(row)) for row in rows])
        if len(self._cells) > len(fleet.nodes) + 64:  # nodes gone
            self._cells = {name: found for name, found in self._cells.items() if name in fleet.nodes}
        self._update_titles(fleet)
        self._update_hint(rows)

    def _cells_of(self, row: NodeStatus) -> tuple[Text, ...]:
        """The row's cells in column order, reused while the node's row is the same (a mirror keeps an
        unchanged row as the same object: no comparing a thousand rows a second)."""
        found = self._cells.get(row.name)
        if found is None or (found[0] is not row and found[0] != row):
            new = cells(row)
            found = self._cells[row.name] = (row, tuple(new[k] for k in self._keys))
        return found[1]

    def _update_titles(self, fleet) -> None:
        box = self.query_one("#fleet-box", TitledBox)
        title = f"Fleet · {fleet.summary().text}"
        health = getattr(self.app, "health", None)
        if fleet.nodes and fleet.daemonset() is None and health is not None and health.synced:
            title += f" · Falco is not deployed in {fleet.namespace}: F4 Deploy"
        filt = f"filter: {sanitize(self.filter_text, max_len=30)}   " if self.filter_text else "/ filter   "
        view = "g table" if self.tiles else "g tiles"
        box.set_titles(title, f"{filt}s sort: {SORT_LABELS[self.sort]}   {view}")

    def _update_hint(self, rows: list[NodeStatus]) -> None:
        """Below the grid: the highlighted node's trouble in full (a reason does not fit in a cell)."""
        name = self.current_node()
        self._show_hint(bool(rows), next((r for r in rows if r.name == name), None))

    def _show_hint(self, any_shown: bool, row: NodeStatus | None) -> None:
        hint = self.query_one("#fleet-hint", Static)
        if not any_shown:
            text = Text("no nodes match the filter" if self.filter_text else "no nodes listed yet", "dim")
        elif row is None:
            text = Text("")
        elif row.pod is None:
            why = row.no_pod_reason or "not scheduled yet"
            if row.no_pod_taint:
                why += " — falcotui apply --tolerate-all, or add a toleration"
            text = safe_text(f"{row.name}: no Falco pod — {why}", "red", max_len=400)
        elif row.problem is not None:
            text = safe_text(problem_text(row), "yellow", max_len=400)
        elif row.state is not NodeState.RUNNING or row.reload.state in (
            ReloadState.REJECTED,
            ReloadState.FAILED,
        ):
            detail = row.reload.detail or row.pod.detail or row.ready_reason
            text = safe_text(f"{row.name}: {row.pod.state} — {detail}".rstrip(" —"), "yellow", max_len=300)
        elif self.tiles:
            rate = f"{row.alerts_per_min} alerts/min"
            worst = f" · worst {row.worst.label}" if row.worst else ""
            text = safe_text(f"{row.name}: {row.pod.state} {row.pod.ready_text} · {rate}{worst}", max_len=300)
        else:
            text = safe_text(f"{row.name}: {row.pod.name} · {row.pod.image}", "dim", max_len=300)
        if text != self._hint or text.style != self._hint.style:
            self._hint = text
            hint.update(text, layout=False)  # one line, whatever it says: no relayout of the screen

    def current_node(self) -> str | None:
        return self.tile_view.current() if self.tiles else self.grid.current()

    # ------------------------------------------------------------ actions

    @on(NodeCursorView.Highlighted)
    def _highlighted(self, event: NodeCursorView.Highlighted) -> None:
        # one node's row: an arrow key must not cost the whole fleet's rows (1,000 nodes)
        row = self.app.services.engine.fleet.row(event.node) if event.node else None
        self._show_hint(bool((self.tile_view if self.tiles else self.grid).names), row)

    @on(NodeCursorView.Selected)
    def _selected(self) -> None:
        self.action_open_node()

    def action_cycle_sort(self) -> None:
        self.sort = SORT_KEYS[(SORT_KEYS.index(self.sort) + 1) % len(SORT_KEYS)]

    def watch_tiles(self, tiles: bool) -> None:
        """The table or the tiles shown (before the rows are drawn in them: `redraw_on` comes after)."""
        for selector in ("#fleet-columns", "#fleet-grid"):
            self.query_one(selector).set_class(tiles, "hidden")
        for selector in ("#fleet-legend", "#fleet-tiles"):
            self.query_one(selector).set_class(not tiles, "hidden")

    def action_toggle_tiles(self) -> None:
        """g: the table ↔ the heatmap of tiles, keeping the highlighted node."""
        node = self.current_node()
        self.tiles = not self.tiles
        view = self.tile_view if self.tiles else self.grid
        if node is not None:
            view.select_node(node)
        view.focus()

    def action_filter(self) -> None:
        box = self.query_one("#fleet-filter", Input)
        box.remove_class("hidden")
        self.set_focus(box)  # now, not on the next message (Widget.focus): "/abc" typed fast lands in the box

    @on(Input.Changed, "#fleet-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value

    def _focus_view(self) -> None:
        (self.tile_view if self.tiles else self.grid).focus()

    @on(Input.Submitted, "#fleet-filter")
    def _filter_done(self) -> None:
        self._focus_view()

    def action_clear_filter(self) -> None:
        box = self.query_one("#fleet-filter", Input)
        if self.filter_text or not box.has_class("hidden"):
            box.value = ""
            box.add_class("hidden")
            self.filter_text = ""
            self._focus_view()
        else:
            self.app.action_back()

    def action_pod(self, kind: str) -> None:
        """k9s' `l` and `d`: the highlighted node's Falco pod log, or its description."""
        from falcotui.ui.fleet.pod_screens import open_pod_screen

        open_pod_screen(self.app, self.current_node(), kind)

    def action_respond(self) -> None:
        """Node response actions (cordon/uncordon) on the highlighted node."""
        from falcotui.ops.alerts.response_actions import Target
        from falcotui.ui.alerts.response import open_actions

        name = self.current_node()
        if name is not None:
            open_actions(self.app, Target(node=name))

    def action_open_node(self) -> None:
        from falcotui.ui.fleet.node_detail import NodeDetailScreen

        name = self.current_node()
        if name is not None:
            self.app.push_screen(NodeDetailScreen(name))
