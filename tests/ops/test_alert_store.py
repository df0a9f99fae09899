"""The bounded alert store: exact counters, eviction, index/sequence access, rates and worst priority."""

from __future__ import annotations

import dataclasses
import gc
import random
import tracemalloc
from collections import Counter

import pytest

from falcotui.falco.alerts import Priority
from falcotui.ops.alerts.store import AlertStore


def _mixed(mk, n, seed=7):
    rng = random.Random(seed)
    nodes = ["ip-10-0-1-23", "ip-10-0-1-57", "ip-10-0-2-40"]
    nss = ["shop", "payments", None]
    for i in range(n):
        yield mk.log_alert(i, node=rng.choice(nodes), rule=rng.choice(list(mk.RULES)), ns=rng.choice(nss))


def _recount(store):
    prio, rule, node, ns, tag = Counter(), Counter(), Counter(), Counter(), Counter()
    for e in store:
        a = e.alert
        prio[a.priority] += 1
        rule[a.rule] += 1
        node[a.node] += 1
        if a.output_fields.get("k8s.ns.name") is not None:
            ns[a.output_fields["k8s.ns.name"]] += 1
        tag.update(a.tags)
    return dict(prio), dict(rule), dict(node), dict(ns), dict(tag)


def test_counters_are_exact_for_a_mixed_stream(mk, clock):
    store = AlertStore(1000, clock=clock)
    alerts = list(_mixed(mk, 300))
    for a in alerts:
        store.append(a)
    assert len(store) == 300 and store.total_seen == 300 and store.evicted == 0
    prio, rule, node, ns, tag = _recount(store)
    assert store.by_priority == prio
    assert (
        store.by_rule == rule and store.by_node == node and store.by_namespace == ns and store.by_tag == tag
    )
    assert sum(store.by_namespace.values()) == sum(1 for a in alerts if a.output_fields["k8s.ns.name"])
    assert store.count_at_least(Priority.WARNING) == sum(1 for a in alerts if a.priority <= Priority.WARNING)


def test_capacity_respected_on_ten_times_input_and_counters_follow_eviction(mk, clock):
    store = AlertStore(100, clock=clock)
    for a in _mixed(mk, 1000):
        store.append(a)
    assert len(store) == 100
    assert (
        store.total_seen == 1000 and store.evicted == 900 and store.total_seen == len(store) + store.evicted
    )
    assert [e.seq for e in store] == list(range(901, 1001))
    assert store.first_seq == 901 and store.last_seq == 1000 and store.next_seq == 1001
    prio, rule, node, ns, tag = _recount(store)
    assert (store.by_priority, store.by_rule, store.by_node, store.by_namespace, store.by_tag) == (
        prio,
        rule,
        node,
        ns,
        tag,
    )
    assert sum(store.seen_by_priority) == 1000


def test_memory_stays_flat_on_an_endless_stream(mk, clock):
    base = list(_mixed(mk, 50, seed=3))

    def stream(start, stop):  # fresh Alert objects (fields shared), as a parser would hand them over
        for i in range(start, stop):
            a = base[i % 50]
            yield dataclasses.replace(a, time_ns=a.time_ns + i, output=f"{a.output} #{i}")

    store = AlertStore(1000, clock=clock)
    tracemalloc.start()
    try:
        for a in stream(0, 1000):
            store.append(a)
        gc.collect()
        full, _ = tracemalloc.get_traced_memory()
        for a in stream(1000, 10_000):
            store.append(a)
        gc.collect()
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(store) == 1000 and store.evicted == 9000
    assert after < full * 1.2, (full, after)


def test_index_and_sequence_access(mk, clock):
    store = AlertStore(10, clock=clock)
    for i in range(25):
        store.append(mk.log_alert(i))
    assert store.get(0).seq == 16 and store.get(-1).seq == 25 and store[3].seq == 19
    with pytest.raises(IndexError):
        store.get(10)
    with pytest.raises(IndexError):
        store.get(-11)
    assert store.by_seq(15) is None and store.by_seq(16).seq == 16 and store.by_seq(26) is None
    assert [e.seq for e in store.since(22)] == [23, 24, 25]
    assert [e.seq for e in store.since(0)] == list(range(16, 26))  # evicted ones are skipped
    assert [e.seq for e in store.since(0, limit=2)] == [16, 17]
    assert [e.seq for e in store.slice(2, 5)] == [18, 19, 20]
    assert store.since(25) == []
    assert store.get(0).alert.output.endswith("seq=15)")


def test_empty_store(clock):
    store = AlertStore(5, clock=clock)
    assert len(store) == 0 and store.last_seq == 0 and store.since(0) == [] and list(store) == []
    assert store.rate_series("nowhere") == [0] * 10 and store.worst_priority("nowhere") is None
    with pytest.raises(ValueError):
        AlertStore(0)


def test_rate_series_buckets_by_event_time(mk, clock):
    store = AlertStore(10_000, clock=clock)
    now = clock.now
    node = "ip-10-0-1-23"
    # (seconds ago, count): 30 s, 150 s, 500 s (9 minute buckets back), 660 s (outside 10 buckets)
    plan = [(30, 3), (150, 5), (500, 2), (660, 4)]
    i = 0
    for ago, count in plan:
        for _ in range(count):
            store.append(mk.log_alert(i, node=node, time_ns=now - ago * mk.NS))
            i += 1
    store.append(mk.log_alert(i, node="ip-10-0-1-57", time_ns=now - 30 * mk.NS))
    series = store.rate_series(node, buckets=10, bucket_seconds=60)
    assert len(series) == 10 and sum(series) == 10  # the alerts 11 minutes ago are outside
    minute = (now // mk.NS) // 60
    expected = [0] * 10
    for ago, count in plan[:3]:
        expected[9 - (minute - (now // mk.NS - ago) // 60)] += count
    assert series == expected
    assert store.alerts_per_minute(node) == 3
    assert sum(store.rate_series(None, buckets=12, bucket_seconds=60)) == 15
    fine = store.rate_series(node, buckets=6, bucket_seconds=10)  # last minute at 10 s resolution
    assert sum(fine) == 3
    with pytest.raises(ValueError, match="reaches back"):
        store.rate_series(node, buckets=100, bucket_seconds=60)


def test_overall_rate_counts_complete_seconds(mk, clock):
    store = AlertStore(10_000, clock=clock)
    now_s = clock.now // mk.NS
    for k in range(1, 6):  # 10 alerts in each of the last 5 complete seconds
        for j in range(10):
            store.append(mk.log_alert(k * 100 + j, time_ns=(now_s - k) * mk.NS + j))
    for j in range(7):  # the current, partial second is not counted yet
        store.append(mk.log_alert(900 + j, time_ns=now_s * mk.NS + j))
    assert store.rate(5) == 10.0
    assert store.rate(10) == 5.0


def test_future_dated_alerts_count_now_and_stale_ones_drop_out(mk, clock):
    store = AlertStore(100, clock=clock)
    store.append(mk.log_alert(1, time_ns=clock.now + 3600 * mk.NS))  # a node clock an hour ahead
    assert store.alerts_per_minute("ip-10-0-1-23") == 1
    clock.advance(120)
    assert store.alerts_per_minute("ip-10-0-1-23") == 0
    assert store.rate_series("ip-10-0-1-23", 10, 60)[-3] == 1


def test_worst_priority_per_node_in_window(mk, clock):
    store = AlertStore(100, clock=clock)
    node = "ip-10-0-1-23"
    store.append(mk.log_alert(1, node=node, priority="Critical", time_ns=clock.now - 20 * 60 * mk.NS))
    store.append(mk.log_alert(2, node=node, priority="Warning", time_ns=clock.now - 5 * 60 * mk.NS))
    store.append(mk.log_alert(3, node=node, priority="Notice", time_ns=clock.now - 10 * mk.NS))
    store.append(mk.log_alert(4, node="ip-10-0-1-57", priority="Emergency", time_ns=clock.now))
    assert store.worst_priority(node, minutes=10) is Priority.WARNING
    assert store.worst_priority(node, minutes=30) is Priority.CRITICAL
    assert store.worst_priority(node, minutes=1) is Priority.NOTICE
    assert store.worst_priority(None, minutes=1) is Priority.EMERGENCY
    clock.advance(11 * 60)
    assert store.worst_priority(node, minutes=10) is None


def test_extend_counts_a_batch_into_counters_and_rates_by_event_time(mk, clock):
    """A batch past capacity (in two `extend` calls), three alerts a second over the last ~4 minutes with
    some ahead of now and some half an hour back: counters match the kept alerts, rates match counts made
    by hand from the event times (clamped to now), worst priority the most severe in the window."""
    alerts = list(_mixed(mk, 700))
    for i, a in enumerate(alerts):
        a.time_ns = clock.now - (700 - i) * mk.NS // 3 + (5 * mk.NS if i % 50 == 0 else 0)
        a.time_ns -= 1800 * mk.NS if i % 70 == 0 else 0
    store = AlertStore(250, clock=clock)
    store.extend(alerts[:100])
    store.extend(alerts[100:])

    assert [e.seq for e in store] == list(range(451, 701)) and [e.alert for e in store] == alerts[450:]
    assert (store.total_seen, store.evicted, sum(store.seen_by_priority)) == (700, 450, 700)
    prio, rule, node, ns, tag = _recount(store)
    assert (store.by_priority, store.by_rule, store.by_node, store.by_namespace, store.by_tag) == (
        prio,
        rule,
        node,
        ns,
        tag,
    )
    now_s = clock.now // mk.NS
    seconds = [min(a.time_ns, clock.now) // mk.NS for a in alerts]
    for name in [None, *store.nodes()]:
        mine = [s for s, a in zip(seconds, alerts, strict=True) if name in (None, a.node)]
        per_second = Counter(mine)
        per_minute = Counter(s // 60 for s in mine)
        assert store.rate_series(name, 60, 1) == [per_second[now_s - 59 + k] for k in range(60)]
        assert store.rate_series(name, 40, 60) == [per_minute[now_s // 60 - 39 + k] for k in range(40)]
        worst = min(a.priority for s, a in zip(seconds, alerts, strict=True) if name in (None, a.node))
        assert store.worst_priority(name, 60) == worst
    assert store.rate(60) == sum(n for s, n in Counter(seconds).items() if now_s - 60 <= s < now_s) / 60
