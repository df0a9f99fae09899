"""The incremental filtered view equals a brute-force filter of the store; grouping; JSONL export."""

from __future__ import annotations

import io
import random
from collections import Counter

import pytest

from falcotui.falco.alerts import parse_json_alert
from falcotui.ops.alerts.hub import AlertHub
from falcotui.ops.alerts.query import parse_query
from falcotui.ops.alerts.store import AlertStore
from falcotui.ops.alerts.view import FilteredView, export_jsonl

QUERIES = [
    "",
    "priority>=warning",
    "node:ip-10-0-1-57 ns:shop",
    'rule:"shell" -tag:k8s',
    "ns:payments ns:shop priority<=notice",
    "shadow",
    "channel:grpc",
    "since:2m",
    "since:2m channel:grpc",
]


def _brute(store, query, now):
    """The matching alerts' numbers, by event time across nodes (arrival breaks ties)."""
    match = query.matcher(now_ns=now)
    return [
        e.seq for e in sorted(store, key=lambda e: (e.alert.time_ns, e.seq)) if match(e.alert, e.channels)
    ]


@pytest.mark.parametrize("text", QUERIES)
def test_incremental_view_equals_brute_force(mk, clock, text):
    rng = random.Random(hash(text) & 0xFFFF)
    hub = AlertHub(AlertStore(300, clock=clock), clock=clock)
    nodes = ["ip-10-0-1-23", "ip-10-0-1-57"]
    query = parse_query(text)
    view = FilteredView(hub.store, query, clock=clock)
    recent = []
    i = 0
    for _batch in range(40):
        for _ in range(rng.randint(0, 40)):
            clock.advance(0.5)
            if recent and rng.random() < 0.3:  # the gRPC copy of an earlier alert
                hub.ingest(mk.grpc_copy(rng.choice(recent)))
                continue
            a = mk.log_alert(
                i,
                node=rng.choice(nodes),
                rule=rng.choice(list(mk.RULES)),
                ns=rng.choice(["shop", "payments", None]),
                time_ns=clock.now - rng.randint(0, 3) * mk.NS,  # nodes deliver slightly out of order
            )
            i += 1
            hub.ingest(a)
            recent = [*recent[-20:], a]
        change = view.update()
        expected = _brute(hub.store, query, clock.now)
        assert [view.get(k).seq for k in range(len(view))] == expected, (text, _batch, change)
        assert view.by_rule == dict(Counter(hub.store.by_seq(s).alert.rule for s in expected))
        assert sum(view.by_priority.values()) == len(expected)
    assert hub.store.evicted > 0 and hub.duplicates > 0


def test_updates_report_appends_and_front_drops(mk, clock):
    store = AlertStore(10, clock=clock)
    view = FilteredView(store, parse_query("node:ip-10-0-1-23"), clock=clock)
    for i in range(6):
        store.append(mk.log_alert(i, node="ip-10-0-1-23" if i % 2 == 0 else "ip-10-0-1-57"))
    change = view.update()
    assert (change.added, change.dropped, change.rebuilt) == (3, 0, False) and len(view) == 3
    assert view.update().changed is False
    for i in range(6, 14):
        store.append(mk.log_alert(i, node="ip-10-0-1-57"))
    change = view.update()  # seqs 1..4 evicted: alerts 0 and 2 of this view went with them
    assert (change.added, change.dropped) == (0, 2) and [e.seq for e in view] == [5]
    assert view.index_of(5) == 0 and view.index_of(3) is None
    assert view.group_by_rule() == [("Read sensitive file untrusted", 1)]


def test_a_view_far_behind_the_store_catches_up(mk, clock):
    store = AlertStore(50, clock=clock)
    view = FilteredView(store, parse_query("priority>=warning"), clock=clock)
    for i in range(20):
        store.append(mk.log_alert(i))
    view.update()
    for i in range(20, 500):
        store.append(mk.log_alert(i, priority="Notice" if i % 3 else "Critical"))
    view.update()
    assert [e.seq for e in view] == _brute(store, view.query, clock.now)
    assert view.by_priority == {p: n for p, n in store.by_priority.items() if p <= 4}


def test_relative_window_ages_alerts_out(mk, clock):
    store = AlertStore(100, clock=clock)
    view = FilteredView(store, parse_query("since:1m"), clock=clock)
    for i in range(10):
        store.append(mk.log_alert(i, time_ns=clock.now))
        clock.advance(10)
    assert view.update().added == 6
    assert [e.seq for e in view] == _brute(store, view.query, clock.now) and len(view) == 6
    clock.advance(30)
    change = view.update()
    assert change.dropped == 3 and len(view) == 3


def test_group_by_rule_counts_under_a_filter(mk, clock):
    store = AlertStore(1000, clock=clock)
    rules = list(mk.RULES)
    for i in range(100):
        store.append(mk.log_alert(i, rule=rules[i % 5], ns="shop" if i % 4 else "payments"))
    view = FilteredView(store, parse_query("ns:shop"), clock=clock)
    groups = view.group_by_rule()
    expected = Counter(e.alert.rule for e in store if e.alert.output_fields["k8s.ns.name"] == "shop")
    assert dict(groups) == dict(expected) and sum(n for _, n in groups) == 75
    assert [n for _, n in groups] == sorted((n for _, n in groups), reverse=True)


def test_export_jsonl_round_trips(mk, clock, tmp_path):
    hub = AlertHub(AlertStore(100, clock=clock), clock=clock)
    for i in range(30):
        hub.ingest(mk.log_alert(i, ns="shop" if i % 3 else "payments"))
    view = FilteredView(hub.store, parse_query("ns:payments"), clock=clock)
    path = tmp_path / "alerts.jsonl"
    assert export_jsonl(view, path) == 10
    lines = path.read_bytes().splitlines()
    back = [parse_json_alert(line) for line in lines]
    assert [(a.time_ns, a.rule, a.node, a.pod, a.output) for a in back] == [
        (e.alert.time_ns, e.alert.rule, e.alert.node, e.alert.pod, e.alert.output) for e in view
    ]
    assert all(a.output_fields["k8s.ns.name"] == "payments" for a in back)
    buf = io.BytesIO()
    assert export_jsonl([], buf) == 0 and buf.getvalue() == b""


def test_get_out_of_range(clock):
    view = FilteredView(AlertStore(5, clock=clock), clock=clock)
    with pytest.raises(IndexError):
        view.get(0)
    assert view.slice(0, 10) == [] and list(view) == []


def test_view_is_frozen_between_updates(mk, clock):
    store = AlertStore(5, clock=clock)
    view = FilteredView(store, clock=clock)
    for i in range(5):
        store.append(mk.log_alert(i))
    view.update()
    for i in range(5, 12):  # the store evicts everything the view shows; a render before update() still works
        store.append(mk.log_alert(i))
    assert len(view) == 5 and [view.get(k).seq for k in range(5)] == [1, 2, 3, 4, 5]
    change = view.update()
    assert (change.added, change.dropped) == (5, 5) and [e.seq for e in view] == [8, 9, 10, 11, 12]
