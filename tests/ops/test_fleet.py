"""The fleet model over node/pod/DaemonSet dicts in the Kubernetes API's shape, joined with the AlertHub:
rows, summary, sorting and filtering, incremental events, reload state, placement with the shipped
DaemonSet."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fleet_objects import CONTROL_PLANE, GPU, UNREACHABLE, cluster, daemonset, node

from falcotui.falco.alerts import Priority, parse_json_alert
from falcotui.kube.informer import EventType, InformerEvent
from falcotui.ops.alerts.hub import AlertHub
from falcotui.ops.alerts.store import AlertStore
from falcotui.ops.fleet.model import FleetState
from falcotui.ops.fleet.status import NodeState, ReloadState
from falcotui.ops.rules.reload_state import PushMark


@pytest.fixture
def fleet(mk, clock, sample_lines):
    hub = AlertHub(AlertStore(10_000, clock=clock), clock=clock)
    state = FleetState(hub)
    nodes, pods, ds = cluster()
    state.replace("nodes", nodes)
    state.replace("pods", pods)
    state.apply("daemonsets", "added", ds)
    for line in sample_lines[:13]:  # the startup lines: version 0.45.0
        hub.ingest_log_line("falco-x23ab", line, node="ip-10-0-1-23")
    for line in (
        "Thu Nov 26 09:05:40 2026: SIGHUP received, restarting...",
        "Thu Nov 26 09:05:40 2026: Falco version: 0.45.0 (x86_64)",
        "Thu Nov 26 09:05:40 2026: Opening 'syscall' source with modern BPF probe.",  # restarted
    ):
        hub.ingest_log_line("falco-x23ab", line, node="ip-10-0-1-23")
    for i in range(42):
        hub.ingest(
            mk.log_alert(i, node="ip-10-0-1-23", falco_pod="falco-x23ab", time_ns=clock.now - 10 * mk.NS)
        )
    hub.ingest(
        mk.log_alert(
            99,
            node="ip-10-0-1-23",
            falco_pod="falco-x23ab",
            priority="Critical",
            time_ns=clock.now - 5 * 60 * mk.NS,
        )
    )
    hub.ingest(
        mk.log_alert(100, node="ip-10-0-2-40", falco_pod="falco-n40fg", time_ns=clock.now - 8 * 60 * mk.NS)
    )
    hub.set_channel("ip-10-0-2-40", "log", False, detail="node unreachable")
    hub.ingest_log_line(
        "falco-c57de", "Error: /etc/falco/rules.d/custom-rules.yaml: Invalid", node="ip-10-0-1-57"
    )
    return state


def test_rows_join_nodes_pods_and_falco_state(fleet):
    rows = {r.name: r for r in fleet.rows()}
    assert list(rows) == [
        "cp-1",
        "ip-10-0-1-23",
        "ip-10-0-1-57",
        "ip-10-0-2-11",
        "ip-10-0-2-40",
        "ip-10-0-3-5",
        "ip-10-0-4-9",
        "ip-10-0-5-1",
        "win-1",
    ]
    ok = rows["ip-10-0-1-23"]
    assert (
        ok.state is NodeState.RUNNING and ok.ready is True and ok.pod.name == "falco-x23ab"
    )  # not the old one
    assert ok.pod.ready_text == "1/1" and ok.version == "0.45.0" and ok.version_source == "log"
    assert ok.reload.state is ReloadState.RELOADED and ok.reload.at_ns == 1_795_683_940 * 1_000_000_000
    assert ok.alerts_per_min == 42 and ok.series[-1] == 42 and sum(ok.series) == 43
    assert ok.worst is Priority.CRITICAL and ok.channels == ("log",)

    crash = rows["ip-10-0-1-57"]
    assert (
        crash.state is NodeState.CRASH_LOOP and crash.restarts == 7 and crash.pod.state == "CrashLoopBackOff"
    )
    assert crash.pod.detail.startswith("last exit code 1: back-off 5m0s")
    assert crash.reload.state is ReloadState.CRASH_LOOP
    assert crash.reload.detail == "/etc/falco/rules.d/custom-rules.yaml: Invalid"

    gpu = rows["ip-10-0-2-11"]
    assert gpu.state is NodeState.NO_POD and gpu.pod is None
    assert (
        gpu.no_pod_reason == "taint dedicated=gpu:NoSchedule not tolerated"
        and gpu.no_pod_taint == "dedicated=gpu:NoSchedule"
    )

    lost = rows["ip-10-0-2-40"]
    assert lost.state is NodeState.NODE_NOT_READY and lost.ready is None
    assert lost.ready_reason == "NodeStatusUnknown: Kubelet stopped posting node status."
    assert lost.channels == () and lost.worst is Priority.WARNING and lost.alerts_per_min == 0
    assert lost.version == "0.45.0" and lost.version_source == "image"
    assert lost.taints == (
        "node.kubernetes.io/unreachable:NoSchedule",
        "node.kubernetes.io/unreachable:NoExecute",
    )

    pull = rows["ip-10-0-3-5"]
    assert pull.state is NodeState.IMAGE_PULL and pull.pod.state == "ImagePullBackOff"
    assert pull.version == "0.45.1-typo" and "Back-off pulling image" in pull.pod.detail

    assert rows["cp-1"].no_pod_reason == "pending creation"  # control-plane taint is tolerated
    assert (
        rows["win-1"].no_pod_reason == "nodeSelector kubernetes.io/os=linux does not match the node's labels"
    )
    cordoned = rows["ip-10-0-4-9"]
    assert cordoned.cordoned and cordoned.no_pod_reason == "pending creation"  # daemon pods tolerate cordons

    pending = rows["ip-10-0-5-1"]  # not scheduled yet: found through its node affinity
    assert pending.state is NodeState.PENDING and pending.pod.state == "Pending"
    assert pending.pod.detail == "Unschedulable: 0/9 nodes are available: 1 Insufficient memory."


def test_summary_and_daemonset(fleet):
    summary = fleet.summary()
    assert summary.text == (
        "9 nodes · 1 crash-looping · 1 failing to pull the image · 1 pending · 4 without Falco · 1 not ready"
    )
    ds = fleet.daemonset()
    assert ds.text == "DS 3/8 ready · 7 updated" and not ds.rolled_out and ds.observed
    assert ds.image == "docker.io/falcosecurity/falco:0.45.0"


def test_sorting_and_filtering(fleet):
    assert [r.name for r in fleet.rows("alerts")][:2] == ["ip-10-0-1-23", "cp-1"]
    assert next(r.name for r in fleet.rows("restarts")) == "ip-10-0-1-57"
    assert [r.name for r in fleet.rows("worst")][:2] == ["ip-10-0-1-23", "ip-10-0-2-40"]
    by_state = [r.state for r in fleet.rows("state")]
    assert by_state == sorted(by_state, key=lambda s: s.rank) and by_state[0] is NodeState.NO_POD
    assert next(r.name for r in fleet.rows("name", descending=True)) == "win-1"
    assert [r.name for r in fleet.rows(text="crash")] == ["ip-10-0-1-57"]
    assert [r.name for r in fleet.rows(text="gpu")] == ["ip-10-0-2-11"]
    with pytest.raises(ValueError):
        fleet.rows("colour")


def test_events_apply_incrementally(fleet):
    fleet.changed()
    crash_pod = fleet.pods[("falco", "falco-c57de")]
    fleet.apply("pods", "deleted", crash_pod)
    assert fleet.changed() == {"ip-10-0-1-57"}
    assert fleet.row("ip-10-0-1-57").no_pod_reason == "pending creation"
    fleet.apply("daemonsets", "modified", daemonset(tolerations=[{"operator": "Exists"}]))
    assert fleet.row("ip-10-0-2-11").no_pod_reason == "pending creation"
    assert fleet.row("win-1").no_pod_reason.startswith("nodeSelector")
    fleet.apply_event(InformerEvent(EventType.DELETED, "nodes", fleet.nodes["win-1"]))
    assert fleet.row("win-1") is None and "win-1" not in [r.name for r in fleet.rows()]
    recovered = node("ip-10-0-2-40")
    fleet.apply_event(InformerEvent(EventType.MODIFIED, "nodes", recovered))
    assert fleet.row("ip-10-0-2-40").state is NodeState.RUNNING
    fleet.apply_event(InformerEvent(EventType.RESYNCED, "pods", snapshot={}))
    assert fleet.summary().without_falco == 8
    fleet.apply("daemonsets", "deleted", fleet._ds)
    assert fleet.row("ip-10-0-1-23").no_pod_reason == "no DaemonSet 'falco'" and fleet.daemonset() is None


def test_reload_pending_after_a_push(fleet, clock):
    fleet.mark_reload_pending(PushMark(1_795_684_000 * 1_000_000_000))  # after node 1-23's last SIGHUP
    pending = fleet.row("ip-10-0-1-23").reload
    assert pending.state is ReloadState.PENDING and pending.push_ns == 1_795_684_000 * 1_000_000_000
    assert pending.detail == "waiting for the kubelet to update the mounted rules"
    # crash-looping at the push: it waits for a restart with the new rules
    crashing = fleet.row("ip-10-0-1-57").reload
    assert crashing.state is ReloadState.PENDING and "crash-looping before the push" in crashing.detail
    fleet.hub.ingest_log_line("falco-x23ab", "Thu Nov 26 09:07:00 2026: SIGHUP received, restarting...")
    assert fleet.row("ip-10-0-1-23").reload.state is ReloadState.RESTARTING
    fleet.hub.ingest_log_line(
        "falco-x23ab", "Thu Nov 26 09:07:01 2026: Opening 'syscall' source with modern BPF probe."
    )
    done = fleet.row("ip-10-0-1-23").reload
    assert done.state is ReloadState.RELOADED and done.at_ns == 1_795_684_021 * 1_000_000_000
    assert done.detail == "restarted with the new rules"
    fleet.mark_reload_pending(None)
    assert fleet.row("ip-10-0-1-23").reload.push_ns is None


def test_a_refused_push_shows_rejected_with_the_reason(fleet, mk, sample_lines):
    fleet.mark_reload_pending(PushMark(1_795_684_000 * 1_000_000_000))
    failure = next(ln for ln in sample_lines if "hot restart failure" in ln)
    alert = parse_json_alert(failure, node="ip-10-0-1-23", pod="falco-x23ab")
    fleet.hub.ingest(alert, line_ns=1_795_684_100 * 1_000_000_000)
    row = fleet.row("ip-10-0-1-23").reload
    assert row.state is ReloadState.REJECTED and row.at_ns == 1_795_684_100 * 1_000_000_000
    assert row.detail.startswith("Falco internal: hot restart failure: custom-rules.yaml:13")
    assert row.failure is not None and row.failure.line == 13


def test_placement_with_the_shipped_daemonset(repo_root):
    import yaml

    ds = yaml.safe_load((repo_root / "manifests" / "40-daemonset.yaml").read_text())
    state = FleetState()
    state.apply("daemonsets", "added", ds)
    state.replace(
        "nodes",
        [
            node("cp-1", taints=[CONTROL_PLANE]),
            node("legacy-master", taints=[{"key": "node-role.kubernetes.io/master", "effect": "NoSchedule"}]),
            node("gpu-1", taints=[GPU]),
            node("lost-1", ready="False", reason="KubeletNotReady", taints=UNREACHABLE[1:]),
        ],
    )
    reasons = {r.name: r.no_pod_reason for r in state.rows()}
    assert reasons == {
        "cp-1": "pending creation",
        "gpu-1": "taint dedicated=gpu:NoSchedule not tolerated",
        "legacy-master": "pending creation",
        "lost-1": "pending creation (node not ready)",  # unreachable:NoExecute is tolerated by daemon pods
    }
    assert state.daemonset().image == "falcosecurity/falco:0.45.0"
    assert state.summary().text == "4 nodes · 4 without Falco · 1 not ready"


def test_an_admission_refusal_explains_the_nodes_waiting_for_their_pod_until_the_spec_changes(fleet):
    refusal = 'Error creating: admission webhook "gatekeeper" denied the request: hostPath is not allowed'
    fleet.daemonset_refused(refusal)
    assert fleet.row("cp-1").no_pod_reason == f"admission refuses the pod: {refusal}"
    assert fleet.row("win-1").no_pod_reason.startswith("nodeSelector")  # not eligible anyway: unchanged
    assert fleet.row("ip-10-0-1-23").pod is not None  # nodes with a pod are not concerned
    newer = daemonset(tolerations=[{"operator": "Exists"}])
    newer["metadata"]["generation"] = 8
    fleet.apply("daemonsets", "modified", newer)
    assert fleet.row("cp-1").no_pod_reason == "pending creation"
