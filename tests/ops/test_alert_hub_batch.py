"""AlertHub's batch path and its lag: `ingest_log_lines` stores exactly what one line at a time stores, and
the lag says how late lines arrive (receipt time minus the line's own timestamp), not how quiet a node is.

Before: the header's lag was receipt time minus the event time of each channel's last alert, kept forever,
so a replayed tail (history written before the stream connected) read as "lag 77.6 s" and stayed there on a
node that then went quiet.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from falcotui.kube.logs import LogLine as FollowerLine
from falcotui.ops.alerts.channel_health import LAG_WINDOW_S
from falcotui.ops.alerts.hub import AlertHub
from falcotui.ops.alerts.store import AlertStore

NODE = "ip-10-0-1-23"


def follower_line(line: str | bytes, ts_ns: int, *, node: str = NODE, pod: str = "falco-23") -> FollowerLine:
    """A line as the follower hands it over: bytes, as the kubelet sent them."""
    raw = line.encode() if isinstance(line, str) else line
    return FollowerLine("falco", pod, "falco", node, ts_ns, raw)


def stored(hub: AlertHub) -> list[tuple]:
    return [(e.seq, e.alert, e.channels) for e in hub.store]


def test_the_batch_path_stores_what_one_line_at_a_time_stores(mk, clock, sample_lines):
    """Alerts (twice: re-read lines are duplicates), Falco's own lines, a text alert, bad JSON lines, a
    line with a kubelet timestamp still on it: both paths agree on everything they keep and count."""
    lines: list[str] = list(sample_lines)
    lines += [mk.alert_line(i, node=NODE).decode() for i in range(40)]
    lines += [mk.alert_line(i, node=NODE).decode() for i in range(30, 50)]  # 10 re-read
    lines += ['{"rule": "no time", "priority": "Warning"', '{"output": 1}', "[1, 2]"]
    lines += ["2026-11-26T09:02:18.000000001Z " + mk.alert_line(99, node=NODE).decode()]
    items = [follower_line(text, mk.T0 + i * 1000) for i, text in enumerate(lines)]
    # lines parse_json_alert mends: bytes that are not UTF-8, a lone surrogate escape
    mended = [mk.alert_line(200, node=NODE).replace(b"root", b"r\xffot"), mk.alert_line(201, node=NODE)]
    mended[1] = mended[1].replace(b"root", b"r\\udc80ot")
    items += [FollowerLine("falco", "falco-23", "falco", NODE, mk.T0, raw) for raw in mended]  # type: ignore[arg-type]

    one = AlertHub(AlertStore(500, clock=clock), clock=clock)
    for item in items:
        one.ingest_log_line(item.pod, item.line, node=item.node, ts_ns=item.ts_ns)
    batch = AlertHub(AlertStore(500, clock=clock), clock=clock)
    batch.ingest_log_lines(items[:17])
    batch.ingest_log_lines(items[17:])

    assert stored(batch) == stored(one) and len(one.store) > 50
    assert "r\ufffdot" in one.store[-2].alert.output and "\udc80" in one.store[-1].alert.output
    assert (
        (batch.duplicates, batch.bad_lines) == (one.duplicates, one.bad_lines) == (10, 2)
    )  # "[1, 2]" is not an alert line
    assert batch.store.by_rule == one.store.by_rule and batch.store.by_tag == one.store.by_tag
    assert batch.last_bad_line is not None and batch.last_bad_line.text == one.last_bad_line.text
    assert {p: dataclasses.asdict(i) for p, i in batch.falco.pods.items()} == {
        p: dataclasses.asdict(i) for p, i in one.falco.pods.items()
    }
    assert batch.pod_info("falco-23").version == "0.45.0"
    status = batch.channels[(NODE, "log")]
    assert status.alerts == one.channels[(NODE, "log")].alerts and status.duplicates == 10


def test_grpc_batches_store_what_one_alert_at_a_time_stores(mk, clock):
    """`ingest_alerts` (what the gRPC channel hands over every 20 ms): copies of alerts the log stored
    gain the channel, repeats within a batch are duplicates, Falco's internal alerts reach the pod's state,
    a store smaller than the batch evicts in order; counters, channel figures and the lag agree with
    `ingest` called once per alert."""
    hubs = [AlertHub(AlertStore(80, clock=clock), clock=clock) for _ in range(2)]
    for hub in hubs:
        hub.set_channel(NODE, "grpc", True, pod="falco-23")
        hub.ingest_log_lines([follower_line(mk.alert_line(i, node=NODE), mk.T0 + i) for i in range(10)])
        hub.drain()  # handed over: a copy arriving later is a merge
    clock.advance(0.3)
    grpc = [mk.grpc_copy(mk.log_alert(i, node=NODE)) for i in range(5, 10)]  # copies of logged alerts
    grpc += [
        mk.grpc_copy(mk.log_alert(i, node=NODE, time_ns=clock.now - (100 - i) * 1000)) for i in range(10, 80)
    ]
    grpc += grpc[-3:]  # repeated within the batch
    grpc.append(dataclasses.replace(grpc[0], rule="Falco internal: syscall event drop", source="internal"))
    one, batch = hubs
    for alert in grpc:
        one.ingest(alert)
    batch.ingest_alerts(grpc[:40])
    batch.ingest_alerts(grpc[40:])

    assert stored(batch) == stored(one) and len(one.store) == 80 and one.store.evicted == 1
    assert (batch.duplicates, batch.store.by_rule, batch.store.by_tag) == (
        one.duplicates, one.store.by_rule, one.store.by_tag,
    )  # fmt: skip
    merged = [e.seq for e in one.drain().merged]
    assert [e.seq for e in batch.drain().merged] == merged and len(merged) == 5
    mine, theirs = batch.channels[(NODE, "grpc")], one.channels[(NODE, "grpc")]
    assert (mine.alerts, mine.duplicates, mine.last_alert_ns) == (
        theirs.alerts,
        theirs.duplicates,
        theirs.last_alert_ns,
    )
    assert mine.lag_ns == theirs.lag_ns and batch.max_lag_s() == one.max_lag_s()
    assert {p: dataclasses.asdict(i) for p, i in batch.falco.pods.items()} == {
        p: dataclasses.asdict(i) for p, i in one.falco.pods.items()
    }


def test_only_lines_as_falco_writes_them_are_handed_on_raw(mk, clock):
    """With `keep_lines` a drain hands over the JSON line of each new alert whose values `alert_to_json`
    would write back unchanged (for `alerts -f --json` to print as it came): not a line with other keys
    (one of them falcotui's own), a priority or time spelled otherwise, or no time key at all."""
    hub = AlertHub(AlertStore(100, clock=clock), clock=clock, keep_lines=True)
    canonical = mk.alert_line(1, node=NODE)
    obj = json.loads(canonical)
    variants = [
        {**{k: v for k, v in obj.items() if k != "tags"}, "node": "elsewhere"},  # eight keys, one falcotui's
        {**obj, "priority": obj["priority"].upper()},
        {**obj, "time": obj["time"].replace("T", " ")},
        {**{k: v for k, v in obj.items() if k != "time"}, "message": "x"},  # eight keys, no time: evt.time
    ]
    for i, v in enumerate(variants):
        v["output"] = f"{v['output']} variant {i}"
        v["output_fields"] = {**v["output_fields"], "evt.time": mk.T0 + i}
    lines = [canonical, *(json.dumps(v).encode() for v in variants)]
    hub.ingest_log_lines([follower_line(line, mk.T0 + i) for i, line in enumerate(lines)])
    delta = hub.drain()
    assert len(delta.alerts) == 5 and hub.bad_lines == 0
    assert delta.lines == {delta.alerts[0].seq: canonical}
    assert hub.drain().lines == {}  # handed over once


def test_a_quiet_node_does_not_raise_the_lag(mk, clock):
    hub = AlertHub(clock=clock)
    hub.set_channel(NODE, "log", True, pod="falco-23")
    hub.set_channel("ip-10-0-1-57", "log", True, pod="falco-57")
    clock.advance(1)
    # a prompt line on one node, then nothing from anyone for a long while
    hub.ingest_log_lines([follower_line(mk.alert_line(1, node=NODE), clock.now - 200_000_000)])
    assert hub.max_lag_s() == pytest.approx(0.2)
    clock.advance(77.6)
    assert hub.max_lag_s() is None and hub.worst_lag() is None  # quiet is not late
    assert hub.channels[(NODE, "log")].lag_s == pytest.approx(0.2)  # the last measurement stays readable


def test_replayed_history_does_not_raise_the_lag(mk, clock):
    hub = AlertHub(clock=clock)
    hub.set_channel(NODE, "log", True, pod="falco-23")  # the follower asked for the tail
    tail = [
        follower_line(
            mk.alert_line(i, node=NODE, time_ns=clock.now - (600 - i) * mk.NS), clock.now - (600 - i) * mk.NS
        )
        for i in range(0, 600, 3)
    ]
    clock.advance(0.05)
    hub.ingest_log_lines(tail)
    assert len(hub.store) == 200 and hub.max_lag_s() is None

    # a cut, then a resume that re-reads what was written meanwhile: history too, not lateness
    hub.set_channel(NODE, "log", False, detail="stream ended")
    cut_at = clock.now
    clock.advance(10)
    hub.set_channel(NODE, "log", True, pod="falco-23")
    resumed = [
        follower_line(mk.alert_line(1000 + i, node=NODE, time_ns=cut_at + i * mk.NS), cut_at + i * mk.NS)
        for i in range(9)
    ]
    clock.advance(0.05)
    hub.ingest_log_lines(resumed)
    assert len(hub.store) == 209 and hub.max_lag_s() is None

    # gRPC: events Falco queued before the subscription connected are history as well
    hub.set_channel(NODE, "grpc", True, pod="falco-23")
    clock.advance(0.05)
    hub.ingest(mk.grpc_copy(mk.log_alert(2000, node=NODE, time_ns=clock.now - 30 * mk.NS)))
    assert hub.max_lag_s() is None


def test_a_line_arriving_5s_late_raises_the_lag_and_names_its_node(mk, clock):
    hub = AlertHub(clock=clock)
    hub.set_channel(NODE, "log", True, pod="falco-23")
    hub.set_channel("ip-10-0-1-57", "log", True, pod="falco-57")
    hub.set_channel(NODE, "grpc", True, pod="falco-23")
    clock.advance(30)
    hub.ingest_log_lines(
        [
            follower_line(
                mk.alert_line(1, node="ip-10-0-1-57"),
                clock.now - 100_000_000,
                node="ip-10-0-1-57",
                pod="falco-57",
            )
        ]
    )
    written = clock.now - 5 * mk.NS  # the kubelet stamped it 5 s before it reached us
    hub.ingest_log_lines([follower_line(mk.alert_line(2, node=NODE, time_ns=written - 1000), written)])
    worst = hub.worst_lag()
    assert worst is not None
    lag, channel = worst
    assert lag == pytest.approx(5.0) and (channel.node, channel.kind) == (NODE, "log")
    clock.advance(LAG_WINDOW_S / 2)
    assert hub.max_lag_s() == pytest.approx(5.0)  # still recent: shown
    clock.advance(LAG_WINDOW_S)
    assert hub.max_lag_s() is None  # nothing late since: calm again

    # the gRPC channel (connected long before): its alerts carry the event time
    hub.ingest(mk.grpc_copy(mk.log_alert(3, node=NODE, time_ns=clock.now - 5 * mk.NS)))
    lag, channel = hub.worst_lag() or (None, None)
    assert lag == pytest.approx(5.0) and channel.kind == "grpc"


def test_the_batch_path_merges_log_copies_of_grpc_alerts_and_counts_channels_as_one_at_a_time(mk, clock):
    """Alerts that came by gRPC first, then their log lines in a batch with new ones from two nodes and a
    Falco line between them: the same entries, channels, merges and channel figures as one at a time."""
    other = "ip-10-0-1-57"
    first = [
        mk.grpc_copy(mk.log_alert(i, node=n, falco_pod=f"falco-{n[-2:]}"))
        for i in range(5)
        for n in (NODE, other)
    ]
    items = [
        follower_line(mk.alert_line(i, node=n), mk.T0 + i * 1000, node=n, pod=f"falco-{n[-2:]}")
        for i in range(8)
        for n in (NODE, other)
    ]
    items.insert(7, follower_line("Falco version: 0.45.0 (x86_64)", mk.T0 + 7000))

    def figures(hub: AlertHub) -> tuple:
        delta = hub.drain()
        channels = {k: dataclasses.asdict(s) for k, s in hub.channels.items()}
        return stored(hub), [e.seq for e in delta.merged], channels, hub.duplicates

    one = AlertHub(AlertStore(500, clock=clock), clock=clock)
    batch = AlertHub(AlertStore(500, clock=clock), clock=clock)
    for hub in (one, batch):
        hub.set_channel(NODE, "log", True, pod="falco-23")
        for alert in first:
            hub.ingest(alert)
        hub.drain()
    for item in items:
        one.ingest_log_line(item.pod, item.line, node=item.node, ts_ns=item.ts_ns)
    batch.ingest_log_lines(items)

    got = figures(batch)
    assert got == figures(one)
    entries, merged, channels, duplicates = got
    assert len(entries) == 16 and len(merged) == 10 and duplicates == 10
    assert all(e[2] == ("grpc", "log") for e in entries[:10]) and channels[(other, "log")]["alerts"] == 8


def test_a_consumer_draining_on_stored_misses_nothing_from_a_small_outbox(mk, clock, sample_lines):
    """`alerts -f` keeps an AlertOutbox of a few thousand alerts and prints in `AlertHub.on_stored`: a batch
    far larger than the outbox is handed over in parts, each drained before the next, in order, with the raw
    lines; duplicates and Falco's own lines are what a full store makes of them. Without the hook, the
    outbox keeps only its capacity and the drain says how many it missed."""
    from falcotui.ops.alerts.outbox import AlertOutbox

    lines = [mk.alert_line(i, node=NODE) for i in range(500)] + [
        mk.alert_line(i, node=NODE) for i in range(490, 510)
    ]
    items = [follower_line(text, mk.T0 + i) for i, text in enumerate([*sample_lines, *lines])]
    full = AlertHub(AlertStore(5000, clock=clock), clock=clock, keep_lines=True)
    full.ingest_log_lines(items)
    want = full.drain()

    outbox = AlertHub(AlertOutbox(16, clock=clock), clock=clock, keep_lines=True)
    got, lines_got, missed = [], {}, []

    def take() -> None:
        delta = outbox.drain()
        got.extend((e.seq, e.alert, e.channels) for e in delta.alerts)
        lines_got.update(delta.lines)
        missed.append(delta.missed)
        assert len(outbox.store) <= 16

    outbox.on_stored = take
    outbox.ingest_log_lines(items)
    assert got == [(e.seq, e.alert, e.channels) for e in want.alerts] and len(got) > 510  # sample's too
    assert lines_got == want.lines and set(missed) == {0}
    assert (outbox.duplicates, outbox.bad_lines) == (full.duplicates, full.bad_lines) == (10, 0)
    assert {p: dataclasses.asdict(i) for p, i in outbox.falco.pods.items()} == {
        p: dataclasses.asdict(i) for p, i in full.falco.pods.items()
    }

    unhooked = AlertHub(AlertOutbox(16, clock=clock), clock=clock)
    unhooked.ingest_log_lines(items)
    delta = unhooked.drain()
    assert len(delta.alerts) == 16 and delta.missed == len(want.alerts) - 16
    assert [e.alert for e in delta.alerts] == [e.alert for e in want.alerts[-16:]]
