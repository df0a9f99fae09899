"""The incident report's content, computed in one pass over the alerts it covers: counts by priority, rule,
node and namespace, alerts per time bucket (per priority and for the busiest rules), a condensed timeline,
and the response actions taken in the window.

`summarize()` reads the same sequence of alerts that goes into the report's JSONL, so every figure in the
HTML and Markdown adds up to exactly that file's lines. `ReportData` is a plain frozen dataclass (it may
cross the engine link pickled) holding raw values; escaping for each output format is the renderers' job.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from falcotui.falco.alerts import Priority
from falcotui.falco.sanitize import sanitize
from falcotui.ops.alerts.action_log import ActionRecord
from falcotui.ops.alerts.store import POD_FIELD, StoredAlert, alert_field

_NS = 1_000_000_000
#: Bucket widths the charts may use, smallest first: one minute unless the window needs more than
#: `MAX_BUCKETS` of them (a 2 h window: 120 one-minute bars; a week: 168 one-hour bars).
BUCKET_CHOICES_S = (60, 120, 300, 600, 900, 1800, 3600, 2 * 3600, 6 * 3600, 12 * 3600, 86400)
MAX_BUCKETS = 240
TOP_RULE_SERIES = 5  # rules drawn as their own line in the per-rule chart
TIMELINE_MAX = 500  # timeline rows at most (all alerts are in the JSONL whatever this cuts)
SAMPLE_CHARS = 400  # characters of an alert's output kept as a timeline row's sample
NO_NAMESPACE = ""  # an alert without k8s.ns.name (host events, no Kubernetes metadata)


@dataclass(frozen=True, slots=True)
class TimelineRow:
    """Alerts of one rule about one workload (node, namespace, pod): when it started and last fired, how
    often, the worst priority, and the first alert's output as a sample."""

    first_ns: int
    last_ns: int
    count: int
    priority: Priority
    rule: str
    node: str
    namespace: str
    pod: str
    sample: str


@dataclass(frozen=True, slots=True)
class ReportData:
    """Everything a report shows (see the module docstring). Times are ns since the epoch, UTC."""

    title: str
    source: str  # where the alerts came from: "cluster context X (pod logs)", "nats://…", "the TUI's engine"
    filter_text: str  # the filter in the filter language ("" = every alert)
    generated_ns: int
    start_ns: int  # the window the report covers
    end_ns: int
    total: int
    first_ns: int | None
    last_ns: int | None
    by_priority: tuple[tuple[Priority, int], ...]  # most severe first, zero counts left out
    by_rule: tuple[tuple[str, int], ...]  # most first, then by name
    by_node: tuple[tuple[str, int], ...]
    by_namespace: tuple[tuple[str, int], ...]  # NO_NAMESPACE for alerts without one
    bucket_s: int
    bucket_start_ns: int  # the first bucket's start (aligned to `bucket_s` in UTC)
    bucket_count: int
    per_priority: tuple[tuple[Priority, tuple[int, ...]], ...]  # per bucket, each priority present
    per_rule: tuple[tuple[str, tuple[int, ...]], ...]  # per bucket, the TOP_RULE_SERIES busiest rules
    timeline: tuple[TimelineRow, ...]
    timeline_groups: int  # rows before TIMELINE_MAX cut the timeline
    actions: tuple[ActionRecord, ...]
    notes: tuple[str, ...] = field(default=())  # what makes the report incomplete, said plainly

    def bucket_label(self) -> str:
        """`per minute`, `per 5 minutes`, `per hour`."""
        return per_label(self.bucket_s)


def per_label(seconds: int) -> str:
    if seconds % 86400 == 0:
        n, unit = seconds // 86400, "day"
    elif seconds % 3600 == 0:
        n, unit = seconds // 3600, "hour"
    else:
        n, unit = seconds // 60, "minute"
    return f"per {unit}" if n == 1 else f"per {n} {unit}s"


def pick_bucket(start_ns: int, end_ns: int) -> tuple[int, int, int]:
    """(bucket seconds, first bucket's start, bucket count) for a window: the smallest width of
    `BUCKET_CHOICES_S` of which the window spans at most `MAX_BUCKETS` (past those, whole days enough),
    aligned to that width in UTC (so one more bucket may be needed where the window starts mid-way)."""
    days = -(-max(1, end_ns - start_ns) // (MAX_BUCKETS * 86400 * _NS))
    for width in (*BUCKET_CHOICES_S, (days + 1) * 86400):
        w = width * _NS
        first = start_ns - start_ns % w
        count = max(1, -(-(end_ns - first) // w))  # an alert at the very end counts in the last one
        if end_ns - start_ns <= MAX_BUCKETS * w:
            return width, first, count
    raise AssertionError("unreachable: (days + 1) days a bucket always fit")


def actions_in_window(
    records: Iterable[ActionRecord], start_ns: int, end_ns: int, context: str | None = None
) -> tuple[tuple[ActionRecord, ...], int]:
    """The response actions recorded in [start, end] (and on `context` when given), oldest first; and how
    many others the window holds on other contexts (said in the report, not listed)."""
    from falcotui.falco.alerts import parse_iso8601_ns

    kept: list[ActionRecord] = []
    elsewhere = 0
    for record in records:
        try:
            at = parse_iso8601_ns(record.at)
        except ValueError:
            continue
        if not start_ns <= at <= end_ns:
            continue
        if context and record.context and record.context != context:
            elsewhere += 1
            continue
        kept.append(record)
    kept.sort(key=lambda r: r.at)
    return tuple(kept), elsewhere


def summarize(
    entries: Iterable[StoredAlert],
    *,
    title: str,
    source: str,
    filter_text: str,
    since_ns: int | None,
    until_ns: int | None,
    actions: Iterable[ActionRecord] = (),
    context: str | None = None,
    notes: Iterable[str] = (),
    now_ns: int | None = None,
) -> ReportData:
    """The report of `entries` (the alerts the JSONL holds, in its order). The window is [since, until]
    as asked. Open ends: from the first alert; to now when a start was asked (the window runs up to the
    report), else to the last alert (all the source holds, which may have ended long ago)."""
    generated = time.time_ns() if now_ns is None else now_ns
    alerts = list(entries)
    by_priority = [0] * len(Priority)
    by_rule: dict[str, int] = {}
    by_node: dict[str, int] = {}
    by_ns: dict[str, int] = {}
    groups: dict[tuple[str, str, str, str], list] = {}
    first = last = None
    for entry in alerts:
        a = entry.alert
        t = a.time_ns
        first = t if first is None or t < first else first
        last = t if last is None or t > last else last
        by_priority[a.priority] += 1
        by_rule[a.rule] = by_rule.get(a.rule, 0) + 1
        node = entry.node
        by_node[node] = by_node.get(node, 0) + 1
        ns = entry.namespace or NO_NAMESPACE
        by_ns[ns] = by_ns.get(ns, 0) + 1
        key = (a.rule, node, ns, alert_field(a, POD_FIELD) or "")
        group = groups.get(key)
        if group is None:
            groups[key] = [t, t, 1, a.priority, a.message]
        else:
            if t < group[0]:
                group[0], group[4] = t, a.message
            group[1] = max(group[1], t)
            group[2] += 1
            group[3] = min(group[3], a.priority)
    start = since_ns if since_ns is not None else (first if first is not None else generated)
    if until_ns is not None:
        end = until_ns
    elif since_ns is not None or last is None:
        end = max(generated, last if last is not None else generated)
    else:
        end = last
    start = min(start, end)
    bucket_s, bucket_start, n = pick_bucket(start, end)
    width = bucket_s * _NS
    ranked_rules = _ranked(by_rule)
    top = {rule for rule, _n in ranked_rules[:TOP_RULE_SERIES]}
    prio_series = [[0] * n for _ in Priority]
    rule_series = {rule: [0] * n for rule in top}
    for entry in alerts:
        a = entry.alert
        i = min(n - 1, max(0, (a.time_ns - bucket_start) // width))
        prio_series[a.priority][i] += 1
        series = rule_series.get(a.rule)
        if series is not None:
            series[i] += 1
    rows = sorted(
        (
            TimelineRow(
                g[0], g[1], g[2], Priority(g[3]), k[0], k[1], k[2], k[3], sanitize(g[4], max_len=SAMPLE_CHARS)
            )
            for k, g in groups.items()
        ),
        key=lambda r: (r.first_ns, r.priority, r.rule, r.node, r.namespace, r.pod),
    )
    picked, elsewhere = actions_in_window(actions, start, end, context)
    all_notes = list(notes)
    if elsewhere:
        all_notes.append(f"{elsewhere} response action(s) in this window on other contexts are not listed")
    return ReportData(
        title=title,
        source=source,
        filter_text=filter_text,
        generated_ns=generated,
        start_ns=start,
        end_ns=end,
        total=len(alerts),
        first_ns=first,
        last_ns=last,
        by_priority=tuple((Priority(p), c) for p, c in enumerate(by_priority) if c),
        by_rule=tuple(ranked_rules),
        by_node=tuple(_ranked(by_node)),
        by_namespace=tuple(_ranked(by_ns)),
        bucket_s=bucket_s,
        bucket_start_ns=bucket_start,
        bucket_count=n,
        per_priority=tuple((Priority(p), tuple(s)) for p, s in enumerate(prio_series) if by_priority[p]),
        per_rule=tuple((rule, tuple(rule_series[rule])) for rule, _n in ranked_rules[:TOP_RULE_SERIES]),
        timeline=tuple(rows[:TIMELINE_MAX]),
        timeline_groups=len(rows),
        actions=picked,
        notes=tuple(all_notes),
    )


def _ranked(counter: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(counter.items(), key=lambda item: (-item[1], item[0]))
