"""Write an incident report into a folder: the alerts as JSONL, the response actions of the window as
JSONL, two SVG charts, and the same summary as a self-contained HTML page and as Markdown.

The JSONL is written first, from the very sequence of alerts the summary is computed from, so the pages'
counts are those of its lines; the pages list every data file with its line count and SHA-256. Files are
created 0600 in a folder created 0700 (alerts hold command lines and file names). Used by
`falcotui report` (cli/report_cmd.py) and by the TUI through the engine (`ViewService.report`).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from falcotui.ops.alerts.action_log import ActionRecord
from falcotui.ops.alerts.report_data import ReportData, summarize
from falcotui.ops.alerts.report_text import FileEntry, ReportFiles
from falcotui.ops.alerts.store import StoredAlert
from falcotui.ops.alerts.view import export_jsonl

ALERTS_FILE = "alerts.jsonl"
ACTIONS_FILE = "actions.jsonl"
HTML_FILE = "report.html"
MARKDOWN_FILE = "report.md"
CHART_FILES = ("alerts-by-priority.svg", "alerts-by-rule.svg")


@dataclass(frozen=True, slots=True)
class ReportResult:
    """A report written: its folder, how many alerts and actions it holds, the page's path."""

    directory: str
    alerts: int
    actions: int
    html: str
    markdown: str


@dataclass(frozen=True, slots=True)
class ReportMeta:
    """What the caller knows about the report beyond its alerts (picklable: it crosses the engine link)."""

    title: str
    source: str
    filter_text: str
    since_ns: int | None
    until_ns: int | None
    context: str | None = None
    notes: tuple[str, ...] = ()


def report_dir(parent: Path, now: float | None = None) -> Path:
    """A new folder `falcotui-report-YYYYmmdd-HHMMSS[-N]` in `parent` for a report made from the TUI."""
    stem = time.strftime("falcotui-report-%Y%m%d-%H%M%S", time.localtime(now))
    path, n = parent / stem, 1
    while path.exists():
        n += 1
        path = parent / f"{stem}-{n}"
    return path


def _private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "wb") as out:
        out.write(data)


def _entry(path: Path, what: str) -> FileEntry:
    data = path.read_bytes()
    return FileEntry(path.name, what, data.count(b"\n"), hashlib.sha256(data).hexdigest())


def write_report(
    entries: Sequence[StoredAlert],
    directory: Path,
    meta: ReportMeta,
    actions: Iterable[ActionRecord] = (),
    *,
    now_ns: int | None = None,
) -> tuple[ReportResult, ReportData]:
    """Write the report of `entries` (in the order the JSONL should have: event time) into `directory`."""
    from falcotui.ops.alerts.report_charts import priority_chart, rules_chart
    from falcotui.ops.alerts.report_html import render_html
    from falcotui.ops.alerts.report_md import render_markdown

    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    alerts_path = directory / ALERTS_FILE
    count = export_jsonl(entries, alerts_path)
    data = summarize(
        entries,
        title=meta.title,
        source=meta.source,
        filter_text=meta.filter_text,
        since_ns=meta.since_ns,
        until_ns=meta.until_ns,
        actions=actions,
        context=meta.context,
        notes=meta.notes,
        now_ns=now_ns,
    )
    assert data.total == count, "the summary and the JSONL come from the same alerts"
    actions_path = directory / ACTIONS_FILE
    _private(
        actions_path,
        b"".join(
            json.dumps(r.to_json(), ensure_ascii=True, sort_keys=True).encode() + b"\n" for r in data.actions
        ),
    )
    charts = (priority_chart(data), rules_chart(data))
    for name, svg in zip(CHART_FILES, charts, strict=True):
        _private(directory / name, svg.encode("utf-8"))
    files = ReportFiles(
        [
            _entry(
                alerts_path, "every alert of the report, one JSON object a line (Falco's keys + node, pod)"
            ),
            _entry(actions_path, "the response actions listed, one JSON object a line (the action log's)"),
            *(_entry(directory / name, "chart (SVG)") for name in CHART_FILES),
        ]
    )
    html_path, md_path = directory / HTML_FILE, directory / MARKDOWN_FILE
    _private(html_path, render_html(data, files, charts).encode("utf-8"))
    _private(md_path, render_markdown(data, files, CHART_FILES).encode("utf-8"))
    result = ReportResult(str(directory), count, len(data.actions), str(html_path), str(md_path))
    return result, data
