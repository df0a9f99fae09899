"""How one row of the alert list looks: the columns and their widths for a list's width (`list_columns`,
sized to what the alerts seen need: `grow_need`), and an alert's cells and line, every string sanitized.
`AlertList` (alert_list.py) draws these rows.
"""

from __future__ import annotations

import time

from rich.text import Text

from falcotui.falco.alerts import Priority
from falcotui.falco.sanitize import sanitize
from falcotui.falco.sidekick import CLUSTER_FIELD
from falcotui.ops.alerts.store import StoredAlert
from falcotui.ops.alerts.view_service import entry_where
from falcotui.ui.widgets.common import priority_style

#: (name, title) in display order; widths come from `list_columns`.
LIST_COLUMNS = (
    ("time", "TIME"),
    ("priority", "PRIORITY"),
    ("cluster", "CLUSTER"),
    ("rule", "RULE"),
    ("node", "NODE"),
    ("pod", "NAMESPACE/POD"),
    ("output", "OUTPUT"),
)
#: Width bounds of the columns that size to their content: (narrowest useful, widest worth having).
BOUNDS = {"cluster": (7, 20), "rule": (18, 40), "node": (12, 28), "pod": (14, 40)}
#: Before anything is measured (an empty list): typical Falco rule, EKS-style node, namespace/pod.
DEFAULT_NEED = {"priority": 8, "rule": 30, "node": 12, "pod": 20}
OUTPUT_MIN = 24  # OUTPUT never gets less (it is what says what happened)
OUTPUT_SHARE = 0.3  # the content columns shrink, then drop, before OUTPUT falls under this share
FULL_TIME_AT = 110  # narrower lists show the time without milliseconds
_SHORT_LABEL = {"Informational": "Info"}


def priority_label(priority: Priority) -> str:
    """The priority as the list shows it (`Info` for Informational, like Falco's own rules files)."""
    return _SHORT_LABEL.get(priority.label, priority.label)


def list_columns(
    width: int, need: dict[str, int] | None = None, *, hide: tuple[str, ...] = ()
) -> list[tuple[str, int]]:
    """Columns (name, width) filling `width`, one space between them.

    TIME and PRIORITY are fixed; RULE, NODE and NAMESPACE/POD take what their content `need`s within
    `BOUNDS`; OUTPUT takes all the rest. When OUTPUT would get less than `OUTPUT_SHARE` of the row (or
    `OUTPUT_MIN`), the widest content column gives way first, down to its lower bound; when that is not
    enough NODE is dropped, then NAMESPACE/POD: which workload it was matters more in an incident than
    which node's Falco saw it (the node is in the detail, and `node:` filters). `hide` leaves columns out
    (NODE in one node's list)."""
    need = {**DEFAULT_NEED, **(need or {})}
    fixed = [("time", 12 if width >= FULL_TIME_AT else 8), ("priority", max(8, need["priority"]))]
    target = max(OUTPUT_MIN, int(width * OUTPUT_SHARE))
    clusters = [w for k, w in need.items() if k.startswith("cluster=")]
    if len(clusters) > 1:  # alerts from more than one cluster: say which (content_widths names them)
        need["cluster"] = max(clusters)
    names = [n for n in ("cluster", "rule", "node", "pod") if n not in hide and n in need]
    used_fixed = sum(w + 1 for _, w in fixed)
    for drop in ("node", "pod", "cluster", None):
        at_least = used_fixed + sum(BOUNDS[n][0] + 1 for n in names)
        if width - at_least >= target or drop is None:
            break
        if drop in names:
            names.remove(drop)
    widths = {n: max(BOUNDS[n][0], min(BOUNDS[n][1], need[n])) for n in names}
    over = used_fixed + sum(w + 1 for w in widths.values()) + target - width
    while over > 0:
        slack = {n: w - BOUNDS[n][0] for n, w in widths.items() if w > BOUNDS[n][0]}
        if not slack:
            break
        widest = max(slack, key=lambda n: (slack[n], n != "rule"))  # on a tie RULE keeps its room
        cut = min(over, max(1, slack[widest] - max((v for k, v in slack.items() if k != widest), default=0)))
        widths[widest] -= cut
        over -= cut
    out = fixed + [(n, widths[n]) for n in names]
    rest = width - sum(w + 1 for _, w in out)
    out.append(("output", max(rest, 1)))
    return out


def grow_need(need: dict[str, int], widths: dict[str, int]) -> dict[str, int]:
    """`need` grown by the engine's measure of new rows (`content_widths`: lengths and a priority mask)."""
    if not widths:
        return need
    grown = dict(need)
    mask = widths.get("priorities", 0)
    prio = max((len(priority_label(p)) for p in Priority if mask & (1 << p)), default=0)
    for name, value in (*((n, widths[n]) for n in ("rule", "node", "pod")), ("priority", prio)):
        if value > grown.get(name, 0):
            grown[name] = value
    for name, value in widths.items():
        if name.startswith("cluster=") and value > grown.get(name, -1):
            grown[name] = value
    return grown


def _clock(ns: int, *, millis: bool = True) -> str:
    seconds, frac = divmod(ns, 1_000_000_000)
    clock = time.strftime("%H:%M:%S", time.localtime(seconds))
    return f"{clock}.{frac // 1_000_000:03d}" if millis else clock


def alert_cells(entry: StoredAlert, *, millis: bool = True) -> dict[str, tuple[str, str]]:
    """(text, style) per column for one alert; every string is sanitized (one line, no controls)."""
    a = entry.alert
    return {
        "time": (_clock(a.time_ns, millis=millis), "dim"),
        "priority": (priority_label(a.priority), priority_style(a.priority)),
        "cluster": (sanitize(str(a.output_fields.get(CLUSTER_FIELD) or "-"), max_len=100), "magenta"),
        "rule": (sanitize(a.rule, max_len=200), "bold"),
        "node": (sanitize(entry.node, max_len=100), "cyan"),
        "pod": (sanitize(entry_where(entry), max_len=200), ""),
        "output": (sanitize(a.message, max_len=1000), ""),
    }


def alert_line(entry: StoredAlert, columns: list[tuple[str, int]]) -> Text:
    """One list row: each column cut to its width, separated by one space."""
    values = alert_cells(entry, millis=dict(columns).get("time", 12) >= 12)
    line = Text(no_wrap=True, overflow="crop")
    for i, (name, width) in enumerate(columns):
        text, style = values[name]
        if len(text) > width:
            text = text[: max(0, width - 1)] + "…"
        line.append(text.ljust(width) if i < len(columns) - 1 else text, style)
        if i < len(columns) - 1:
            line.append(" ")
    return line
