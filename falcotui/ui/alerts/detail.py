"""The alert detail pane: rule, priority, source, channels, tags, every output field and the raw JSON.

Everything shown comes from the alert, so all of it is attacker-controlled: it goes through `sanitize`
into Rich `Text` objects (never markup). Field names are clickable in the Alerts screen through the
table's row selection: `field_rows()` gives (field, value) pairs for that.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Group
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static

from falcotui.falco.alerts import alert_to_json
from falcotui.falco.sanitize import safe_text, sanitize
from falcotui.ops.alerts.store import StoredAlert
from falcotui.ui.widgets.common import ChipTable, priority_style

RAW_MAX = 4000


def field_rows(entry: StoredAlert) -> list[tuple[str, str]]:
    """(field, value) of the alert's output fields, sorted by name, values as text."""
    fields = entry.alert.output_fields
    return [(name, "" if fields[name] is None else str(fields[name])) for name in sorted(fields)]


def summary_renderable(entry: StoredAlert) -> Group:
    """Rule, priority, source, channels; time, node; tags; output of one alert (sanitized text only)."""
    a = entry.alert
    head = Text()
    head.append("rule ", "dim")
    head.append(sanitize(a.rule, max_len=300), "bold")
    head.append(" · ")
    head.append(a.priority.label, priority_style(a.priority))
    head.append(" · ")
    head.append(sanitize(a.source or "?", max_len=40))
    head.append(" · via ", "dim")
    head.append(entry.via or a.channel, "green")
    where = Text()
    where.append("time ", "dim")
    where.append(a.time_iso)
    where.append("  node ", "dim")
    where.append(sanitize(entry.node, max_len=200), "cyan")
    if a.pod:
        where.append("  falco pod ", "dim")
        where.append(sanitize(a.pod, max_len=200))
    if a.hostname and a.hostname != entry.node:
        where.append("  hostname ", "dim")
        where.append(sanitize(a.hostname, max_len=200))
    tags = Text()
    tags.append("tags ", "dim")
    tags.append(sanitize(" ".join(a.tags), max_len=500) or "–", "magenta")
    output = Text()
    output.append("output ", "dim")
    output.append(sanitize(a.message, max_len=4000))
    return Group(head, where, tags, output)


def raw_renderable(entry: StoredAlert) -> Group:
    """The alert as JSON, indented, sanitized."""
    raw = alert_to_json(entry.alert, indent=True).decode()
    if len(raw) > RAW_MAX:
        raw = raw[:RAW_MAX] + "\n…"
    return Group(
        Text("raw JSON", "bold"), Text(sanitize(raw, max_len=RAW_MAX + 2, multiline=True), style="dim")
    )


class AlertDetail(VerticalScroll, can_focus=True):
    """One alert (or a hint when none is selected), scrollable; focus it (tab) to scroll with keys. A click
    (or enter) on an output field posts `FieldPicked` — the Alerts screen narrows its filter to it."""

    DEFAULT_CSS = """
    AlertDetail { scrollbar-size-vertical: 1; }
    """

    entry: StoredAlert | None = None

    @dataclass
    class FieldPicked(Message):
        field: str
        value: str

    def compose(self) -> ComposeResult:
        yield Static(Text("no alert selected", "dim"), classes="detail-summary")
        yield Static(
            Text("⏎ or a click on a field: narrow the filter to it", "dim italic"), classes="detail-hint"
        )
        yield ChipTable(cursor_type="row", show_header=False, classes="detail-fields")
        yield Static("", classes="detail-raw")

    def on_mount(self) -> None:
        table = self.query_one(".detail-fields", ChipTable)
        table.add_column("field", key="field")
        table.add_column("value", key="value")

    def show(self, entry: StoredAlert | None) -> None:
        """Show `entry` (None: say none is selected); the alert already shown is left as it is (the list's
        cursor moves with evictions and updates while it stays on the same alert)."""
        if entry is not None and self.entry is not None and _same_alert(entry, self.entry):
            return
        self.entry = entry
        summary = self.query_one(".detail-summary", Static)
        table = self.query_one(".detail-fields", ChipTable)
        raw = self.query_one(".detail-raw", Static)
        table.clear()
        if entry is None:
            summary.update(Text("no alert selected", "dim"))
            raw.update("")
            return
        summary.update(summary_renderable(entry))
        for i, (name, value) in enumerate(field_rows(entry)):
            table.add_row(
                safe_text(name, "bold cyan", max_len=100), safe_text(value, max_len=500), key=str(i)
            )
        self._fields = field_rows(entry)
        raw.update(raw_renderable(entry))

    @on(DataTable.RowSelected, ".detail-fields")
    def _picked(self, event: DataTable.RowSelected) -> None:
        event.stop()
        name, value = self._fields[int(str(event.row_key.value))]
        self.post_message(self.FieldPicked(name, value))


def _same_alert(a: StoredAlert, b: StoredAlert) -> bool:
    """The same stored alert, seen through the same channels (a merge adds one: the pane says it)."""
    key = (a.seq, a.channels, a.alert.time_ns, a.alert.rule)
    return key == (b.seq, b.channels, b.alert.time_ns, b.alert.rule)
