"""Open an incident report's folder and check it against its own JSONL, independently of the code that
wrote it: the HTML parsed (counts tables, cards, no script, no external fetch), each SVG parsed as XML with
one bar per (priority, minute) that has alerts and one point per bucket on each rule line, the Markdown
tables read back, the response actions listed in all three."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from falcotui.falco.alerts import parse_iso8601_ns
from falcotui.falco.sanitize import sanitize

SVG = "{http://www.w3.org/2000/svg}"
NO_NS = "(none: host or no Kubernetes metadata)"


class _Page(HTMLParser):
    """Tables by class (rows of cell texts), every tag and attribute seen, the text of the cards."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[list[str]]] = {}
        self.tags: Counter[str] = Counter()
        self.attrs: list[tuple[str, str, str | None]] = []
        self.text: list[str] = []
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._in_head = False
        self.summaries: list[str] = []
        self._summary: list[str] | None = None

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        self.tags[tag] += 1
        self.attrs.extend((tag, k, v) for k, v in attrs)
        a = dict(attrs)
        if tag == "table":
            self._table = (a.get("class") or "").strip()
            self.tables.setdefault(self._table, [])
        elif tag == "thead":
            self._in_head = True
        elif tag == "tbody":
            self._in_head = False
        elif tag == "tr" and self._table is not None and not self._in_head:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "summary":
            self._summary = []

    def handle_endtag(self, tag):  # type: ignore[no-untyped-def]
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None
        elif tag == "summary" and self._summary is not None:
            self.summaries.append("".join(self._summary))
            self._summary = None

    def handle_data(self, data):  # type: ignore[no-untyped-def]
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self._summary is not None:
            self._summary.append(data)


@dataclass
class Report:
    alerts: list[dict]
    actions: list[dict]
    html: str
    markdown: str
    page: _Page
    buckets: int
    md_tables: dict[str, list[list[str]]] = field(default_factory=dict)


def _namespace(obj: dict) -> str:
    ns = (obj.get("output_fields") or {}).get("k8s.ns.name")
    return NO_NS if ns in (None, "", "<NA>") else str(ns)


def _counts(rows: list[list[str]]) -> dict[str, int]:
    return {r[0]: int(r[1].replace(",", "")) for r in rows}


def _md_cells(line: str) -> list[str]:
    """A GFM table row's cells: split on pipes not escaped, `\\|` read back as `|`, code spans unwrapped."""
    cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
    out = []
    for c in cells:
        c = c.strip().replace("\\|", "|")
        m = re.fullmatch(r"(`+) ?(.*?) ?\1", c)
        out.append(m[2] if m else c)
    return out


def md_tables(markdown: str) -> dict[str, list[list[str]]]:
    """Each table under a `###`/`##` heading (the heading's text), its body rows as cells."""
    tables: dict[str, list[list[str]]] = {}
    heading = ""
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        elif line.startswith("| ") and i + 1 < len(lines) and re.fullmatch(r"\|( -+:? \|)+", lines[i + 1]):
            head = _md_cells(line)
            rows = []
            i += 2
            while i < len(lines) and lines[i].startswith("| "):
                cells = _md_cells(lines[i])
                assert len(cells) == len(head), (
                    f"a Markdown row of {heading} has {len(cells)} cells: {lines[i]!r}"
                )
                rows.append(cells)
                i += 1
            tables.setdefault(heading, rows)
            continue
        i += 1
    return tables


def open_report(folder: Path) -> Report:
    """Read every file of a report and check what holds whatever the alerts are."""
    names = {p.name for p in folder.iterdir()}
    assert names == {
        "report.html",
        "report.md",
        "alerts.jsonl",
        "actions.jsonl",
        "alerts-by-priority.svg",
        "alerts-by-rule.svg",
    }, names
    for p in folder.iterdir():
        assert p.stat().st_mode & 0o077 == 0, f"{p.name} is readable by others"
    alerts = [json.loads(line) for line in (folder / "alerts.jsonl").read_text().splitlines()]
    actions = [json.loads(line) for line in (folder / "actions.jsonl").read_text().splitlines()]
    html = (folder / "report.html").read_text()
    page = _Page()
    page.feed(html)
    page.close()
    # self-contained: no script, no external fetch of any kind, a CSP that forbids both
    assert page.tags["script"] == 0 and page.tags["iframe"] == 0 and page.tags["link"] == 0
    assert page.tags["img"] == 0 and page.tags["object"] == 0
    assert not [a for a in page.attrs if a[1].startswith("on")], "an event handler attribute"
    assert not [a for a in page.attrs if a[1] in ("src", "href") and not (a[2] or "").startswith("#")]
    assert "default-src 'none'" in html  # (URLs in alert text are text: only attributes could fetch)
    (summary,) = [s for s in page.summaries if "buckets have alerts" in s]
    buckets = int(re.search(r"of (\d+) buckets", summary)[1])  # type: ignore[index]
    markdown = (folder / "report.md").read_text()
    return Report(alerts, actions, html, markdown, page, buckets, md_tables(markdown))


def check_counts(report: Report) -> None:
    """Every count of the HTML and the Markdown equals what the JSONL's lines add up to."""
    alerts = report.alerts
    truth = {
        "priority": Counter(a["priority"] for a in alerts),
        "rule": Counter(sanitize(a["rule"], max_len=300) for a in alerts),
        "node": Counter(sanitize(a.get("node") or a["hostname"], max_len=300) for a in alerts),
        "namespace": Counter(sanitize(_namespace(a), max_len=300) for a in alerts),
    }
    for what, counts in truth.items():
        assert _counts(report.page.tables[f"by-{what}"]) == dict(counts), what
        md = report.md_tables[f"By {what}"]
        got = {r[0].strip("*"): int(r[1].replace(",", "")) for r in md}
        assert got == dict(counts), f"Markdown by {what}"
    assert f'<div class="card" id="total">alerts<b>{len(alerts):,}</b></div>' in report.html
    assert f"| Alerts | **{len(alerts):,}** |" in report.markdown


def check_charts(report: Report, folder: Path, bucket_s: int = 60) -> None:
    """Bars: one per (priority, bucket) with alerts; lines: one point per bucket each; the same SVG inline."""
    if bucket_s == 60:
        assert "Alerts per minute" in report.html
    cells = {(a["priority"], parse_iso8601_ns(a["time"]) // (bucket_s * 10**9)) for a in report.alerts}
    bars = ET.fromstring((folder / "alerts-by-priority.svg").read_bytes())
    ids = [e.get("id") for e in bars.iter() if (e.get("id") or "").startswith("prio-bar-")]
    assert len(ids) == len(set(ids)) == len(cells)
    assert Counter(i.split("-")[2] for i in ids) == Counter(p for p, _m in cells)  # type: ignore[union-attr]
    lines = ET.fromstring((folder / "alerts-by-rule.svg").read_bytes())
    rules = [g for g in lines.iter(f"{SVG}g") if (g.get("id") or "").startswith("rule-line-")]
    assert len(rules) == min(5, len({a["rule"] for a in report.alerts}))
    for g in rules:
        assert len(list(g.iter(f"{SVG}use"))) == report.buckets, g.get("id")
    for name in ("alerts-by-priority.svg", "alerts-by-rule.svg"):
        svg = (folder / name).read_text()
        assert svg[svg.index("<svg") :] in report.html, f"{name} is inline in the page"


def check_actions(report: Report) -> None:
    """The actions of actions.jsonl are the rows of the HTML and Markdown tables, in order."""
    rows = report.page.tables.get("actions", [])
    assert [(r[3].split("undoes")[0].strip(), r[4], r[5]) for r in rows] == [
        (a["action"], a["target"], a["result"]) for a in report.actions
    ]
    md = report.md_tables.get(f"Response actions ({len(report.actions)})", [])
    assert [(r[3].split(" (undoes")[0].strip("`"), r[4], r[5]) for r in md] == [
        (a["action"], a["target"], a["result"]) for a in report.actions
    ]
