"""Many clusters in the TUI (`falcotui --context a --context b`): the fleet of fleets and the cluster in use.

`ClusterSet` holds one `Services` per cluster (its own EngineClient over the shared worker, its own
Deployer and RulesService over that cluster's clients) and which one is drilled into. `ClustersScreen` is
the Fleet mode's base screen then: one row per cluster — its state (live, listing, API unreachable and
why, retrying, failed), nodes, Falco pods running, live log streams, alerts kept and their rate, and
whether writes are allowed there; ⏎ drills into that cluster's own Fleet screen, `a` opens the merged
Alerts filtered to it. Every write then goes to one named cluster: screens keep the services of the
cluster they were opened for (ui/services.py) and every confirmation names it (`write_cluster`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, SelectionList, Static

from falcotui.falco.sanitize import safe_text, sanitize
from falcotui.ops.engine_client import EngineClient
from falcotui.ops.engine_fleets import ClusterState
from falcotui.ops.engine_fleets_client import FleetsClient
from falcotui.ui.services import Services
from falcotui.ui.widgets.common import count_text
from falcotui.ui.widgets.dialogs import DIALOG_CSS

COLUMNS = ("CLUSTER", "STATE", "NODES", "FALCO", "LOGS", "ALERTS", "/s", "WRITES", "WHY")


@dataclass
class ClusterSet:
    """Every cluster's services, the worker they share and the cluster drilled into (`current`)."""

    fleets: FleetsClient
    services: dict[str, Services]
    current: str

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.services)

    def __iter__(self) -> Iterator[tuple[str, Services]]:
        return iter(self.services.items())


@dataclass(frozen=True, slots=True)
class ClusterRow:
    """One cluster as its row shows it (plain text; sanitized when drawn)."""

    name: str
    state: str
    style: str
    nodes: str
    falco: str
    logs: str
    alerts: str
    rate: str
    writes: str
    why: str

    @property
    def healthy(self) -> bool:
        return self.style == "green"


def read_only_of(services: Services) -> bool | None:
    """Writes off for one cluster: `--read-only`, or its RBAC verdict (None: not known yet)."""
    if services.read_only:
        return True
    return services.engine.read_only


def cluster_row(name: str, services: Services, state: ClusterState, tick_error: str = "") -> ClusterRow:
    """What the fleet of fleets says of one cluster, from its engine's last tick and its worker state."""
    engine: EngineClient = services.engine
    health = engine.health
    why: list[str] = []
    if state.phase == "failed":
        label, style = "failed", "bold red"
        why.append(state.error)
    elif state.phase == "retrying":
        label, style = "unreachable", "bold red"
        retry = f" (retry in {state.retry_in_s:.0f} s)" if state.retry_in_s is not None else ""
        why.append(state.error + retry)
    elif state.phase == "connecting" or health is None:
        label, style = "connecting…", "yellow"
        if state.error:
            why.append(f"last try: {state.error}")
    elif health.api_reachable is False:
        label, style = "API unreachable", "bold red"
        why.append(health.api_error)
    elif not health.synced:
        label, style = "listing…", "yellow"
    else:
        label, style = "live", "green"
    if tick_error:
        label, style = "engine error", "bold red"
        why.append(tick_error)
    if health is not None:
        if health.credentials_error:
            why.append(f"credentials: {health.credentials_error}")
        if health.throttled:
            why.append(health.throttled)
        if health.log_down:
            why.append(f"log cut: {', '.join(health.log_down[:3])}")
    summary = engine.fleet.summary()
    ds = engine.fleet.daemonset()
    running = summary.running if summary.nodes else 0
    falco = f"{running}/{summary.nodes}" + (f" · DS {ds.ready}/{ds.desired}" if ds else "")
    if summary.crash_looping:
        why.append(f"{summary.crash_looping} crash-looping")
    if summary.without_falco:
        why.append(f"{summary.without_falco} without Falco")
    ro = read_only_of(services)
    writes = "?" if ro is None else "read-only" if ro else "allowed"
    counts = engine.store.counts
    logs = f"{health.log_streams}/{health.log_pods}" if health is not None else "–"
    return ClusterRow(
        name=name,
        state=label,
        style=style,
        nodes=str(summary.nodes) if health is not None else "–",
        falco=falco if health is not None else "–",
        logs=logs,
        alerts=count_text(counts.kept),
        rate=f"{counts.rate_per_s:.0f}",
        writes=writes,
        why=" · ".join(w for w in why if w),
    )


def cluster_rows(clusters: ClusterSet) -> list[ClusterRow]:
    fleets = clusters.fleets
    waiting = ClusterState("connecting")
    return [
        cluster_row(name, services, fleets.states.get(name, waiting), fleets.errors.get(name, ""))
        for name, services in clusters
    ]


def clusters_badge(clusters: ClusterSet) -> Text:
    """The header's part for many clusters: each name with a dot (green live, yellow on its way, red down),
    the one drilled into in bold."""
    out = Text()
    for row in cluster_rows(clusters):
        glyph = "●" if row.healthy else "◐" if row.style == "yellow" else "✗"
        out.append("  ")
        out.append(f"{glyph} ", row.style)
        out.append(sanitize(row.name, max_len=30), "bold underline" if row.name == clusters.current else "")
    return out


class ClustersScreen(Screen):
    """The fleet of fleets (Fleet mode's base screen with many clusters); see the module docstring."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("a", "alerts", "Its alerts", id="clusters.alerts")]
    DEFAULT_CSS = """
    ClustersScreen #clusters-table { height: 1fr; }
    ClustersScreen #clusters-note { height: auto; color: $text-muted; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        yield Static("", id="clusters-note")
        yield DataTable(id="clusters-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for name in COLUMNS:
            table.add_column(name, key=name)
        self._shown: dict[str, ClusterRow] = {}
        self.refresh_rows()
        table.focus()
        # every tick: the table is every cluster's, whether or not the one in use has a batch yet
        self.app.ticks.subscribe(self, self._ticked, every_tick=True)  # type: ignore[attr-defined]

    def on_unmount(self) -> None:
        self.app.ticks.unsubscribe(self)  # type: ignore[attr-defined]

    @property
    def clusters(self) -> ClusterSet:
        return self.app.clusters  # type: ignore[attr-defined]

    def _ticked(self, delta: object = None) -> None:
        self.refresh_rows()

    def on_screen_resume(self) -> None:
        self.refresh_rows()

    def refresh_rows(self) -> None:
        table = self.query_one(DataTable)
        rows = cluster_rows(self.clusters)
        for row in rows:
            if self._shown.get(row.name) == row:
                continue
            cells = [
                safe_text(row.name, "bold", max_len=40),
                Text(row.state, row.style),
                row.nodes,
                row.falco,
                row.logs,
                row.alerts,
                row.rate,
                Text(row.writes, "yellow" if row.writes == "read-only" else ""),
                safe_text(row.why, "red" if not row.healthy else "dim", max_len=110),
            ]
            if row.name in self._shown:
                for key, cell in zip(COLUMNS, cells, strict=True):
                    table.update_cell(row.name, key, cell, update_width=True)
            else:
                table.add_row(*cells, key=row.name)
            self._shown[row.name] = row
        live = sum(r.healthy for r in rows)
        note = f"{len(rows)} clusters · {live} live · ⏎ open its fleet · a: its alerts · F2: all alerts"
        self.query_one("#clusters-note", Static).update(Text(note))

    def _selected(self) -> str | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return str(key.value) if key.value is not None else None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.run_worker(self.app.drill_into(str(event.row_key.value)))  # type: ignore[attr-defined]

    async def action_alerts(self) -> None:
        name = self._selected()
        if name is not None:
            await self.app.show_alerts(f"cluster:{name}")  # type: ignore[attr-defined]


async def use_cluster(app: Any, name: str) -> None:  # app: the FalcoTuiApp (which imports this module)
    """Make cluster `name` the one in use: its services, its header health, and Rules and Deploy screens
    opened afresh for it — except a Rules screen holding unpushed edits, which stays with its own cluster
    (its push still goes there, and says so) until pushed or discarded."""
    clusters: ClusterSet = app.clusters
    if name == clusters.current or name not in clusters.services:
        return
    before = clusters.current
    clusters.current = name
    app.services = clusters.services[name]
    app.health = app.services.engine.health
    app.last_delta = None
    for mode in ("rules", "deploy"):
        if mode == "rules" and app.unpushed_rules() is not None:
            app.notify(
                f"the Rules screen keeps {before}'s unpushed edits: a push from it goes to {before}",
                title="Rules",
                severity="warning",
                markup=False,
            )
            continue
        await app.remove_mode(mode)
        app.add_mode(mode, app.mode_factories[mode])


class ContextsPrompt(ModalScreen[list[str] | None]):
    """`:ctx` — the kubeconfig's contexts with the followed ones ticked; space ticks, ⏎ follows the ticked
    ones side by side (one: a single cluster), esc cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="contexts-prompt.cancel"),
        Binding("enter", "follow", "Follow", id="contexts-prompt.follow", priority=True),
    ]
    # a dialog as the others are (ui/widgets/dialogs.py DIALOG_CSS, e.g. the export menu's list): the same
    # frame and place, title, list, key line (centred in the screen's middle it sat low, below the others)
    DEFAULT_CSS = (
        DIALOG_CSS
        + """
    ContextsPrompt .dialog { max-width: 90; }
    ContextsPrompt SelectionList { height: auto; max-height: 20; }
    ContextsPrompt #ctx-error { color: $error; height: auto; }
    """
    )

    def __init__(self, contexts: tuple[str, ...] | list[str], following: tuple[str, ...]) -> None:
        super().__init__()
        self.contexts = list(contexts)
        self.following = following

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog small", id="ctx-box"):
            yield Static(Text("Clusters side by side", "bold"), classes="title")
            now = Text(f"{len(self.contexts)} contexts in the kubeconfig · following: ")
            now.append_text(safe_text(", ".join(self.following) or "none", "bold", max_len=200))
            yield Static(now, classes="note")
            yield SelectionList[str](
                *[(safe_text(name, max_len=80), name, name in self.following) for name in self.contexts]
            )
            yield Static("", id="ctx-error")
            yield Static(Text("space: tick  ·  ⏎ follow the ticked ones  ·  esc: cancel"), classes="keys")

    def on_mount(self) -> None:
        self.query_one(SelectionList).focus()

    def action_follow(self) -> None:
        chosen = [n for n in self.contexts if n in self.query_one(SelectionList).selected]
        if not chosen:
            self.query_one("#ctx-error", Static).update(Text("tick at least one context (space)"))
            return
        self.dismiss(chosen)

    def action_cancel(self) -> None:
        self.dismiss(None)
