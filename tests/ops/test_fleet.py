"""The fleet model over node/pod/DaemonSet dicts in the Kubernetes API's shape, joined with the AlertHub."""

from __future__ import annotations

import copy

import pytest

from falcotui.falco.alerts import Priority
from falcotui.kube.informer import EventType, InformerEvent
from falcotui.ops.alert_hub import AlertHub
from falcotui.ops.alert_store import AlertStore
from falcotui.ops.fleet import FleetState
from falcotui.ops.fleet_k8s import daemon_placement, image_tag, pod_status, tolerates
from falcotui.ops.fleet_status import NodeState, ReloadState

TS = "2026-11-26T08:00:00Z"


def node(
    name,
    *,
    ready="True",
    reason="KubeletReady",
    message="kubelet is posting ready status",
    taints=(),
    labels=None,
    unschedulable=False,
):
    obj = {
        "kind": "Node",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "uid": f"uid-{name}",
            "resourceVersion": "1001",
            "creationTimestamp": TS,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "node.kubernetes.io/instance-type": "m6i.large",
                **(labels or {}),
            },
        },
        "spec": {"providerID": f"aws:///eu-west-1a/i-{name}", "podCIDR": "10.244.1.0/24"},
        "status": {
            "conditions": [
                {
                    "type": "MemoryPressure",
                    "status": "False",
                    "reason": "KubeletHasSufficientMemory",
                    "lastHeartbeatTime": TS,
                    "lastTransitionTime": TS,
                },
                {
                    "type": "Ready",
                    "status": ready,
                    "reason": reason,
                    "message": message,
                    "lastHeartbeatTime": TS,
                    "lastTransitionTime": TS,
                },
            ],
            "nodeInfo": {"kubeletVersion": "v1.32.4", "containerRuntimeVersion": "containerd://1.7.27"},
        },
    }
    if taints:
        obj["spec"]["taints"] = [dict(t) for t in taints]
    if unschedulable:
        obj["spec"]["unschedulable"] = True
    return obj


def falco_pod(
    name,
    node_name,
    *,
    image="docker.io/falcosecurity/falco:0.45.0",
    phase="Running",
    ready=True,
    restarts=0,
    waiting=None,
    last_terminated=None,
    deleting=False,
    scheduled=True,
    created=TS,
):
    state = {"running": {"startedAt": TS}} if waiting is None else {"waiting": waiting}
    status = {
        "phase": phase,
        "hostIP": "10.0.1.23",
        "podIP": "10.244.1.7",
        "startTime": TS,
        "qosClass": "Burstable",
        "conditions": [
            {"type": "Initialized", "status": "True", "lastTransitionTime": TS},
            {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": TS},
            {"type": "ContainersReady", "status": "True" if ready else "False", "lastTransitionTime": TS},
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": TS},
        ],
        "containerStatuses": [
            {
                "name": "falco",
                "image": image,
                "imageID": "",
                "containerID": f"containerd://{name}",
                "ready": ready,
                "started": ready,
                "restartCount": restarts,
                "state": state,
                "lastState": {"terminated": last_terminated} if last_terminated else {},
            }
        ],
    }
    spec = {
        "containers": [{"name": "falco", "image": image, "args": ["/usr/bin/falco"]}],
        "serviceAccountName": "falco",
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}
                    ]
                }
            }
        },
    }
    if scheduled:
        spec["nodeName"] = node_name
    else:
        status = {
            "phase": "Pending",
            "qosClass": "Burstable",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": "0/9 nodes are available: 1 Insufficient memory.",
                    "lastTransitionTime": TS,
                }
            ],
        }
    meta = {
        "name": name,
        "generateName": "falco-",
        "namespace": "falco",
        "uid": f"uid-{name}",
        "resourceVersion": "2002",
        "creationTimestamp": created,
        "labels": {
            "app.kubernetes.io/name": "falco",
            "app.kubernetes.io/instance": "falco",
            "controller-revision-hash": "7d9f8c6b5",
            "pod-template-generation": "3",
        },
        "ownerReferences": [
            {
                "apiVersion": "apps/v1",
                "kind": "DaemonSet",
                "name": "falco",
                "uid": "uid-ds",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }
    if deleting:
        meta["deletionTimestamp"] = "2026-11-26T09:00:00Z"
        meta["deletionGracePeriodSeconds"] = 30
    return {"kind": "Pod", "apiVersion": "v1", "metadata": meta, "spec": spec, "status": status}


def daemonset(*, tolerations=None):
    return {
        "kind": "DaemonSet",
        "apiVersion": "apps/v1",
        "metadata": {
            "name": "falco",
            "namespace": "falco",
            "uid": "uid-ds",
            "generation": 3,
            "resourceVersion": "3003",
            "creationTimestamp": TS,
            "annotations": {"deprecated.daemonset.template.generation": "3"},
        },
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": "falco"}},
            "updateStrategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
            },
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": "falco"}},
                "spec": {
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "tolerations": tolerations
                    if tolerations is not None
                    else [
                        {
                            "key": "node-role.kubernetes.io/control-plane",
                            "operator": "Exists",
                            "effect": "NoSchedule",
                        }
                    ],
                    "containers": [{"name": "falco", "image": "docker.io/falcosecurity/falco:0.45.0"}],
                },
            },
        },
        "status": {
            "currentNumberScheduled": 7,
            "numberMisscheduled": 0,
            "desiredNumberScheduled": 8,
            "numberReady": 3,
            "observedGeneration": 3,
            "updatedNumberScheduled": 7,
            "numberAvailable": 3,
            "numberUnavailable": 5,
        },
    }


GPU = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
CONTROL_PLANE = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
UNREACHABLE = [
    {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule", "timeAdded": TS},
    {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": TS},
]


def cluster():
    nodes = [
        node("ip-10-0-1-23"),
        node("ip-10-0-1-57"),
        node("ip-10-0-2-11", taints=[GPU]),
        node(
            "ip-10-0-2-40",
            ready="Unknown",
            reason="NodeStatusUnknown",
            message="Kubelet stopped posting node status.",
            taints=UNREACHABLE,
        ),
        node("ip-10-0-3-5"),
        node("cp-1", taints=[CONTROL_PLANE], labels={"node-role.kubernetes.io/control-plane": ""}),
        node("win-1", labels={"kubernetes.io/os": "windows"}),
        node(
            "ip-10-0-4-9",
            unschedulable=True,
            taints=[{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule", "timeAdded": TS}],
        ),
        node("ip-10-0-5-1"),
    ]
    pods = [
        falco_pod("falco-old23", "ip-10-0-1-23", deleting=True, created="2026-11-25T08:00:00Z"),
        falco_pod("falco-x23ab", "ip-10-0-1-23"),
        falco_pod(
            "falco-c57de",
            "ip-10-0-1-57",
            ready=False,
            restarts=7,
            waiting={
                "reason": "CrashLoopBackOff",
                "message": "back-off 5m0s restarting failed container=falco pod=falco-c57de",
            },
            last_terminated={"exitCode": 1, "reason": "Error", "startedAt": TS, "finishedAt": TS},
        ),
        falco_pod("falco-n40fg", "ip-10-0-2-40"),
        falco_pod(
            "falco-i35hj",
            "ip-10-0-3-5",
            image="docker.io/falcosecurity/falco:0.45.1-typo",
            phase="Pending",
            ready=False,
            waiting={
                "reason": "ImagePullBackOff",
                "message": 'Back-off pulling image "docker.io/falcosecurity/falco:0.45.1-typo"',
            },
        ),
        falco_pod("falco-p51kl", "ip-10-0-5-1", scheduled=False, ready=False),
    ]
    other = copy.deepcopy(pods[1])
    other["metadata"].update(name="nginx-1", namespace="shop", labels={"app": "nginx"})
    return nodes, [*pods, other], daemonset()


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
    hub.ingest_log_line(
        "falco-x23ab", "Thu Nov 26 09:05:40 2026: SIGHUP received, restarting...", node="ip-10-0-1-23"
    )
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
    assert ok.reload.state is ReloadState.OK and ok.reload.at_ns == 1_795_683_940 * 1_000_000_000
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
    fleet.mark_reload_pending(1_795_684_000 * 1_000_000_000)  # after node 1-23's last SIGHUP
    assert fleet.row("ip-10-0-1-23").reload.state is ReloadState.PENDING
    assert fleet.row("ip-10-0-1-57").reload.state is ReloadState.CRASH_LOOP
    fleet.hub.ingest_log_line("falco-x23ab", "Thu Nov 26 09:07:00 2026: SIGHUP received, restarting...")
    assert fleet.row("ip-10-0-1-23").reload.state is ReloadState.OK
    fleet.mark_reload_pending(None)


def test_toleration_matching_follows_kubernetes():
    taint = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
    assert tolerates({"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}, taint)
    assert tolerates({"key": "dedicated", "value": "gpu"}, taint)  # operator defaults to Equal, any effect
    assert tolerates({"key": "dedicated", "operator": "Exists"}, taint)
    assert tolerates({"operator": "Exists"}, taint)  # empty key + Exists tolerates everything
    assert not tolerates({"key": "dedicated", "value": "cpu"}, taint)
    assert not tolerates({"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}, taint)
    assert not tolerates({"key": "other", "operator": "Exists"}, taint)
    spec = {"tolerations": []}
    prefer = node("n", taints=[{"key": "x", "effect": "PreferNoSchedule"}])
    assert daemon_placement(spec, prefer).eligible  # PreferNoSchedule does not keep a pod off
    netless = node("n", taints=[{"key": "node.kubernetes.io/network-unavailable", "effect": "NoSchedule"}])
    assert not daemon_placement(spec, netless).eligible
    assert daemon_placement({"hostNetwork": True}, netless).eligible  # added for hostNetwork daemon pods
    affinity = {
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["a"]}]}
                    ]
                }
            }
        }
    }
    placement = daemon_placement(affinity, node("n", labels={"pool": "b"}))
    assert placement.kind == "affinity"
    assert daemon_placement(affinity, node("n", labels={"pool": "a"})).eligible


def test_pod_state_words():
    assert image_tag("registry:5000/falcosecurity/falco:0.45.0@sha256:abc") == "0.45.0"
    assert image_tag("registry:5000/falcosecurity/falco") is None
    creating = falco_pod("p", "n", phase="Pending", ready=False, waiting={"reason": "ContainerCreating"})
    assert pod_status(creating).state == "ContainerCreating"
    terminating = falco_pod("p", "n", deleting=True)
    assert pod_status(terminating).state == "Terminating" and pod_status(terminating).terminating
    errpull = falco_pod(
        "p", "n", phase="Pending", ready=False, waiting={"reason": "ErrImagePull", "message": "not found"}
    )
    assert (pod_status(errpull).state, pod_status(errpull).detail) == ("ErrImagePull", "not found")


def test_a_crash_loop_between_back_offs_still_reads_as_a_crash_loop():
    # kubectl says "Running" for the moment the container runs before failing again.
    blink = falco_pod(
        "p", "n", ready=False, restarts=3, last_terminated={"exitCode": 1, "message": "Error: invalid rules"}
    )
    assert (pod_status(blink).state, pod_status(blink).detail) == (
        "CrashLoopBackOff",
        "last exit code 1: Error: invalid rules",
    )
    starting_once = falco_pod("p", "n", ready=False, restarts=1, last_terminated={"exitCode": 1})
    assert pod_status(starting_once).state == "Running"
    recovered = falco_pod("p", "n", ready=True, restarts=3, last_terminated={"exitCode": 1})
    assert pod_status(recovered).state == "Running"


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
