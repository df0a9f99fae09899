"""AlertHub: de-duplication across log and gRPC, channel health, drain deltas, Falco's own log lines."""

from __future__ import annotations

import asyncio
import dataclasses
import random

import pytest

from falcotui.falco.alerts import Priority
from falcotui.kube.logs import LogLine as FollowerLine
from falcotui.ops.alerts.channel_health import ChannelUpdate
from falcotui.ops.alerts.hub import AlertHub
from falcotui.ops.alerts.store import AlertStore
from falcotui.ops.rules.reload_state import HOT_RESTART_FAILURE, ReloadState


def test_same_alert_via_log_and_grpc_counts_once_and_records_both_channels(mk, clock):
    hub = AlertHub(AlertStore(1000, clock=clock), clock=clock)
    log = mk.log_alert(1)
    grpc = mk.grpc_copy(log)
    assert grpc.channel == "grpc" and grpc.output_fields != log.output_fields  # gRPC fields are strings
    first = hub.ingest(log)
    assert first is not None
    assert hub.ingest(grpc) is None
    assert len(hub.store) == 1 and hub.store.total_seen == 1 and hub.duplicates == 1
    assert first.channels == ("log", "grpc") and first.via == "log+grpc"
    assert hub.store.by_rule == {"Read sensitive file untrusted": 1}


def test_exact_counts_with_interleaved_channels(mk, clock):
    rng = random.Random(11)
    hub = AlertHub(AlertStore(10_000, clock=clock), clock=clock)
    nodes = [f"ip-10-0-1-{n}" for n in (23, 57, 88)]
    logs = [mk.log_alert(i, node=rng.choice(nodes), rule=rng.choice(list(mk.RULES))) for i in range(600)]
    both = set(rng.sample(range(600), 350))
    grpc_only = [mk.grpc_copy(mk.log_alert(1000 + i, node=nodes[0])) for i in range(40)]
    stream = [("log", i, a) for i, a in enumerate(logs)]
    stream += [("grpc", i, mk.grpc_copy(logs[i])) for i in sorted(both)]
    stream += [("grpc", 1000 + i, a) for i, a in enumerate(grpc_only)]
    rng.shuffle(stream)
    for _kind, _i, alert in stream:
        clock.advance(0.001)
        hub.ingest(alert)
    assert len(hub.store) == 640 and hub.duplicates == 350
    via = {e.alert.output: e.via for e in hub.store}
    for i, a in enumerate(logs):
        assert via[a.output] == ("log+grpc" if i in both else "log")
    assert all(via[a.output] == "grpc" for a in grpc_only)
    channels = {(s.node, s.kind): s for s in hub.channels.values()}
    assert sum(s.alerts for s in channels.values()) == len(stream)
    assert sum(s.duplicates for s in channels.values()) == 350


def test_distinct_alerts_that_look_alike_are_kept_apart(mk, clock):
    hub = AlertHub(clock=clock)
    a = mk.log_alert(5)
    same_content_later = dataclasses.replace(a, time_ns=a.time_ns + 1)
    other_node = mk.log_alert(5, node="ip-10-0-1-57")
    for alert in (a, same_content_later, other_node, a):
        hub.ingest(alert)
    assert len(hub.store) == 3 and hub.duplicates == 1


def test_dedup_memory_is_bounded_by_window_and_size(mk, clock):
    hub = AlertHub(AlertStore(1000, clock=clock), dedup_window_s=60, dedup_max=100, clock=clock)
    for i in range(250):
        hub.ingest(mk.log_alert(i))
    assert hub.dedup_keys == 100
    hub.ingest(mk.grpc_copy(mk.log_alert(249)))  # still remembered: merged
    assert len(hub.store) == 250
    hub.ingest(mk.grpc_copy(mk.log_alert(10)))  # forgotten (more than dedup_max newer keys): the worst case
    assert len(hub.store) == 251
    clock.advance(61)
    hub.ingest(mk.grpc_copy(mk.log_alert(240)))  # arrived after the window: stored again
    assert len(hub.store) == 252 and hub.dedup_keys == 1


def test_channel_health_and_lag(mk, clock):
    hub = AlertHub(clock=clock)
    alert = mk.log_alert(1, time_ns=clock.now - 300_000_000)
    hub.ingest(alert)
    status = hub.channels[("ip-10-0-1-23", "log")]
    assert status.connected and status.lag_s == pytest.approx(0.3) and status.pod == "falco-23"
    assert hub.live_channels("ip-10-0-1-23") == ("log",)
    assert hub.live_counts() == {"log": 1, "grpc": 0, "nats": 0}
    assert hub.max_lag_s() == pytest.approx(0.3)
    hub.set_channel("ip-10-0-1-23", "grpc", True, detail="port-forward 127.0.0.1:40123")
    clock.advance(2)
    assert status.idle_s(clock.now) == pytest.approx(2.0)
    hub.set_channel("ip-10-0-1-23", "log", False, detail="stream ended: container restarted")
    assert hub.live_channels("ip-10-0-1-23") == ("grpc",)
    assert status.changed_ns == clock.now and status.detail.startswith("stream ended")
    hub.ingest(mk.log_alert(2))  # e.g. the crashed container's last lines: the owner said it is down
    assert hub.live_channels("ip-10-0-1-23") == ("grpc",) and status.alerts == 2
    with pytest.raises(ValueError):
        hub.set_channel("n", "carrier-pigeon", True)


def test_drain_hands_over_changes_once(mk, clock):
    hub = AlertHub(AlertStore(50, clock=clock), clock=clock)
    assert hub.drain().empty
    first = [mk.log_alert(i) for i in range(10)]
    for a in first:
        hub.ingest(a)
    d = hub.drain()
    assert [e.seq for e in d.alerts] == list(range(1, 11)) and d.missed == 0
    assert [(c.node, c.kind, c.connected) for c in d.channels] == [("ip-10-0-1-23", "log", True)]
    hub.ingest(mk.grpc_copy(first[3]))
    d = hub.drain()
    assert d.alerts == [] and [e.seq for e in d.merged] == [4] and d.merged[0].via == "log+grpc"
    assert [c.kind for c in d.channels] == ["grpc"]
    fresh = mk.log_alert(50)
    hub.ingest(fresh)
    hub.ingest(mk.grpc_copy(fresh))  # new and merged within one tick: handed over once, complete
    d = hub.drain()
    assert [(e.seq, e.via) for e in d.alerts] == [(11, "log+grpc")] and d.merged == []
    for i in range(100, 179):  # more than the store holds between two drains
        hub.ingest(mk.log_alert(i))
    d = hub.drain(max_alerts=20)
    assert d.missed == 29 and [e.seq for e in d.alerts] == list(range(41, 61)) and d.first_seq == 41
    d = hub.drain()
    assert d.missed == 0 and len(d.alerts) == 30 and d.last_seq == 90
    assert hub.drain().empty


def test_sample_log_through_the_hub(sample_lines, clock):
    hub = AlertHub(clock=clock)
    for line in sample_lines:
        hub.ingest_log_line("falco-xczjd", line, node="node-a")
    assert len(hub.store) == 3
    assert hub.store.by_priority == {Priority.CRITICAL: 2, Priority.WARNING: 1}
    assert hub.store.by_namespace == {"default": 1, "shop": 1}
    info = hub.pod_info("falco-xczjd")
    assert info is not None and info.version == "0.45.0" and info.node == "node-a"
    assert info.reloads == 1 and info.rejected == 1
    assert info.started_ns is not None and info.started_ns < info.last_reload.at_ns
    assert info.last_reload.state is ReloadState.REJECTED
    detail = info.last_reload.detail  # what Falco said, with where and why from the alert's load result
    assert detail.startswith(
        f"{HOT_RESTART_FAILURE}: custom-rules.yaml:13 LOAD_ERR_COMPILE_CONDITION: unexpected end"
    )
    assert info.recent[-1][1].endswith("schema validation: ok")
    d = hub.drain()
    assert [p.pod for p in d.pods] == ["falco-xczjd"] and len(d.alerts) == 3


def test_reload_ok_then_error_at_start(sample_lines, clock):
    hub = AlertHub(clock=clock)
    # a start is a version line whose Falco then opens its event sources (a dry run's banner does not)
    sighup = [ln for ln in sample_lines if any(w in ln for w in ("SIGHUP", "Falco version", "Opening"))]
    for line in sighup:
        hub.ingest_log_line("falco-a", line, node="node-a")
    info = hub.pod_info("falco-a")
    assert info.last_reload.state is ReloadState.RESTARTING and info.reloads == 1
    # the restart opens its event sources again: reloaded, at that line's time
    opened = "Thu Nov 26 09:05:41 2026: Opening 'syscall' source with modern BPF probe."
    hub.ingest_log_line("falco-a", opened, node="node-a", ts_ns=1_795_683_941 * 1_000_000_000)
    assert info.last_reload.state is ReloadState.RELOADED
    assert info.last_reload.at_ns == 1_795_683_941 * 1_000_000_000
    assert [e.state for _, e in info.reload_events] == [ReloadState.RESTARTING, ReloadState.RELOADED]
    assert info.starts == 1 and info.dry_runs == 0
    assert info.started_ns == 1_795_683_601 * 1_000_000_000  # the first version line, not the reload's
    hub.ingest_log_line("falco-a", "Thu Nov 26 09:10:00 2026: Falco version: 0.45.0 (x86_64)", node="node-a")
    hub.ingest_log_line(
        "falco-a",
        "Error: /etc/falco/rules.d/custom-rules.yaml: Invalid\nLOAD_ERR_COMPILE_CONDITION",
        node="node-a",
        ts_ns=1_795_684_200 * 1_000_000_000,
    )
    assert info.last_reload.state is ReloadState.FAILED
    assert info.last_error.detail == "/etc/falco/rules.d/custom-rules.yaml: Invalid"
    assert info.last_error.at_ns == 1_795_684_200 * 1_000_000_000
    assert hub.ingest_log_line("falco-a", '{"rule": "x"', node="node-a").kind == "bad_alert"
    assert hub.bad_lines == 1 and len(hub.store) == 0


def test_hot_restart_failure_via_grpc_is_attributed_to_the_nodes_pod(sample_lines, mk, clock):
    hub = AlertHub(clock=clock)
    hub.ingest_log_line("falco-b", sample_lines[0], node="node-b")
    failure_line = next(ln for ln in sample_lines if "hot restart failure" in ln)
    from falcotui.falco.alerts import parse_json_alert

    failure = mk.grpc_copy(parse_json_alert(failure_line, node="node-b"))
    hub.ingest(dataclasses.replace(failure, pod=None))
    assert hub.pod_info("falco-b").last_reload.state is ReloadState.REJECTED


async def test_consume_from_an_asyncio_queue(mk, sample_lines, clock):
    hub = AlertHub(clock=clock)
    queue: asyncio.Queue = asyncio.Queue()
    log = mk.log_alert(1)
    queue.put_nowait(log)
    queue.put_nowait([mk.grpc_copy(log), mk.log_alert(2)])
    queue.put_nowait(ChannelUpdate("ip-10-0-1-23", "grpc", False, detail="server restarted (hot reload)"))
    queue.put_nowait(
        FollowerLine(
            namespace="falco", pod="falco-c", container="falco", node="node-c", ts_ns=1, line=sample_lines[0]
        )
    )
    queue.put_nowait(None)
    await asyncio.wait_for(hub.consume(queue), 5)
    assert len(hub.store) == 2 and hub.store.get(0).via == "log+grpc"
    assert hub.channels[("ip-10-0-1-23", "grpc")].connected is False
    assert hub.pod_info("falco-c").version == "0.45.0"
    with pytest.raises(TypeError):
        hub.feed(42)


def test_text_mode_alerts_are_named_by_the_rules_templates(clock):
    from falcotui.falco.alert_text import OutputTemplates

    templates = OutputTemplates(
        [("Terminal shell in container", "Notice", "A shell was spawned in a container (shell=%proc.name)")]
    )
    hub = AlertHub(text_rules=templates, clock=clock)
    line = (
        "2026-11-26T09:02:17.500000000Z "  # the kubectl --timestamps prefix
        "09:02:17.120004511: Notice A shell was spawned in a container (shell=sh)"
    )
    hub.ingest_log_line("falco-t", line, node="node-t")
    entry = hub.store.get(0)
    assert entry.alert.rule == "Terminal shell in container" and entry.alert.output_fields == {
        "proc.name": "sh"
    }
    assert entry.alert.time_ns == 1_795_683_737_120_004_511 and entry.node == "node-t"


def test_stream_cuts_and_gaps_are_counted_and_a_gap_is_marked_in_the_alert_list(mk, clock):
    """Issue 17 item 7: log cuts never showed; a resume that cannot prove continuity leaves a marker."""
    from falcotui.ops.alerts.hub import GAP_RULE, MARKER_SOURCE

    hub = AlertHub(clock=clock)
    node = "ip-10-0-1-23"
    hub.set_channel(node, "log", False, detail="waiting")  # never streamed yet: not a cut
    assert hub.log_stream_health() == {"log_cuts": 0, "log_gaps": 0, "log_down": ()}
    hub.set_channel(node, "log", True)
    clock.advance(5)
    hub.set_channel(node, "log", False, detail="log stream cut: reset by peer")
    status = hub.channels[(node, "log")]
    assert status.cuts == 1 and status.last_cut_ns == clock.now
    assert hub.log_stream_health() == {"log_cuts": 1, "log_gaps": 0, "log_down": (node,)}
    hub.set_channel(node, "log", True)
    before, after = clock.now - 3 * mk.NS, clock.now - mk.NS
    hub.record_gap(node, "log", before, after, pod="falco-23")
    assert hub.log_stream_health() == {"log_cuts": 1, "log_gaps": 1, "log_down": ()}
    (marker,) = [e for e in hub.store if e.alert.source == MARKER_SOURCE]
    assert marker.alert.rule == GAP_RULE and marker.alert.time_ns == after and marker.node == node
    assert "2.0 s" in marker.alert.output
