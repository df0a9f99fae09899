"""`e` on Alerts: what to export of the list's alerts (its filter and window) — JSON lines, or an incident
report (HTML, Markdown, SVG charts, the alerts as JSONL and the response actions; ops/report.py). Both are
written by the engine, which holds the alerts; the menu only answers which."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from falcotui.falco.sanitize import safe_text
from falcotui.ui.widgets.dialogs import DIALOG_CSS

JSONL = "jsonl"
REPORT = "report"


class ExportMenu(ModalScreen[str | None]):
    """Answers JSONL, REPORT, or None (cancelled). `j` and `r` choose at once."""

    DEFAULT_CSS = DIALOG_CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="export-menu.cancel"),
        Binding("j", "choose('jsonl')", "JSON lines", id="export-menu.jsonl"),
        Binding("r", "choose('report')", "Incident report", id="export-menu.report"),
    ]

    def __init__(self, count: int, filter_text: str) -> None:
        super().__init__()
        self.count = count
        self.filter_text = filter_text

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog small"):
            yield Static(Text("Export", "bold"), classes="title")
            what = Text(f"{self.count:,} alert{'s' * (self.count != 1)} of the list · filter: ")
            what.append_text(safe_text(self.filter_text or "none", "bold", max_len=200))
            yield Static(what, classes="note")
            yield OptionList(
                Option(Text.assemble(("j  JSON lines", "bold"), "  one alert a line"), id=JSONL),
                Option(
                    Text.assemble(
                        ("r  Incident report", "bold"),
                        "  HTML + Markdown: charts, counts, timeline, response actions; JSONL",
                    ),
                    id=REPORT,
                ),
            )
            yield Static(Text("j / r or ⏎ choose  ·  esc: cancel"), classes="keys")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_choose(self, what: str) -> None:
        self.dismiss(what)

    def action_cancel(self) -> None:
        self.dismiss(None)
