"""The incident report's files from Falco's own sample alerts (../shared/data), re-stamped over the window
each case needs: long windows get wider buckets and still one bar per (priority, bucket) with alerts;
long count tables end in an "N more" row that keeps the total; the timeline is cut with a note; an old
stream's report ends at its last alert; Markdown code spans and text survive hostile input.
The files are opened and checked with tests/cli/report_checks.py, as the journeys do."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from falcotui.falco.alerts import Alert, Priority, parse_json_alert
from falcotui.ops.alerts.report import ReportMeta, write_report
from falcotui.ops.alerts.report_data import TIMELINE_MAX, pick_bucket
from falcotui.ops.alerts.report_md import code, text
from falcotui.ops.alerts.store import AlertStore, StoredAlert
from tests.cli.report_checks import check_charts, check_counts, md_tables, open_report

NS = 1_000_000_000
NOW = 1_795_683_737 * NS  # 2026-11-26T09:02:17Z


@pytest.fixture
def samples(shared_data: Path) -> list[Alert]:
    lines = (shared_data / "falco_stdout_sample.log").read_text().splitlines()
    return [parse_json_alert(line) for line in lines if line.startswith("{")]


def _entries(
    samples: list[Alert], n: int, *, start_ns: int, step_ns: int, rules: int = 0
) -> list[StoredAlert]:
    """`n` alerts from the samples at `start + i * step`, on 3 nodes; `rules`: that many distinct rules."""
    store = AlertStore(capacity=max(n, 1))
    for i in range(n):
        a = samples[i % len(samples)]
        t = start_ns + i * step_ns
        rule = f"Rule {i % rules:03d}" if rules else a.rule
        fields = dict(a.output_fields, **{"evt.time": t})
        store.append(replace(a, time_ns=t, rule=rule, hostname=f"node-{i % 3}", output_fields=fields))
    return sorted(store, key=lambda e: (e.alert.time_ns, e.seq))


def _meta(since_ns: int | None, until_ns: int | None = None) -> ReportMeta:
    return ReportMeta("Incident", "samples", "", since_ns, until_ns)


def test_a_week_is_charted_per_hour(samples, tmp_path) -> None:
    since = NOW - 7 * 86400 * NS
    entries = _entries(samples, 3000, start_ns=since + 60 * NS, step_ns=200 * NS)
    result, data = write_report(entries, tmp_path / "r", _meta(since), now_ns=NOW)
    assert (data.bucket_s, data.bucket_label()) == (3600, "per hour")
    assert 168 <= data.bucket_count <= 169 and result.alerts == 3000
    report = open_report(tmp_path / "r")
    check_counts(report)
    check_charts(report, tmp_path / "r", bucket_s=3600)
    assert sum(sum(c) for _p, c in data.per_priority) == 3000


def test_long_tables_end_in_a_row_that_keeps_the_total(samples, tmp_path) -> None:
    entries = _entries(samples, 1200, start_ns=NOW - 3600 * NS, step_ns=NS, rules=60)
    write_report(entries, tmp_path / "r", _meta(NOW - 3600 * NS), now_ns=NOW)
    report = open_report(tmp_path / "r")
    rows = report.page.tables["by-rule"]
    assert len(rows) == 51 and rows[-1][0] == "10 more"
    assert sum(int(r[1].replace(",", "")) for r in rows) == 1200
    md = report.md_tables["By rule"]
    assert md[-1][0] == "*10 more*" and sum(int(r[1].replace(",", "")) for r in md) == 1200
    # the timeline: one row per rule and workload (rule k always fires on node k % 3 here)
    assert len(report.page.tables["timeline"]) == 60


def test_the_timeline_is_cut_and_says_so(samples, tmp_path) -> None:
    entries = _entries(samples, 2000, start_ns=NOW - 3000 * NS, step_ns=NS, rules=700)
    _result, data = write_report(entries, tmp_path / "r", _meta(NOW - 3600 * NS), now_ns=NOW)
    assert data.timeline_groups == 2000 and len(data.timeline) == TIMELINE_MAX
    report = open_report(tmp_path / "r")
    assert len(report.page.tables["timeline"]) == TIMELINE_MAX
    note = f"The first {TIMELINE_MAX} groups are shown; all 2,000 alerts are in the JSONL file."
    assert note in "".join(report.page.text) and note in report.markdown


def test_an_old_stream_without_a_window_ends_at_its_last_alert(samples, tmp_path) -> None:
    old = NOW - 400 * 86400 * NS  # what a JetStream stream may still hold
    entries = _entries(samples, 90, start_ns=old, step_ns=60 * NS)
    _result, data = write_report(entries, tmp_path / "r", _meta(None), now_ns=NOW)
    assert data.start_ns == old and data.end_ns == old + 89 * 60 * NS
    assert data.bucket_s == 60 and data.bucket_count == 90
    check_charts(open_report(tmp_path / "r"), tmp_path / "r")


def test_no_alerts_is_a_report_too(tmp_path) -> None:
    result, data = write_report([], tmp_path / "r", _meta(NOW - 600 * NS), now_ns=NOW)
    assert result.alerts == 0 and data.by_priority == () and data.bucket_count == 11  # NOW is at :17
    report = open_report(tmp_path / "r")
    assert report.alerts == [] and "0 of 11 buckets have alerts" in "".join(report.page.summaries)
    check_charts(report, tmp_path / "r")


def test_buckets_grow_with_the_window_and_stay_few() -> None:
    start = 1_700_000_123 * NS
    for span_s, width in (
        (60, 60),
        (4 * 3600, 60),
        (86400, 600),
        (7 * 86400, 3600),
        (3 * 365 * 86400, 6 * 86400),
    ):
        w, first, n = pick_bucket(start, start + span_s * NS)
        assert w == width and first % (w * NS) == 0 and first <= start and n <= 241


@pytest.mark.parametrize(
    "value",
    [
        "a|b",
        "a\\|b",
        "`x`",
        "``",
        "` lead",
        "tail `",
        "<script>alert(1)</script>",
        "**b** _i_ [l](u) ![i](u)",
    ],
)
def test_markdown_code_spans_read_back_as_the_value(value: str) -> None:
    table = f"### T\n\n| v | n |\n| --- | ---: |\n| {code(value)} | 1 |\n"
    ((cell, n),) = md_tables(table)["T"]
    assert n == "1"
    assert cell.replace("\\\\", "\\") == value if "\\|" in value else cell == value


def test_markdown_text_escapes_every_control_character() -> None:
    assert text("*a* <b> & [c](d) `e` #f |g") == "\\*a\\* &lt;b&gt; &amp; \\[c\\]\\(d\\) \\`e\\` \\#f \\|g"
    assert Priority.CRITICAL.label == "Critical"  # the priority column is ours, written as is


async def test_the_engine_reports_its_view_and_says_what_its_store_dropped(samples, tmp_path) -> None:
    """`ViewService.report` (what `e` `r` calls over the engine link): the view's alerts, filter and window;
    a store that evicted older alerts says so at the report's top."""
    from falcotui.ops.alerts.query import parse_query
    from falcotui.ops.alerts.view_service import ViewService, in_process_call

    store = AlertStore(capacity=100, clock=lambda: NOW)
    for e in _entries(samples, 150, start_ns=NOW - 600 * NS, step_ns=NS):
        store.append(e.alert)
    service = ViewService(store, clock=lambda: NOW)
    view_id = service.open(parse_query("priority>=warning"))
    call = in_process_call({"views": service})
    result = await call("views", "report", view_id, str(tmp_path), _meta(None), str(tmp_path / "none.jsonl"))
    folder = Path(result.directory)
    assert folder.parent == tmp_path and folder.name.startswith("falcotui-report-")
    report = open_report(folder)
    view = service._get(view_id).view
    assert [a["rule"] for a in report.alerts] == [e.alert.rule for e in view]
    assert result.alerts == len(view) > 0
    check_counts(report)
    assert "priority>=warning" in "".join(report.page.text)
    assert "the engine keeps the newest 100 alerts: 50 older ones were dropped" in "".join(report.page.text)
