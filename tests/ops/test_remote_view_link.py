"""`RemoteView` over the engine link (a real socket pair, pickled frames) against a store of 100k alerts:
the rows of any window, the counts and the hold state equal an in-process `FilteredView` of the same query,
through eviction while paused and alerts that arrive out of time order; export writes every matching
alert; hostile text comes back byte-for-byte."""

from __future__ import annotations

import dataclasses
import random
import socket

import orjson
import pytest

from falcotui.ops.alerts.query import parse_query
from falcotui.ops.alerts.store import AlertStore
from falcotui.ops.alerts.view import FilteredView
from falcotui.ops.alerts.view_service import ViewService
from falcotui.ops.engine_link import Link
from falcotui.ui.alerts.remote_view import RemoteView

CAPACITY = 100_000
HOSTILE = "\x1b]0;pwned\x07\x1b[2J[bold red]markup[/] :skull: \r\n\x00\x9b31m \u202e [link=http://x]y[/link]"
NODES = ("ip-10-0-1-23", "ip-10-0-1-57", "ip-10-0-1-80", "ip-10-0-2-11")


def _fill(store: AlertStore, mk, clock, count: int, *, seed: int) -> None:
    """`count` alerts from four nodes; each node's batch runs up to 5 s behind the others (out of order)."""
    rng = random.Random(seed)
    templates = [
        mk.log_alert(i, node=node, rule=rule, ns=ns)
        for i, (node, rule, ns) in enumerate(
            (n, r, s) for n in NODES for r in mk.RULES for s in ("shop", "payments", None)
        )
    ]
    for _ in range(count):
        clock.advance(0.001)
        t = templates[rng.randrange(len(templates))]
        store.append(dataclasses.replace(t, time_ns=clock.now - rng.randint(0, 5000) * 1_000_000))


class _Service:
    """Both ends of the link in this process, as the UI and the worker see it."""

    def __init__(self, store: AlertStore, clock) -> None:
        self.views = ViewService(store, clock=clock)
        self.ui: Link | None = None
        self.worker: Link | None = None

    async def __aenter__(self) -> _Service:
        a, b = socket.socketpair()
        host = {"views": self.views}
        self.ui = await Link.over(a, name="ui")
        self.worker = await Link.over(b, lambda t, m, args: getattr(host[t], m)(*args), name="worker")
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.ui and self.worker
        await self.ui.aclose()
        await self.worker.aclose()

    def view(self, text: str = "", **kw) -> RemoteView:
        assert self.ui
        view = RemoteView(self.ui.call, parse_query(text), **kw)
        view.see(0, 45)
        return view


def _seqs(rows) -> list[int]:
    return [e.seq for e in rows]


async def _shows(view: RemoteView, top: int, height: int = 45) -> list[int]:
    """The rows a list scrolled to `top` paints: placeholders first if they are not here, then real rows
    after one fetch (one round trip)."""
    view.follow = False
    view.see(top, height)
    missing = [i for i in range(top, min(top + height, len(view))) if view.get(i) is None]
    if missing:
        fetches = view.fetches
        assert view._fetch is not None
        await view._fetch
        assert view.fetches == fetches + 1
    rows = [view.get(i) for i in range(top, min(top + height, len(view)))]
    assert None not in rows
    return _seqs(rows)


@pytest.mark.parametrize("text", ["", "priority>=warning", "node:ip-10-0-1-57 ns:shop", "-rule:shell"])
async def test_windows_over_the_link_equal_the_local_view(mk, clock, text):
    store = AlertStore(CAPACITY, clock=clock)
    _fill(store, mk, clock, CAPACITY, seed=1)
    local = FilteredView(store, parse_query(text), clock=clock)
    async with _Service(store, clock) as service:
        remote = service.view(text)
        await remote.update(groups=True)
        assert len(remote) == len(local) > 0
        assert remote.by_priority == local.by_priority
        assert remote.group_by_rule() == local.group_by_rule()
        assert remote.group_by_node() == local.group_by_node()
        n = len(local)
        assert _seqs(remote.slice(n - 45, n)) == _seqs(local.slice(n - 45, n))  # following: the tail
        for top in (0, n // 3, n // 2 + 7, n - 45):  # Home, PageDown far, End
            assert await _shows(remote, top) == _seqs(local.slice(top, top + 45))
        # more alerts, some of them older than rows already shown (a late node): the same change
        _fill(store, mk, clock, 5000, seed=2)
        remote.follow = True
        change, remote_change = local.update(), await remote.update(rule_groups=True)
        assert remote_change == change and len(remote) == len(local)
        assert remote.rule_groups() == local.rule_groups()
        n = len(local)
        assert _seqs(remote.slice(n - 45, n)) == _seqs(local.slice(n - 45, n))
        await remote.close()
        assert len(service.views) == 0


async def test_hold_release_and_eviction_while_paused_over_the_link(mk, clock):
    store = AlertStore(CAPACITY, clock=clock)
    _fill(store, mk, clock, CAPACITY, seed=3)
    local = FilteredView(store, parse_query("priority>=warning"), clock=clock)
    async with _Service(store, clock) as service:
        remote = service.view("priority>=warning")
        await remote.update()
        local.hold()
        remote.hold()
        remote.follow = False
        assert remote.hold_at == local.hold_at == store.last_seq
        top = len(local) // 2  # scrolled back half way
        assert await _shows(remote, top) == _seqs(local.slice(top, top + 45))
        _fill(store, mk, clock, 30_000, seed=4)  # 30k of the held rows are evicted
        change, remote_change = local.update(), await remote.update()
        assert change.dropped and remote_change == change
        assert len(remote) == len(local) and remote.held == local.held > 0
        top -= change.dropped  # the list keeps the same alerts on screen: its rows moved up
        assert _seqs(remote.slice(top, top + 45)) == _seqs(local.slice(top, top + 45))  # came with the update
        # a new filter while paused looks at the same moment
        again = service.view("node:ip-10-0-1-80", hold_at=remote.hold_at)
        await again.update()
        assert len(again) == len(FilteredView(store, parse_query("node:ip-10-0-1-80"), hold_at=local.hold_at))
        local.release()
        remote.release()
        remote.follow = True
        change, remote_change = local.update(), await remote.update()
        assert remote_change == change and remote.held == 0 and len(remote) == len(local)
        n = len(local)
        assert _seqs(remote.slice(n - 45, n)) == _seqs(local.slice(n - 45, n))


async def test_export_over_the_link_writes_every_matching_alert(mk, clock, tmp_path):
    store = AlertStore(CAPACITY, clock=clock)
    _fill(store, mk, clock, CAPACITY, seed=5)
    local = FilteredView(store, parse_query("ns:shop"), clock=clock)
    async with _Service(store, clock) as service:
        remote = service.view("ns:shop")
        await remote.update()
        result = await remote.export(str(tmp_path / "exports"))
        lines = (tmp_path / "exports" / result.path.rsplit("/", 1)[-1]).read_bytes().splitlines()
        assert result.count == len(lines) == len(local) > 10_000
        assert [orjson.loads(line)["time"] for line in lines] == [e.alert.time_iso for e in local]


async def test_hostile_text_crosses_the_link_byte_for_byte(mk, clock):
    store = AlertStore(1000, clock=clock)
    _fill(store, mk, clock, 500, seed=6)
    clock.advance(10)
    store.append(mk.log_alert(9999, rule=HOSTILE, cmd=HOSTILE, ns=HOSTILE, pod=HOSTILE, time_ns=clock.now))
    async with _Service(store, clock) as service:
        remote = service.view("")
        await remote.update(groups=True)
        shown = remote.get(len(remote) - 1)
        sent = store.get(len(store) - 1)
        assert shown is not None and shown is not sent
        assert shown.alert == sent.alert and shown.alert.output.encode() == sent.alert.output.encode()
        assert shown.alert.output_fields["proc.cmdline"] == HOSTILE
        assert (HOSTILE, 1) in remote.group_by_rule()
