"""The incident report as Markdown (GitHub-flavoured tables), for a ticket or a post-mortem document.

Every value from an alert or the action log is written as a code span: nothing in it is emphasis, a link,
an image or HTML in any Markdown renderer. It is sanitized first (no control characters, bidi overrides,
zero-width characters; line breaks shown as ⏎), its pipes are escaped (GFM splits table cells on `|` even
inside code spans) and the span's fence is longer than any run of backticks inside it.
"""

from __future__ import annotations

import re

from falcotui.falco.alerts import format_iso8601_ns
from falcotui.falco.sanitize import sanitize
from falcotui.ops.alerts.report_data import NO_NAMESPACE, TIMELINE_MAX, ReportData
from falcotui.ops.alerts.report_text import (
    COUNT_ROWS,
    ReportFiles,
    action_ns,
    counted_rows,
    row_span,
    short_time,
    window_text,
)

_TICKS = re.compile(r"`+")
_PUNCT = re.compile(r"[!-/:-@\[-`{-~]")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_PIPE = re.compile(r"(\\*)\|")


def _escape_pipe(m: re.Match[str]) -> str:
    """`|` as `\\|`; backslashes right before it doubled, so none of them escapes the escape."""
    return "\\" * (2 * len(m[1])) + "\\|"


def code(text: object, max_len: int = 2000) -> str:
    """`text` as an inline code span that renders literally (see the module docstring); `—` when empty."""
    s = _PIPE.sub(_escape_pipe, sanitize(str(text), max_len=max_len))
    if not s:
        return "—"
    fence = "`" * (max((len(m) for m in _TICKS.findall(s)), default=0) + 1)
    pad = " " if s[0] == "`" or s[-1] == "`" or (s[0] == " " and s[-1] == " ") else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def text(value: object, max_len: int = 300) -> str:
    """Plain Markdown text that renders literally: sanitized, every ASCII punctuation character
    backslash-escaped (CommonMark allows it for any of them) and `<` `>` `&` as entities besides."""
    s = sanitize(str(value), max_len=max_len)
    return _PUNCT.sub(_escape_punct, s)


def _escape_punct(m: re.Match[str]) -> str:
    return _ENTITIES.get(m[0]) or "\\" + m[0]


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _table(head: list[str], rows: list[list[str]], right: set[int] = frozenset()) -> list[str]:  # type: ignore[assignment]
    align = ["---:" if i in right else "---" for i in range(len(head))]
    return [_row(head), _row(align), *(_row(r) for r in rows), ""]


def _pct(n: int, total: int) -> str:
    return f"{100 * n / total:.1f}%" if total else "—"


def _counts(title: str, column: str, pairs, total: int, label=None) -> list[str]:  # type: ignore[no-untyped-def]
    rows = []
    for name, n, more in counted_rows(pairs, COUNT_ROWS):
        shown = f"*{name}*" if more else (label(name) if label else code(name, 300))
        rows.append([shown, f"{n:,}", _pct(n, total)])
    return [f"### {title}", "", *_table([column, "alerts", "share"], rows, {1, 2})]


def render_markdown(data: ReportData, files: ReportFiles, chart_files: tuple[str, str]) -> str:
    """The Markdown document; `chart_files` are the SVG files' names beside it (by priority, by rule)."""
    out: list[str] = [f"# {text(data.title, 200)}", ""]
    first = format_iso8601_ns(data.first_ns) if data.first_ns is not None else "—"
    last = format_iso8601_ns(data.last_ns) if data.last_ns is not None else "—"
    out += _table(
        ["", ""],
        [
            ["Window", code(window_text(data))],
            ["Filter", code(data.filter_text) if data.filter_text else "(none: every alert)"],
            ["Source", code(data.source, 500)],
            ["Generated", code(format_iso8601_ns(data.generated_ns))],
            ["First alert", code(first)],
            ["Last alert", code(last)],
            ["Alerts", f"**{data.total:,}**"],
            ["By priority", ", ".join(f"{p.label} {n:,}" for p, n in data.by_priority) or "—"],
            ["Response actions", f"{len(data.actions):,}"],
        ],
    )
    if data.notes:
        out += ["> **Incomplete:**", *(f"> - {code(note, 1000)}" for note in data.notes), ""]

    label = data.bucket_label()
    out += [f"## Alerts {label}", ""]
    out += [
        f"![Alerts {label} by priority]({chart_files[0]})",
        "",
        f"![Alerts {label}: the busiest rules]({chart_files[1]})",
        "",
    ]
    step = data.bucket_s * 1_000_000_000
    bucket_rows = []
    for i in range(data.bucket_count):
        counts = [c[i] for _p, c in data.per_priority]
        if any(counts):
            start = short_time(data.bucket_start_ns + i * step)
            bucket_rows.append([start, f"{sum(counts):,}", *(f"{n:,}" for n in counts)])
    prios = [p.label for p, _c in data.per_priority]
    out += [f"{len(bucket_rows)} of {data.bucket_count} buckets have alerts:", ""]
    out += _table(["bucket start (UTC)", "alerts", *prios], bucket_rows, set(range(1, 2 + len(prios))))

    out += ["## Counts", ""]
    out += _counts(
        "By priority", "Priority", [(p, n) for p, n in data.by_priority], data.total, label=lambda p: p.label
    )
    out += _counts("By rule", "Rule", data.by_rule, data.total)
    out += _counts("By node", "Node", data.by_node, data.total)
    out += _counts(
        "By namespace",
        "Namespace",
        data.by_namespace,
        data.total,
        label=lambda ns: "*(none: host or no Kubernetes metadata)*" if ns == NO_NAMESPACE else code(ns),
    )

    out += [f"## Response actions ({len(data.actions)})", ""]
    if data.actions:
        rows = []
        for r in data.actions:
            alert = "—"
            if r.alert is not None:
                where = "/".join(x for x in (r.alert.namespace, r.alert.pod) if x) or r.alert.node
                prio = code(r.alert.priority, 20)
                alert = f"{code(r.alert.rule, 300)} ({prio}) {code(where)}"
            action = code(r.action, 40) + (f" (undoes {code(r.undo_of, 60)})" if r.undo_of else "")
            rows.append(
                [
                    code(r.at, 60),
                    code(r.who, 200),
                    code(r.context, 200),
                    action,
                    code(r.target, 300),
                    code(r.result, 20),
                    alert,
                    code(r.detail, 600),
                ]
            )
        out += _table(
            ["when (UTC)", "who", "context", "action", "target", "result", "for alert", "detail"], rows
        )
    else:
        out += ["No response action was recorded in this window.", ""]

    out += [f"## Timeline ({data.timeline_groups:,} rule × workload groups)", ""]
    if data.timeline_groups > len(data.timeline):
        out += [
            f"The first {TIMELINE_MAX} groups are shown; all {data.total:,} alerts are in the JSONL file.",
            "",
        ]
    events: list[tuple[int, int, list[str]]] = []
    for row in data.timeline:
        where = "/".join(x for x in (row.namespace, row.pod) if x)
        span = row_span(row)
        events.append(
            (
                row.first_ns,
                0,
                [
                    span,
                    f"{row.count:,}",
                    row.priority.label,
                    code(row.rule, 300),
                    code(row.node, 300),
                    code(where, 400),
                    code(row.sample, 600),
                ],
            )
        )
    for r in data.actions:
        events.append(
            (
                action_ns(r),
                1,
                [
                    code(r.at, 60),
                    "",
                    "**response**",
                    f"**{code(r.action, 40)}** → {code(r.result, 20)}",
                    code(r.target, 300),
                    f"by {code(r.who, 200)}",
                    "",
                ],
            )
        )
    events.sort(key=lambda e: (e[0], e[1]))
    out += _table(
        ["when (UTC)", "alerts", "priority", "rule", "node", "namespace/pod", "first output"],
        [e[2] for e in events],
        {1},
    )

    out += ["## Files", ""]
    out += _table(
        ["file", "what", "lines", "sha256"],
        [[code(f.name), f.what, f"{f.lines:,}", code(f.sha256)] for f in files.entries],
        {2},
    )
    return "\n".join(out)
