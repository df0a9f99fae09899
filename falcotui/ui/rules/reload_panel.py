"""The per-node reload panel under the rules editor: after a push it fills in live, node by node
(pending → restarting → reloaded / rejected / crash-loop / timed out), read from the fleet rows the engine
delivers each tick, with a progress bar on top."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from falcotui.falco.sanitize import safe_text, sanitize
from falcotui.ops.rules.reload_state import NodeReload, ReloadState, ReloadSummary

STATE_STYLE = {
    ReloadState.PENDING: "dim",
    ReloadState.RESTARTING: "yellow",
    ReloadState.RELOADED: "green",
    ReloadState.REJECTED: "bold red",
    ReloadState.CRASH_LOOP: "bold red reverse",
    ReloadState.TIMED_OUT: "magenta",
}
STATE_MARK = {
    ReloadState.PENDING: "…",
    ReloadState.RESTARTING: "↻",
    ReloadState.RELOADED: "✓",
    ReloadState.REJECTED: "✗",
    ReloadState.CRASH_LOOP: "✗",
    ReloadState.TIMED_OUT: "?",
}


#: "✗ crash-loop", the longest state a push shows, whole
STATE_WIDTH = max(len(f"{STATE_MARK[s]} {s.value}") for s in STATE_MARK)


def bar(done: int, total: int, width: int = 20, style: str = "green") -> Text:
    """`████░░░░` of `done`/`total` in `width` cells."""
    filled = round(width * done / total) if total else 0
    return Text.assemble(("█" * filled, style), ("░" * (width - filled), "dim"))


class ReloadPanel(Vertical):
    """Hidden until the first push; `begin()`, then `node(NodeReload)` per change, then `finish(summary)`."""

    DEFAULT_CSS = """
    ReloadPanel { height: auto; display: none; }
    ReloadPanel.-active { display: block; }
    ReloadPanel #reload-bar { height: 1; }
    ReloadPanel DataTable { height: auto; max-height: 8; }
    """
    #: the share of the screen's height the node table may take (it scrolls beyond: focus it, ↑↓)
    SHARE = 0.4

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.nodes: dict[str, NodeReload] = {}
        self.what = ""
        self.summary: ReloadSummary | None = None
        self.error = ""
        self.bar_text = ""  # the bar line as plain text

    def compose(self) -> ComposeResult:
        yield Static(id="reload-bar")
        table: DataTable = DataTable(id="reload-nodes", cursor_type="row", zebra_stripes=False)
        table.add_column("NODE", key="node")
        table.add_column("STATE", key="state", width=STATE_WIDTH)
        table.add_column("POD", key="pod")
        table.add_column("DETAIL", key="detail")
        yield table

    def begin(self, what: str) -> None:
        """A new push (`what`: "push v12", "rollback to v9") is being tracked."""
        self.nodes.clear()
        self.what, self.summary, self.error = what, None, ""
        self.query_one(DataTable).clear()
        self.add_class("-active")
        self.fit_height()
        self._render_bar()

    def fit_height(self) -> None:
        """Up to `SHARE` of the screen for the node rows (a dozen nodes on a 45-line terminal, every row
        of a small cluster); the table scrolls past that."""
        height = self.screen.size.height if self.is_attached else 0
        rows = max(4, int(height * self.SHARE)) if height else 8
        self.query_one(DataTable).styles.max_height = rows

    def node(self, ev: NodeReload) -> None:
        table = self.query_one(DataTable)
        self.nodes[ev.node] = ev
        cells = (
            safe_text(ev.node),
            Text(f"{STATE_MARK.get(ev.state, '?')} {ev.state.value}", STATE_STYLE.get(ev.state, "")),
            safe_text(ev.pod),
            safe_text(ev.detail, max_len=200),
        )
        if ev.node in table.rows:
            for col, cell in zip(("node", "state", "pod", "detail"), cells, strict=True):
                table.update_cell(ev.node, col, cell, update_width=col != "state")
        else:
            keys = sorted([*self.nodes])
            table.add_row(*cells, key=ev.node)
            if keys[-1] != ev.node:  # keep the rows in node order
                table.sort("node", key=lambda t: t.plain)
        self._render_bar()

    def finish(self, summary: ReloadSummary | None, error: str = "") -> None:
        self.summary, self.error = summary, error
        if summary is not None:
            for ev in summary.nodes:
                if self.nodes.get(ev.node) != ev:
                    self.node(ev)
        self._render_bar()

    def count(self, *states: ReloadState) -> int:
        return sum(1 for n in self.nodes.values() if n.state in states)

    def _render_bar(self) -> None:
        total = len(self.nodes)
        reloaded = self.count(ReloadState.RELOADED)
        rejected = self.count(ReloadState.REJECTED)
        crashing = self.count(ReloadState.CRASH_LOOP)
        pending = self.count(ReloadState.PENDING, ReloadState.RESTARTING)
        timed_out = self.count(ReloadState.TIMED_OUT)
        bad = rejected or crashing or timed_out
        text = Text.assemble(("reload ", "bold"), bar(reloaded, total, style="red" if bad else "green"), " ")
        if not total:
            text.append("waiting for the Falco pods…", "dim")
        else:
            text.append(f"{reloaded}/{total} reloaded", "green" if reloaded == total else "")
            text.append(f" · {rejected} rejected", "bold red" if rejected else "")
            if crashing:
                text.append(f" · {crashing} crash-looping", "bold red")
            if timed_out:
                text.append(f" · {timed_out} timed out", "magenta")
            text.append(f" · {pending} pending")
        if self.error:
            text.append(f"  {sanitize(self.error, max_len=200)}", "bold red")
        elif self.summary is None:
            text.append(f"  ({sanitize(self.what)}: ConfigMap propagation takes ~60-90 s)", "dim")
        elif self.summary.ok:
            text.append(f"  ✓ {sanitize(self.what)}: every node reloaded", "bold green")
        else:
            text.append(f"  {sanitize(self.what)}: {sanitize(self.summary.line())}", "bold yellow")
        self.bar_text = text.plain
        self.query_one("#reload-bar", Static).update(text)
