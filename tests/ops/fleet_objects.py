"""Node, Falco pod and DaemonSet dicts in the Kubernetes API's shape for the fleet tests, and `cluster()`:
a nine-node cluster with one node in every state the fleet grid shows (running, crash-looping, tainted
away, unreachable, pulling a bad image, control plane, Windows, cordoned, pending).

Test modules import it after putting this folder on `sys.path` (tests are not packages).
"""

from __future__ import annotations

import copy

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
