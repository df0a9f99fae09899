"""The incident report's charts as SVG, drawn by matplotlib's SVG backend: alerts per time bucket stacked by
priority (one bar per priority and bucket that has alerts), and the busiest rules as lines (one point per
bucket).

matplotlib is imported here, inside the functions, and only this module imports it: it costs ~0.3-0.5 s and
nothing but a report needs it, so the TUI and every other command start without it. The figures are
built with the object API (`Figure` + `FigureCanvasSVG`, no pyplot): no global state, safe in a thread.

Each bar and line carries an SVG id (matplotlib writes an artist's gid as its group's id) so a reader, and
the tests, can find them: `prio-bar-<Priority>-<bucket>` and `rule-line-<rank>`. Text is kept as SVG text
(`svg.fonttype: none`), XML-escaped by matplotlib; everything from an alert is sanitized before it gets
there (no control characters: they are not allowed in XML) and math text parsing is off (a rule named
`$x$` stays literal). Output is reproducible and names nothing outside: fixed hash salt, no metadata
block (date, creator, RDF).
"""

from __future__ import annotations

import io
import threading
from datetime import UTC, datetime

from falcotui.falco.alerts import Priority
from falcotui.falco.sanitize import sanitize
from falcotui.ops.alerts.report_data import ReportData

_NS = 1_000_000_000
#: Print-friendly colours, most severe darkest.
PRIORITY_COLORS = {
    Priority.EMERGENCY: "#67000d",
    Priority.ALERT: "#a50f15",
    Priority.CRITICAL: "#d7301f",
    Priority.ERROR: "#f16913",
    Priority.WARNING: "#fdae6b",
    Priority.NOTICE: "#4292c6",
    Priority.INFORMATIONAL: "#9ecae1",
    Priority.DEBUG: "#bdbdbd",
}
LABEL_CHARS = 60  # a rule name in a legend
#: `rc_context` sets matplotlib's global rcParams: two reports drawn at once on two threads (the engine
#: writes reports on a thread) would see each other's settings, so charts are drawn one at a time.
_DRAWING = threading.Lock()


def _rc() -> dict:
    return {
        "svg.fonttype": "none",  # text as <text>, not glyph paths: smaller, selectable, printable
        "text.parse_math": False,
        "font.size": 9,
        "font.family": "sans-serif",
        "axes.spines.top": False,
        "axes.spines.right": False,
    }


def _times(data: ReportData) -> list[datetime]:
    step = data.bucket_s * _NS
    return [
        datetime.fromtimestamp((data.bucket_start_ns + i * step) / _NS, tz=UTC)
        for i in range(data.bucket_count)
    ]


def _figure(data: ReportData, title: str):  # type: ignore[no-untyped-def]
    from matplotlib import dates
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9.0, 3.4), layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(title, loc="left", fontsize=10)
    ax.set_ylabel(f"alerts {data.bucket_label()}")
    locator = dates.AutoDateLocator(tz=UTC)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(dates.ConciseDateFormatter(locator, tz=UTC))
    ax.set_xlabel("time (UTC)")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    return fig, ax


def _svg(fig, salt: str) -> str:  # type: ignore[no-untyped-def]
    import matplotlib
    from matplotlib.backends.backend_svg import FigureCanvasSVG

    FigureCanvasSVG(fig)
    out = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": salt}):
        fig.savefig(out, format="svg", metadata=dict.fromkeys(("Date", "Format", "Type", "Creator")))
    return out.getvalue()


def priority_chart(data: ReportData) -> str:
    """Alerts per bucket, stacked by priority (most severe at the bottom): an SVG document."""
    import matplotlib

    with _DRAWING, matplotlib.rc_context(_rc()):
        fig, ax = _figure(data, f"Alerts {data.bucket_label()} by priority")
        times = _times(data)
        width = data.bucket_s / 86400  # matplotlib's dates are days
        bottom = [0] * data.bucket_count
        for priority, counts in data.per_priority:
            idx = [i for i, c in enumerate(counts) if c]
            bars = ax.bar(
                [times[i] for i in idx],
                [counts[i] for i in idx],
                width=width * 0.9,
                bottom=[bottom[i] for i in idx],
                align="edge",
                color=PRIORITY_COLORS[priority],
                label=priority.label,
                linewidth=0,
            )
            for i, rect in zip(idx, bars.patches, strict=True):
                rect.set_gid(f"prio-bar-{priority.label}-{i}")
                bottom[i] += counts[i]
        _frame(ax, data, times)
        if data.per_priority:
            ax.legend(loc="upper left", fontsize=8, frameon=False, ncols=min(4, len(data.per_priority)))
        return _svg(fig, "falcotui-report-priority")


def rules_chart(data: ReportData) -> str:
    """The busiest rules' alerts per bucket, one line each with a point per bucket: an SVG document."""
    import matplotlib

    with _DRAWING, matplotlib.rc_context(_rc()):
        fig, ax = _figure(data, f"Alerts {data.bucket_label()}: the {len(data.per_rule)} busiest rules")
        times = _times(data)
        half = (data.bucket_s / 86400) / 2
        centers = [matplotlib.dates.date2num(t) + half for t in times]
        for rank, (rule, counts) in enumerate(data.per_rule):
            ax.plot(
                centers,
                counts,
                marker="o",
                markersize=2.5,
                linewidth=1.2,
                label=sanitize(rule, max_len=LABEL_CHARS),
                gid=f"rule-line-{rank}",
            )
        _frame(ax, data, times)
        if data.per_rule:  # below the plot: rule names are long and would hide the lines
            fig.legend(loc="outside lower center", fontsize=8, frameon=False, ncols=2)
        return _svg(fig, "falcotui-report-rules")


def _frame(ax, data: ReportData, times: list[datetime]) -> None:  # type: ignore[no-untyped-def]
    from matplotlib import dates

    end = dates.date2num(times[-1]) + data.bucket_s / 86400
    ax.set_xlim(dates.date2num(times[0]), end)
    ax.set_ylim(bottom=0)
    top = ax.get_ylim()[1]
    ax.set_ylim(0, max(1.0, top * 1.25))  # room for the legend above the bars


def inline_svg(document: str) -> str:
    """An SVG document as an element to put in HTML: the XML declaration and DOCTYPE dropped."""
    start = document.find("<svg")
    return document[start:] if start >= 0 else document
