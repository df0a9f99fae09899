"""Alert views across the engine boundary: a `RemoteView` over `ViewService` shows the rows, counts and
hold state an in-process `FilteredView` has for the same query; every request and reply is pickled."""

from __future__ import annotations

import json
import random

import pytest

from falcotui.ops.alerts.hub import AlertHub
from falcotui.ops.alerts.query import parse_query
from falcotui.ops.alerts.store import AlertStore
from falcotui.ops.alerts.view import FilteredView
from falcotui.ops.alerts.view_service import ViewRequest, ViewService, in_process_call
from falcotui.ui.alerts.remote_view import RemoteView

HOSTILE = "\x1b[2J\x1b]0;owned\x07[bold red]PWNED[/] :skull: \x9b31m\r\nfake"


def _feed(hub, mk, clock, rng, start, count, nodes=("ip-10-0-1-23", "ip-10-0-1-57", "ip-10-0-1-80")):
    for i in range(start, start + count):
        clock.advance(0.01)
        hub.ingest(
            mk.log_alert(
                i,
                node=rng.choice(nodes),
                rule=rng.choice(list(mk.RULES)),
                ns=rng.choice(["shop", "payments"]),
                time_ns=clock.now - rng.randint(0, 5) * mk.NS,  # nodes deliver out of order
            )
        )


def _seqs(rows):
    return [e.seq for e in rows]


async def _remote(service, text="", **kw):
    view = RemoteView(in_process_call({"views": service}), parse_query(text), **kw)
    view.see(0, 45)
    return view


async def _window_equals(remote: RemoteView, local: FilteredView, top: int, height: int = 45) -> None:
    remote.see(top, height)
    remote.follow = False
    for i in range(top, min(top + height, len(local))):
        if remote.get(i) is None:
            await remote._fetch  # type: ignore[misc]  # the placeholder's window, one round trip
            break
    assert _seqs(remote.slice(top, top + height)) == _seqs(local.slice(top, top + height))


@pytest.mark.parametrize("text", ["", "priority>=warning", "node:ip-10-0-1-57 ns:shop", "-rule:shell"])
async def test_remote_rows_equal_the_local_view(mk, clock, text):
    rng = random.Random(7)
    hub = AlertHub(AlertStore(3000, clock=clock), clock=clock)
    service = ViewService(hub.store, clock=clock)
    local = FilteredView(hub.store, parse_query(text), clock=clock)
    remote = await _remote(service, text)
    i = 0
    for _tick in range(30):
        _feed(hub, mk, clock, rng, i, rng.randint(0, 400))
        i += 400
        change = local.update()
        remote_change = await remote.update(groups=True)
        assert len(remote) == len(local)
        if remote.synced and _tick:
            assert remote_change == change
        assert remote.by_priority == local.by_priority
        assert remote.group_by_rule() == local.group_by_rule()
        assert remote.group_by_node() == local.group_by_node()
        # following: the newest rows are here without another round trip
        n = len(local)
        assert _seqs(remote.slice(max(0, n - 45), n)) == _seqs(local.slice(max(0, n - 45), n))
    for top in (0, len(local) // 2, max(0, len(local) - 45)):
        await _window_equals(remote, local, top)
        remote.follow = True
    rule_groups = await remote.update(rule_groups=True)
    assert not rule_groups.changed and remote.rule_groups() == local.rule_groups()


async def test_hold_release_and_eviction_while_paused(mk, clock):
    rng = random.Random(3)
    hub = AlertHub(AlertStore(1000, clock=clock), clock=clock)
    service = ViewService(hub.store, clock=clock)
    local = FilteredView(hub.store, clock=clock)
    remote = await _remote(service)
    _feed(hub, mk, clock, rng, 0, 800)
    local.update()
    await remote.update()
    remote.hold()
    local.hold()
    assert remote.hold_at == local.hold_at
    remote.follow = False
    _feed(hub, mk, clock, rng, 800, 600)  # 400 of the held rows are evicted meanwhile
    change, remote_change = local.update(), await remote.update()
    assert remote_change == change and change.dropped
    assert len(remote) == len(local) == 600 - (1400 - 1000) + 200
    assert remote.held == local.held == 600
    await _window_equals(remote, local, 0)
    # a new filter while paused looks at the same moment
    again = await _remote(service, "priority>=warning", hold_at=remote.hold_at)
    await again.update()
    assert len(again) == len(FilteredView(hub.store, parse_query("priority>=warning"), hold_at=local.hold_at))
    remote.release()
    local.release()
    assert remote.held == 0
    remote.follow = True
    change, remote_change = local.update(), await remote.update()
    assert remote_change == change and len(remote) == len(local) == 1000


async def test_reply_is_bounded_by_the_window(mk, clock):
    import pickle

    hub = AlertHub(AlertStore(20_000, clock=clock), clock=clock)
    _feed(hub, mk, clock, random.Random(1), 0, 20_000)
    service = ViewService(hub.store, clock=clock)
    view_id = service.open(parse_query(""))
    first = service.sync(view_id, ViewRequest(0, 90, follow=True, groups=True))
    assert len(first.rows) == 90 and first.length == 20_000
    _feed(hub, mk, clock, random.Random(2), 20_000, 5)
    again = service.sync(view_id, ViewRequest(0, 90, follow=True, have=first.seqs))
    assert len(again.seqs) == 90 and len(again.rows) <= 5 + 5  # only rows not held (5 new, some moved)
    assert len(pickle.dumps(again)) < len(pickle.dumps(first)) / 5


async def test_export_and_hostile_text_cross_unchanged(mk, clock, tmp_path):
    hub = AlertHub(AlertStore(5000, clock=clock), clock=clock)
    _feed(hub, mk, clock, random.Random(5), 0, 3000)
    hub.ingest(mk.log_alert(9999, rule=HOSTILE, cmd=HOSTILE, time_ns=clock.now + mk.NS))
    service = ViewService(hub.store, clock=clock)
    remote = await _remote(service, "ns:shop")
    await remote.update()
    local = FilteredView(hub.store, parse_query("ns:shop"), clock=clock)
    newest = remote.get(len(remote) - 1)
    assert newest is not None and newest.alert.rule == HOSTILE
    assert newest.alert.output_fields["proc.cmdline"] == HOSTILE
    assert newest.alert.output == local.get(-1).alert.output
    result = await remote.export(str(tmp_path / "out"))
    lines = (tmp_path / "out").joinpath(result.path.rsplit("/", 1)[-1]).read_bytes().splitlines()
    assert result.count == len(lines) == len(local)
    assert [json.loads(line)["output"] for line in lines] == [e.alert.output for e in local]
    await remote.close()
    assert len(service) == 0


async def test_a_view_the_engine_let_go_is_opened_again(mk, clock):
    from falcotui.ops.alerts.view_service import MAX_VIEWS

    hub = AlertHub(AlertStore(500, clock=clock), clock=clock)
    _feed(hub, mk, clock, random.Random(9), 0, 300)
    service = ViewService(hub.store, clock=clock)
    first = await _remote(service, "priority>=warning")
    await first.update()
    shown = len(first)
    for _ in range(MAX_VIEWS):  # a client that never closes: the oldest view goes
        await (await _remote(service)).update()
    assert len(service) == MAX_VIEWS
    change = await first.update()
    assert change.rebuilt and len(first) == shown


async def test_top_counts_are_the_busiest_and_say_how_many_there_are(mk, clock):
    """`top`: the side panel gets the busiest nodes and rules (as the full ranking has them, ties by
    name) and how many there are in all, not every node's count at each refresh (5,000 nodes)."""
    rng = random.Random(11)
    hub = AlertHub(AlertStore(5000, clock=clock), clock=clock)
    service = ViewService(hub.store, clock=clock)
    local = FilteredView(hub.store, clock=clock)
    remote = await _remote(service)
    remote.top = 5
    nodes = tuple(f"node-{n:03d}" for n in range(40))
    _feed(hub, mk, clock, rng, 0, 2000, nodes=nodes)
    local.update()
    await remote.update(groups=True)
    assert remote.group_by_node() == local.group_by_node()[:5]
    assert remote.group_by_rule() == local.group_by_rule()[:5]
    assert (remote.nodes, remote.rules) == (len(local.group_by_node()), len(local.group_by_rule()))
    assert remote.nodes == 40
    assert local.group_by_node(5) == local.group_by_node()[:5]  # the heap ranks as the sort does
