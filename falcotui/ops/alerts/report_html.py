"""The incident report as one self-contained HTML page: inline CSS and inline SVG charts, no script, no
external fetch (a Content-Security-Policy that forbids both, in case a browser is ever told otherwise), and
a print stylesheet so it reads on paper.

Every value from an alert or the action log goes through `sanitize` (no control characters, bidi overrides
or zero-width tricks in the page) and then `html.escape` (no tag, attribute or entity of the attacker's).
"""

from __future__ import annotations

import html

from falcotui.falco.alerts import format_iso8601_ns
from falcotui.falco.sanitize import sanitize
from falcotui.ops.alerts.report_charts import PRIORITY_COLORS, inline_svg
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

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

_CSS = """
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1b1b;
       margin: 2rem auto; max-width: 1100px; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin: 0 0 .3rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 .6rem; border-bottom: 1px solid #ccc; padding-bottom: .2rem; }
.meta { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; margin: .8rem 0; }
.meta dt { color: #555; } .meta dd { margin: 0; }
.cards { display: flex; flex-wrap: wrap; gap: .6rem; margin: 1rem 0; }
.card { border: 1px solid #ccc; border-radius: 6px; padding: .4rem .8rem; min-width: 7rem; }
.card b { display: block; font-size: 1.4rem; }
.notes { border-left: 4px solid #d7301f; background: #fff4f0; padding: .4rem .8rem; }
table { border-collapse: collapse; width: 100%; margin: .4rem 0 1rem; font-size: 13px; }
th, td { border: 1px solid #d6d6d6; padding: .2rem .45rem; text-align: left; vertical-align: top; }
th { background: #f2f2f2; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.more td { color: #555; font-style: italic; }
.counts { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 0 1.2rem; }
.prio { display: inline-block; width: .7rem; height: .7rem; border-radius: 2px; margin-right: .35rem;
        vertical-align: baseline; border: 1px solid #0003; }
code, .out { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12px;
             overflow-wrap: anywhere; word-break: break-word; }
figure { margin: .5rem 0 1rem; } figure svg { width: 100%; height: auto; }
figcaption { color: #555; font-size: 12px; }
tr.action td { background: #eef5ff; }
table.timeline, table.actions { table-layout: fixed; }
table.timeline th:nth-child(1) { width: 13%; } table.timeline th:nth-child(2) { width: 5%; }
table.timeline th:nth-child(3) { width: 9%; } table.timeline th:nth-child(4) { width: 16%; }
table.timeline th:nth-child(5) { width: 9%; } table.timeline th:nth-child(6) { width: 14%; }
table.timeline th:nth-child(7) { width: 34%; }
table.actions th:nth-child(8) { width: 30%; }
footer { margin-top: 2rem; color: #666; font-size: 12px; }
@page { size: A4 landscape; margin: 12mm; }
@media print {
  body { margin: 0; max-width: none; font-size: 11px; }
  .counts { display: block; }
  td.out div { display: -webkit-box; -webkit-box-orient: vertical; -webkit-line-clamp: 4; line-clamp: 4;
               overflow: hidden; }
  h2 { break-after: avoid; } tr, figure, .card { break-inside: avoid; }
  thead { display: table-header-group; }
  th { background: #eee !important; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  .prio, tr.action td { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  details { display: block; } details > summary { display: none; }
}
"""


def esc(text: object, max_len: int = 2000) -> str:
    """Text from the cluster as HTML text or attribute content: sanitized, then escaped."""
    return html.escape(sanitize(str(text), max_len=max_len), quote=True)


def _num(n: int) -> str:
    return f"{n:,}"


def _table(head: list[str], rows: list[str], *, cls: str = "") -> str:
    heads = "".join(f"<th>{h}</th>" for h in head)
    klass = f' class="{cls}"' if cls else ""
    return f"<table{klass}><thead><tr>{heads}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _count_table(what: str, column: str, pairs, total: int, *, label=None) -> str:  # type: ignore[no-untyped-def]
    rows = []
    for name, n, more in counted_rows(pairs, COUNT_ROWS):
        if more:
            rows.append(
                f'<tr class="more"><td>{esc(name)}</td><td class="n">{_num(n)}</td><td class="n">'
                f"{_pct(n, total)}</td></tr>"
            )
        else:
            shown = label(name) if label else esc(name, 300)
            rows.append(
                f'<tr><td>{shown}</td><td class="n">{_num(n)}</td><td class="n">{_pct(n, total)}</td></tr>'
            )
    body = _table([column, "alerts", "share"], rows, cls=f"by-{what}")
    return f"<section><h3>By {column.lower()}</h3>{body}</section>"


def _pct(n: int, total: int) -> str:
    return f"{100 * n / total:.1f}%" if total else "—"


def _prio(priority) -> str:  # type: ignore[no-untyped-def]
    color = PRIORITY_COLORS[priority]
    return f'<span class="prio" style="background:{color}"></span>{priority.label}'


def _ns_label(ns: str) -> str:
    return "<i>(none: host or no Kubernetes metadata)</i>" if ns == NO_NAMESPACE else esc(ns, 300)


def render_html(data: ReportData, files: ReportFiles, charts: tuple[str, str]) -> str:
    """The page (see the module docstring); `charts` are the two SVG documents of report_charts."""
    parts: list[str] = []
    add = parts.append
    add('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">')
    add(f'<meta http-equiv="Content-Security-Policy" content="{CSP}">')
    add('<meta name="viewport" content="width=device-width, initial-scale=1">')
    add(f"<title>{esc(data.title, 200)}</title><style>{_CSS}</style></head><body>")
    add(f"<header><h1>{esc(data.title, 200)}</h1>")
    add('<dl class="meta">')
    for key, value in (
        ("Window", window_text(data)),
        ("Filter", data.filter_text or "(none: every alert)"),
        ("Source", data.source),
        ("Generated", format_iso8601_ns(data.generated_ns)),
        ("First alert", format_iso8601_ns(data.first_ns) if data.first_ns is not None else "—"),
        ("Last alert", format_iso8601_ns(data.last_ns) if data.last_ns is not None else "—"),
    ):
        add(f"<dt>{key}</dt><dd><code>{esc(value, 1000)}</code></dd>")
    add("</dl></header>")
    add('<div class="cards">')
    add(f'<div class="card" id="total">alerts<b>{_num(data.total)}</b></div>')
    for priority, n in data.by_priority:
        add(f'<div class="card">{_prio(priority)}<b>{_num(n)}</b></div>')
    add(f'<div class="card">rules<b>{_num(len(data.by_rule))}</b></div>')
    add(f'<div class="card">nodes<b>{_num(len(data.by_node))}</b></div>')
    add(f'<div class="card">response actions<b>{_num(len(data.actions))}</b></div>')
    add("</div>")
    if data.notes:
        add('<div class="notes"><b>Incomplete:</b><ul>')
        parts.extend(f"<li>{esc(note, 1000)}</li>" for note in data.notes)
        add("</ul></div>")

    add(f"<h2>Alerts {esc(data.bucket_label())}</h2>")
    for svg, caption in zip(charts, ("by priority, stacked", "the busiest rules"), strict=True):
        add(
            f"<figure>{inline_svg(svg)}<figcaption>Alerts {esc(data.bucket_label())}, {caption}; "
            f"times in UTC.</figcaption></figure>"
        )
    add(_buckets_table(data))

    add('<h2>Counts</h2><div class="counts">')
    add(_count_table("priority", "Priority", [(p, n) for p, n in data.by_priority], data.total, label=_prio))
    add(_count_table("rule", "Rule", data.by_rule, data.total))
    add(_count_table("node", "Node", data.by_node, data.total))
    add(_count_table("namespace", "Namespace", data.by_namespace, data.total, label=_ns_label))
    add("</div>")

    add(_actions(data))
    add(_timeline(data))
    add("<h2>Files</h2>")
    add(
        _table(
            ["file", "what", "lines", "sha256"],
            [
                f"<tr><td><code>{esc(f.name)}</code></td><td>{esc(f.what)}</td>"
                f'<td class="n">{_num(f.lines)}</td><td><code>{f.sha256}</code></td></tr>'
                for f in files.entries
            ],
            cls="files",
        )
    )
    add(f"<footer>falcotui incident report · generated {format_iso8601_ns(data.generated_ns)}</footer>")
    add("</body></html>\n")
    return "".join(parts)


def _buckets_table(data: ReportData) -> str:
    """The charts' numbers, for print and for anyone who cannot see the bars: buckets with alerts."""
    step = data.bucket_s * 1_000_000_000
    prios = [p for p, _c in data.per_priority]
    rows = []
    for i in range(data.bucket_count):
        counts = [c[i] for _p, c in data.per_priority]
        if not any(counts):
            continue
        cells = "".join(f'<td class="n">{_num(n)}</td>' for n in counts)
        start = data.bucket_start_ns + i * step
        rows.append(f'<tr><td>{short_time(start)}</td><td class="n">{_num(sum(counts))}</td>{cells}</tr>')
    table = _table(["bucket start (UTC)", "alerts", *[_prio(p) for p in prios]], rows, cls="buckets")
    n = len(rows)
    return (
        f"<details><summary>The charts' numbers: {n} of {data.bucket_count} buckets have alerts"
        f"</summary>{table}</details>"
    )


def _actions(data: ReportData) -> str:
    out = [f"<h2>Response actions ({len(data.actions)})</h2>"]
    if not data.actions:
        out.append("<p>No response action was recorded in this window.</p>")
        return "".join(out)
    rows = []
    for r in data.actions:
        alert = "—"
        if r.alert is not None:
            where = "/".join(x for x in (r.alert.namespace, r.alert.pod) if x) or r.alert.node
            alert = f"{esc(r.alert.rule, 300)} ({esc(r.alert.priority, 20)}) <code>{esc(where, 300)}</code>"
        undo = f"<br><small>undoes {esc(r.undo_of, 60)}</small>" if r.undo_of else ""
        rows.append(
            f'<tr class="action"><td><code>{esc(r.at, 60)}</code></td><td>{esc(r.who, 200)}</td>'
            f"<td><code>{esc(r.context, 200)}</code></td><td><b>{esc(r.action, 40)}</b>{undo}</td>"
            f"<td><code>{esc(r.target, 300)}</code></td><td>{esc(r.result, 20)}</td><td>{alert}</td>"
            f'<td class="out"><div>{esc(r.detail, 600)}</div></td></tr>'
        )
    out.append(
        _table(
            ["when (UTC)", "who", "context", "action", "target", "result", "for alert", "detail"],
            rows,
            cls="actions",
        )
    )
    return "".join(out)


def _timeline(data: ReportData) -> str:
    """Alerts grouped by rule and workload, by first seen, with the response actions in between."""
    out = [f"<h2>Timeline ({_num(data.timeline_groups)} rule × workload groups)</h2>"]
    if data.timeline_groups > len(data.timeline):
        out.append(
            f'<p class="notes">The first {TIMELINE_MAX} groups are shown; all '
            f"{_num(data.total)} alerts are in the JSONL file.</p>"
        )
    events: list[tuple[int, int, str]] = []
    for row in data.timeline:
        where = "/".join(x for x in (row.namespace, row.pod) if x)
        span = row_span(row)
        events.append(
            (
                row.first_ns,
                0,
                (
                    f'<tr class="alert"><td>{span}</td><td class="n">{_num(row.count)}</td>'
                    f"<td>{_prio(row.priority)}</td>"
                    f"<td>{esc(row.rule, 300)}</td><td><code>{esc(row.node, 300)}</code></td>"
                    f"<td><code>{esc(where, 400)}</code></td>"
                    f'<td class="out"><div>{esc(row.sample, 600)}</div></td></tr>'
                ),
            )
        )
    for r in data.actions:
        events.append(
            (
                action_ns(r),
                1,
                (
                    f'<tr class="action"><td>{esc(r.at, 60)}</td><td></td><td>response</td>'
                    f'<td><b>{esc(r.action, 40)}</b> → {esc(r.result, 20)}</td><td colspan="2"><code>'
                    f"{esc(r.target, 300)}</code></td><td>by {esc(r.who, 200)}</td></tr>"
                ),
            )
        )
    events.sort(key=lambda e: (e[0], e[1]))
    out.append(
        _table(
            ["when (UTC)", "alerts", "priority", "rule", "node", "namespace/pod", "first output"],
            [e[2] for e in events],
            cls="timeline",
        )
    )
    return "".join(out)
