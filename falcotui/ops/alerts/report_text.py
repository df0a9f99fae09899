"""Pieces the incident report's HTML and Markdown share: how times, durations and the window read, how a
long count table ends ("N more: M alerts", so every table still adds up to the total), and the list of
files the report wrote (name, lines, SHA-256) that both pages print."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from falcotui.falco.alerts import parse_iso8601_ns
from falcotui.ops.alerts.action_log import ActionRecord
from falcotui.ops.alerts.report_data import ReportData, TimelineRow

_NS = 1_000_000_000
COUNT_ROWS = 50  # rows of a count table before the rest are summed in one "N more" row


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One file of the report: its name in the report's folder, what it holds, lines, SHA-256 (hex)."""

    name: str
    what: str
    lines: int
    sha256: str


@dataclass(slots=True)
class ReportFiles:
    """The data files written before the pages (the pages list them with their checksums)."""

    entries: list[FileEntry] = field(default_factory=list)


def counted_rows(pairs: Iterable[tuple[object, int]], limit: int) -> list[tuple[object, int, bool]]:
    """(name, count, is_the_rest): the first `limit` pairs, then one row summing the others."""
    items = list(pairs)
    rows: list[tuple[object, int, bool]] = [(name, n, False) for name, n in items[:limit]]
    rest = items[limit:]
    if rest:
        rows.append((f"{len(rest)} more", sum(n for _name, n in rest), True))
    return rows


def short_time(ns: int) -> str:
    """`2026-12-06 14:03:07` (UTC, to the second)."""
    return datetime.fromtimestamp(ns // _NS, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def duration_text(ns: int) -> str:
    """`45s`, `12m 5s`, `2h 0m`, `3d 4h`."""
    s = max(0, ns // _NS)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def row_span(row: TimelineRow) -> str:
    """When a timeline row's alerts happened: `first → last (duration)`, or one time for one alert."""
    if row.count == 1:
        return short_time(row.first_ns)
    span = duration_text(row.last_ns - row.first_ns)
    return f"{short_time(row.first_ns)} → {short_time(row.last_ns)} ({span})"


def window_text(data: ReportData) -> str:
    """`2026-12-06 12:03:07 → 2026-12-06 14:03:07 UTC (2h 0m)`."""
    span = duration_text(data.end_ns - data.start_ns)
    return f"{short_time(data.start_ns)} → {short_time(data.end_ns)} UTC ({span})"


def action_ns(record: ActionRecord) -> int:
    """When an action was recorded, in ns (0 if its time cannot be read: it sorts first)."""
    try:
        return parse_iso8601_ns(record.at)
    except ValueError:
        return 0
