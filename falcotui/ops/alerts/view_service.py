"""The engine side of the alert views: `ViewService` keeps the UI's `FilteredView`s by id and answers each
tick with what the UI shows — a window of rows, the change, the counts — never the whole view.

The UI process holds a `RemoteView` (ui/remote_view.py) per list; it sends a `ViewRequest` (the window of
row indexes it wants, hold/release, whether it follows the newest) and gets a `ViewReply` whose size
follows the window, not the store: 100k stored alerts and a 45-row list cost the same as 100. Rows the UI
already holds (`have`) are named by sequence number only. Everything crosses a process boundary pickled:
requests and replies are plain frozen dataclasses of ints, strings, tuples and `StoredAlert`s.
"""

from __future__ import annotations

import asyncio
import inspect
import pickle
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from falcotui.falco.alerts import Priority
from falcotui.falco.sidekick import CLUSTER_FIELD
from falcotui.ops.alerts.query import EMPTY_QUERY, AlertQuery
from falcotui.ops.alerts.report import ReportMeta, ReportResult
from falcotui.ops.alerts.store import POD_FIELD, AlertStore, StoredAlert, alert_field
from falcotui.ops.alerts.view import FilteredView, RuleGroup, ViewChange, export_jsonl, export_path

MEASURE_AT_MOST = 500  # newest alerts measured per update for column widths (a storm need not be measured)
MAX_WINDOW = 2000  # rows per reply at most, whatever a client asks
MAX_VIEWS = 32  # views kept at most; the least recently synced goes first (a client that forgot to close)


def entry_where(entry: StoredAlert) -> str:
    """`namespace/pod` of the workload an alert is about (the list's NAMESPACE/POD column)."""
    ns, pod = entry.namespace, alert_field(entry.alert, POD_FIELD)
    return f"{ns}/{pod}" if ns and pod else (ns or "")


CLUSTERS_NAMED_AT_MOST = 8  # distinct clusters a measure names (two are enough to show the column)


def content_widths(entries: list[StoredAlert]) -> dict[str, int]:
    """Characters the list's content columns need for `entries`: rule, node, pod (namespace/pod), and
    `priorities`, a bit mask of the priorities seen (the UI decides how wide each one's label is); and
    `cluster=NAME` for each cluster seen (the alert's `cluster` field: the NATS source sets it), its length:
    the list shows a CLUSTER column once two are known."""
    rule = node = pod = mask = 0
    clusters: dict[str, int] = {}
    for e in entries:
        a = e.alert
        rule = max(rule, len(a.rule))
        node = max(node, len(e.node))
        pod = max(pod, len(entry_where(e)))
        mask |= 1 << a.priority
        if (c := a.output_fields.get(CLUSTER_FIELD)) is not None and len(clusters) < CLUSTERS_NAMED_AT_MOST:
            name = c if type(c) is str else str(c)
            clusters[f"cluster={name}"] = len(name)
    return {"rule": rule, "node": node, "pod": pod, "priorities": mask, **clusters}


@dataclass(frozen=True, slots=True)
class ViewRequest:
    """One sync: catch up with the store (`update`) and send rows [start, stop) of the result.

    `follow`: the window is the last `stop - start` rows after the update. Otherwise `start`/`stop` are
    indexes as the client knew them; rows the update dropped from the front shift them down, as they shift
    the client's scroll position. `hold`: hold the view at this sequence number (a snapshot; -1: at what
    the view has seen), `release`: let the held alerts in. `groups`: send the per-rule and per-node counts
    (with `top`, only the `top` largest of each, and how many rules and nodes there are in all);
    `rule_groups`: the rule groups (one pass over the view: only while that list is shown)."""

    start: int = 0
    stop: int = 0
    follow: bool = False
    update: bool = True
    have: tuple[int, ...] = ()
    hold: int | None = None
    release: bool = False
    groups: bool = False
    top: int = 0
    rule_groups: bool = False


@dataclass(frozen=True, slots=True)
class ViewReply:
    """The view after a sync: its length, the window's rows (`seqs` all of them from index `start`; `rows`
    only those the client did not name in `have`), the change, counts, the hold state, and the column widths
    the newest changed rows need (`widths`, see `content_widths`)."""

    generation: int
    length: int
    start: int
    seqs: tuple[int, ...]
    rows: tuple[StoredAlert, ...]
    change: ViewChange
    by_priority: dict[Priority, int]
    held: int
    hold_at: int | None
    seen_seq: int
    widths: dict[str, int] = field(default_factory=dict)
    by_rule: tuple[tuple[str, int], ...] | None = None
    by_node: tuple[tuple[str, int], ...] | None = None
    rules: int = 0  # with `groups`: how many rules and nodes have counts (by_rule/by_node may be the top)
    nodes: int = 0
    rule_groups: tuple[RuleGroup, ...] | None = None


@dataclass(frozen=True, slots=True)
class ExportResult:
    """An export written by the engine: how many alerts, where."""

    count: int
    path: str


class _Open:
    __slots__ = ("generation", "synced", "view")

    def __init__(self, view: FilteredView) -> None:
        self.view = view
        self.generation = 0  # updates so far: a reply of an older generation is stale
        self.synced = False  # the first update reports the whole view as fresh (for widths)


class ViewService:
    """Filtered views over one store, by id, for clients in another process (see the module docstring)."""

    def __init__(self, store: AlertStore, *, clock: Callable[[], int] = time.time_ns) -> None:
        self.store = store
        self._clock = clock
        self._views: dict[int, _Open] = {}
        self._next_id = 1

    def open(self, query: AlertQuery = EMPTY_QUERY, hold_at: int | None = None) -> int:
        """A new view of the alerts matching `query` (held at `hold_at` if given); returns its id."""
        while len(self._views) >= MAX_VIEWS:
            del self._views[next(iter(self._views))]
        view_id = self._next_id
        self._next_id += 1
        self._views[view_id] = _Open(FilteredView(self.store, query, hold_at=hold_at, clock=self._clock))
        return view_id

    def close(self, view_id: int) -> None:
        """Forget a view (its list was closed or re-filtered); unknown ids are ignored."""
        self._views.pop(view_id, None)

    def __len__(self) -> int:
        return len(self._views)

    def _get(self, view_id: int) -> _Open:
        found = self._views.pop(view_id, None)
        if found is None:
            raise KeyError(f"no alert view {view_id} (closed, or dropped after {MAX_VIEWS} were open)")
        self._views[view_id] = found  # most recently used last
        return found

    def sync(self, view_id: int, request: ViewRequest) -> ViewReply:
        """Apply `request` to the view and answer with its window; O(window) plus the update's own work."""
        opened = self._get(view_id)
        view = opened.view
        if request.release:
            view.release()
        if request.hold is not None:
            view.hold(None if request.hold < 0 else request.hold)
        change = ViewChange()
        fresh = 0
        if request.update:
            change = view.update()
            opened.generation += 1
            n = len(view)
            if not opened.synced or change.rebuilt:
                fresh = n
            else:
                fresh = min(change.added, n)
            opened.synced = True
        n = len(view)
        want = max(0, min(MAX_WINDOW, request.stop - request.start))
        if request.follow:
            start = max(0, n - want)
        else:
            # the list scrolls up by what dropped from the front (rebuilt or not: AlertList.view_changed)
            start = max(0, min(request.start - change.dropped, n - want))
        window = view.slice(start, start + want)
        have = set(request.have)
        widths = content_widths(view.slice(n - min(fresh, MEASURE_AT_MOST), n)) if fresh else {}
        return ViewReply(
            generation=opened.generation,
            length=n,
            start=start,
            seqs=tuple(e.seq for e in window),
            rows=tuple(e for e in window if e.seq not in have),
            change=change,
            by_priority=view.by_priority,
            held=view.held,
            hold_at=view.hold_at,
            seen_seq=view.seen_seq,
            widths=widths,
            by_rule=tuple(view.group_by_rule(request.top)) if request.groups else None,
            by_node=tuple(view.group_by_node(request.top)) if request.groups else None,
            rules=len(view.by_rule),
            nodes=len(view.by_node),
            rule_groups=tuple(view.rule_groups()) if request.rule_groups else None,
        )

    def export(self, view_id: int, dest: str | None = None, directory: str | None = None) -> ExportResult:
        """Write every alert of the view as JSON lines (see `export_jsonl`), as the view stands (no
        update): to `dest`, else to a new file in `directory` (default: the user's export directory)."""
        view = self._get(view_id).view
        path = Path(dest) if dest is not None else export_path(Path(directory) if directory else None)
        count = export_jsonl(view, path)
        return ExportResult(count, str(path))

    async def report(
        self, view_id: int, directory: str | None, meta: ReportMeta, action_log: str | None = None
    ) -> ReportResult:
        """An incident report of the view as it stands (ops/report.py) in a new folder of `directory`
        (default: the user's export directory): its filter and window are the view's, its actions those
        of `action_log` (default: the user's). The alerts are taken here, at once; the files are written
        and the charts drawn on a thread, so the engine goes on storing alerts meanwhile."""
        from falcotui.ops.alerts.action_log import ActionLog
        from falcotui.ops.alerts.report import report_dir, write_report
        from falcotui.ops.alerts.view import default_export_dir

        view = self._get(view_id).view
        entries = list(view)
        now = self._clock()
        since_ns, until_ns = view.query.time_bounds(now)
        notes = list(meta.notes)
        store = self.store
        if store.evicted and (since_ns is None or (entries and entries[0].alert.time_ns > since_ns)):
            notes.append(
                f"the engine keeps the newest {store.capacity:,} alerts: {store.evicted:,} older ones were "
                "dropped before this report and may belong to its window (falcotui report reads the logs)"
            )
        meta = replace(
            meta, filter_text=view.query.to_text(), since_ns=since_ns, until_ns=until_ns, notes=tuple(notes)
        )
        folder = report_dir(Path(directory) if directory else default_export_dir())
        records = ActionLog(Path(action_log) if action_log else None).records()
        result, _data = await asyncio.to_thread(write_report, entries, folder, meta, records, now_ns=now)
        return result

    def alert(self, seq: int) -> StoredAlert | None:
        """The stored alert with sequence number `seq` (the detail of a row), None once evicted."""
        return self.store.by_seq(seq)


def in_process_call(targets: dict[str, Any]) -> Callable[..., Awaitable[Any]]:
    """`call(target, method, *args)` for an engine in this process: arguments and result go through pickle
    as they would over the engine link, so neither side ever holds the other's objects."""

    async def call(target: str, method: str, *args: Any) -> Any:
        sent = pickle.loads(pickle.dumps(args, protocol=pickle.HIGHEST_PROTOCOL))
        result = getattr(targets[target], method)(*sent)
        if inspect.isawaitable(result):  # as the link's server does: a coroutine's result is the answer
            result = await result
        return pickle.loads(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))

    return call
