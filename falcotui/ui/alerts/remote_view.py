"""`RemoteView`: the UI's handle on an alert view kept by the engine (`ViewService`, maybe in another
process) — the `FilteredView` interface the alert lists use, backed by a cache of the rows around what is
on screen.

Once per tick the screen awaits `update()`: one round trip that catches the engine's view up with the
store and brings back the length, the change (`ViewChange`, same meaning as `FilteredView.update()`), the
counts and the rows of the window the list shows (plus a page of margin each side). Between two updates the
view holds still, as a `FilteredView` does: `len`, `get(i)` and `slice` answer from the last reply.

`get(i)` of a row outside the cache returns None: the list draws a placeholder and the view fetches that
window at once (without updating, so indexes stay), then tells the list to repaint: a jump with End/Home
or PageDown paints real rows one round trip later. A row asked for away from what is on screen (the
cursor's, put there by a program) is fetched aside, beside the window, until the next update moves the
indexes: fetching it into the window would push out the rows on screen, and those back out the row.

`call(target, method, *args)` is the engine link's call (pickled both ways): `views.open/sync/close/export`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Protocol

from falcotui.falco.alerts import Priority
from falcotui.ops.alerts.query import EMPTY_QUERY, AlertQuery
from falcotui.ops.alerts.report import ReportMeta, ReportResult
from falcotui.ops.alerts.store import StoredAlert
from falcotui.ops.alerts.view import RuleGroup, ViewChange
from falcotui.ops.alerts.view_service import ExportResult, ViewReply, ViewRequest

Call = Callable[..., Awaitable[Any]]
TARGET = "views"
_closing: set[asyncio.Task[None]] = set()  # closes under way (a task needs a reference until done)
KEEP_WINDOWS = 3  # rows of the last few windows stay known, so a reply may name them by sequence number


class HasCall(Protocol):
    """What an engine handle offers the views: the link's `call`."""

    async def call(self, target: str, method: str, *args: Any) -> Any: ...


class RemoteView:
    """See the module docstring. Counts (`group_by_rule`, `group_by_node`, `rule_groups`) are the ones
    last asked for with `update(groups=True / rule_groups=True)`; `by_priority` comes with every update.
    `top`: the counts by rule and by node are only the `top` largest (0: all); `rules` and `nodes` say how
    many there are in all."""

    def __init__(self, call: Call, query: AlertQuery = EMPTY_QUERY, *, hold_at: int | None = None) -> None:
        self._call = call
        self.query = query
        self.hold_at = hold_at
        self.held = 0
        self.synced = False  # an update has answered (until then the view is empty)
        self.on_rows: Callable[[], None] | None = None  # the list repaints when fetched rows arrive
        self._id: int | None = None
        self._closed = False
        self._len = 0
        self._start = 0
        self._rows: list[StoredAlert | None] = []
        self._known: list[dict[int, StoredAlert]] = []
        self._generation = 0
        self._seen_seq = 0
        self._hold: int | None = None  # to send: hold at this seq (-1: at what the engine's view has seen)
        self._release = False
        self._by_priority: dict[Priority, int] = {}
        self._by_rule: list[tuple[str, int]] = []
        self._by_node: list[tuple[str, int]] = []
        self.top = 0
        self.rules = 0
        self.nodes = 0
        self._rule_groups: list[RuleGroup] = []
        self.widths: dict[str, int] = {}  # content widths of the newest changed rows (last update)
        self._visible = (0, 0)  # (top, height) the list shows
        self.follow = True
        self._fetch: asyncio.Task[None] | None = None
        self._missing: int | None = None  # a row asked for and not here
        self._aside: dict[int, StoredAlert] = {}  # rows fetched away from the window (index -> row)
        self._drew_placeholder = False  # a row was asked for and missing: repaint when rows come
        self.fetches = 0  # round trips made for rows that were not here
        self._opening: asyncio.Future[int] | None = None

    # ------------------------------------------------------------ link

    async def _view_id(self) -> int:
        if self._id is not None:
            return self._id
        if self._opening is None:  # one open, however many callers wait for it
            self._opening = asyncio.ensure_future(self._call(TARGET, "open", self.query, self.hold_at))
        self._id = await asyncio.shield(self._opening)
        return self._id

    def window(self) -> tuple[int, int]:
        """Rows [start, stop) worth having: what is visible and a page each side."""
        top, height = self._visible
        height = max(height, 1)
        return max(0, top - height), top + 2 * height

    def see(self, top: int, height: int) -> None:
        """The list shows rows [top, top + height) (it says so when it draws)."""
        self._visible = (top, height)

    async def update(
        self, *, groups: bool = False, rule_groups: bool = False, _again: bool = True
    ) -> ViewChange:
        """Catch up with the store (one round trip); what changed, as `FilteredView.update()` says it."""
        if self._closed:
            return ViewChange()
        view_id = await self._view_id()
        start, stop = self.window()
        if self.follow:
            start, stop = 0, 2 * max(self._visible[1], 1)  # the tail: the last page and one above
        request = ViewRequest(
            start=start,
            stop=stop,
            follow=self.follow,
            have=self._have(),
            hold=self._hold,
            release=self._release,
            groups=groups,
            top=self.top,
            rule_groups=rule_groups,
        )
        self._hold, self._release = None, False
        try:
            reply: ViewReply = await self._call(TARGET, "sync", view_id, request)
        except Exception as exc:
            if not (_again and _unknown_view(exc)):
                raise
            # the engine let this view go (too many open): open it again, held where it was held
            self._id = self._opening = None
            self.synced = False
            return await self.update(groups=groups, rule_groups=rule_groups, _again=False)
        first = not self.synced
        self._take(reply)
        self.synced = True
        self._len = reply.length
        self.held = reply.held
        if self._hold is None and not self._release:  # no newer hold/release is waiting to be sent
            self.hold_at = reply.hold_at
        self._seen_seq = reply.seen_seq
        self._by_priority = reply.by_priority
        self.widths = reply.widths
        if reply.by_rule is not None:
            self._by_rule = list(reply.by_rule)
        if reply.by_node is not None:
            self._by_node = list(reply.by_node)
            self.rules, self.nodes = reply.rules, reply.nodes
        if reply.rule_groups is not None:
            self._rule_groups = list(reply.rule_groups)
        if self._fetch is None:
            self._placeholders_filled()
        if first:
            return ViewChange(reply.length, 0, True)
        return reply.change

    def _have(self) -> tuple[int, ...]:
        return tuple(e.seq for e in self._rows if e is not None)

    def _take(self, reply: ViewReply) -> None:
        """Make the reply's window the cache (rows it named only by seq come from the ones kept)."""
        if reply.generation < self._generation:
            return  # a fetch overtaken by an update: its indexes are stale
        if reply.generation > self._generation:
            self._aside.clear()  # indexes moved
        self._generation = reply.generation
        fresh = {e.seq: e for e in reply.rows}
        self._known = [*self._known[-(KEEP_WINDOWS - 1) :], fresh] if KEEP_WINDOWS > 1 else [fresh]
        rows: list[StoredAlert | None] = []
        for seq in reply.seqs:
            found = None
            for known in reversed(self._known):
                found = known.get(seq)
                if found is not None:
                    break
            rows.append(found)
        for e in self._rows:  # rows carried over by seq stay findable too
            if e is not None:
                fresh.setdefault(e.seq, e)
        self._start, self._rows = reply.start, rows

    async def _fetch_window(self) -> None:
        """Bring the rows asked for and not here (no update: indexes stay), then tell the list to repaint."""
        try:
            while not self._closed and (target := self._target()) is not None:
                start, stop, aside = target
                view_id = await self._view_id()
                have = () if aside else self._have()
                request = ViewRequest(start=start, stop=stop, update=False, have=have)
                reply: ViewReply = await self._call(TARGET, "sync", view_id, request)
                self.fetches += 1
                if reply.generation < self._generation:
                    continue
                if aside:
                    if reply.generation == self._generation:
                        rows = {e.seq: e for e in reply.rows}
                        self._aside = {
                            reply.start + i: rows[q] for i, q in enumerate(reply.seqs) if q in rows
                        }
                    if self._missing is not None and self._missing not in self._aside:
                        self._missing = None  # not there (the next update says why): ask no more
                    continue
                self._take(reply)
                if not self._covers(start, min(stop, self._len)):
                    break  # the engine has fewer rows than the client thought: the next update says so
        finally:
            self._fetch = None
            self._placeholders_filled()

    def _placeholders_filled(self) -> None:
        """A placeholder was drawn and rows came since (fetched, or with an update): repaint."""
        if self._drew_placeholder and self.on_rows is not None:
            self._drew_placeholder = False
            self.on_rows()

    def _target(self) -> tuple[int, int, bool] | None:
        """(start, stop, aside) to fetch: the window around what is visible, else a page around a row asked
        for by index (the cursor's, for the detail pane) to keep aside; None when both are here."""
        if not self._covers(*self._visible_range()):
            return (*self.window(), False)
        missing = self._missing
        if (
            missing is not None
            and missing < self._len
            and not self._covers(missing, missing + 1)
            and missing not in self._aside
        ):
            height = max(self._visible[1], 1)
            return max(0, missing - height), missing + height, True
        self._missing = None
        return None

    def _visible_range(self) -> tuple[int, int]:
        top, height = self._visible
        return top, min(self._len, top + max(height, 1))

    def _covers(self, start: int, stop: int) -> bool:
        if stop <= start:
            return True
        first = start - self._start
        last = stop - self._start
        if first < 0 or last > len(self._rows):
            return False
        return all(e is not None for e in self._rows[first:last])

    def _want(self) -> None:
        if self._fetch is None and not self._closed:
            with contextlib.suppress(RuntimeError):  # no loop running (a test reading the view)
                self._fetch = asyncio.get_running_loop().create_task(self._fetch_window())

    async def close(self) -> None:
        """Forget the engine's view (the list was closed or re-filtered)."""
        self._closed = True
        if self._id is not None:
            await self._call(TARGET, "close", self._id)
        elif self._opening is not None:
            await self._call(TARGET, "close", await self._opening)

    def close_soon(self) -> None:
        """`close()` without waiting for it (a list replaced or unmounted); a link already gone is fine:
        the engine's views went with it."""
        if self._closed:
            return
        self._closed = True
        if self._id is None and self._opening is None:
            return
        try:
            task = asyncio.get_running_loop().create_task(self._close_quietly())
        except RuntimeError:  # no loop: the app is gone, and the engine with it
            return
        _closing.add(task)
        task.add_done_callback(_closing.discard)

    async def _close_quietly(self) -> None:
        with contextlib.suppress(Exception):
            view_id = self._id if self._id is not None else await self._opening  # type: ignore[misc]
            await self._call(TARGET, "close", view_id)

    async def rows(self, start: int, stop: int) -> list[StoredAlert]:
        """Rows [start, stop) as the view stands (no update, at most `MAX_WINDOW`), straight from the
        engine; the cache is left as it is."""
        request = ViewRequest(start=start, stop=stop, update=False)
        reply: ViewReply = await self._call(TARGET, "sync", await self._view_id(), request)
        skip = max(0, start - reply.start)  # the engine's window is clamped to its end
        return list(reply.rows[skip : skip + max(0, stop - start)])

    async def export(self, directory: str | None) -> ExportResult:
        """Every alert of the view as JSON lines, written by the engine (see `ViewService.export`)."""
        return await self._call(TARGET, "export", await self._view_id(), None, directory)

    async def report(self, directory: str | None, meta: ReportMeta, action_log: str | None) -> ReportResult:
        """An incident report of the view, written by the engine (see `ViewService.report`)."""
        return await self._call(TARGET, "report", await self._view_id(), directory, meta, action_log)

    # ------------------------------------------------------------ the FilteredView interface

    def __len__(self) -> int:
        return self._len

    def get(self, index: int) -> StoredAlert | None:
        """The row at `index` if it is here; else None, and that window is fetched at once."""
        if index < 0:
            index += self._len
        if not 0 <= index < self._len:
            raise IndexError(f"view index {index} out of range (view holds {self._len})")
        i = index - self._start
        entry = self._rows[i] if 0 <= i < len(self._rows) else self._aside.get(index)
        if entry is None:
            self._missing = index
            self._drew_placeholder = True
            self._want()
        return entry

    __getitem__ = get

    def slice(self, start: int, stop: int) -> list[StoredAlert]:
        """The rows at [start, stop) that are here (clamped to the cache)."""
        lo = max(start, self._start, 0) - self._start
        hi = min(stop, self._len, self._start + len(self._rows)) - self._start
        return [e for e in self._rows[lo:hi] if e is not None]

    def __iter__(self) -> Iterator[StoredAlert]:
        """Every row, when the cache holds them all (a short view); LookupError otherwise."""
        if not self._covers(0, self._len):
            raise LookupError(f"rows 0-{self._len} are not all here (only {self._start}+{len(self._rows)})")
        return iter(self.slice(0, self._len))

    def hold(self, seq: int | None = None) -> None:
        """Stop at `seq` (default: the last alert the view has looked at) from the next update on."""
        held = self._seen_seq if seq is None and self.synced else seq
        self.hold_at = held
        self._hold = -1 if held is None else held

    def release(self) -> None:
        """Let the alerts held back in at the next `update()`."""
        self.hold_at, self.held, self._hold, self._release = None, 0, None, True

    @property
    def by_priority(self) -> dict[Priority, int]:
        return self._by_priority

    def group_by_rule(self) -> list[tuple[str, int]]:
        return self._by_rule

    def group_by_node(self) -> list[tuple[str, int]]:
        return self._by_node

    def rule_groups(self) -> list[RuleGroup]:
        return self._rule_groups


def _unknown_view(exc: Exception) -> bool:
    """The engine does not know the view id (ViewService raises KeyError; over the link it comes back as
    a RemoteError naming KeyError)."""
    return isinstance(exc, KeyError) or getattr(exc, "type_name", "") == "KeyError"


def remote_view(
    engine: HasCall, query: AlertQuery = EMPTY_QUERY, *, hold_at: int | None = None, top: int = 0
) -> RemoteView:
    """A view of the engine's alerts matching `query` over its link (`engine.call`); `top`: see RemoteView."""
    view = RemoteView(engine.call, query, hold_at=hold_at)
    view.top = top
    return view
