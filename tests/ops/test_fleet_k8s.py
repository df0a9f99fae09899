"""Reading single Kubernetes objects for the fleet: whether a daemon pod belongs on a node (tolerations,
taint effects, node affinity; the rollout view gives the same answer in its own words) and a Falco pod's
state in `kubectl get pods` words."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fleet_objects import falco_pod, node

from falcotui.kube.eligibility import daemon_placement, tolerates
from falcotui.kube.rollout import why_not_eligible
from falcotui.ops.fleet.k8s import image_tag, pod_status


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


def test_the_rollout_view_and_the_fleet_agree_on_where_daemon_pods_belong():
    netless = {"key": "node.kubernetes.io/network-unavailable", "effect": "NoSchedule"}
    gpu = {"key": "dedicated", "value": "gpu", "effect": "NoExecute"}
    nodes = [
        node("plain"),
        node("netless", taints=[netless]),
        node("gpu", taints=[gpu, netless]),
        node("win", labels={"kubernetes.io/os": "windows"}),
    ]
    specs = [{}, {"hostNetwork": True}, {"nodeSelector": {"kubernetes.io/os": "linux"}}]
    for spec in specs:
        for n in nodes:
            assert (why_not_eligible(spec, n) == "") is daemon_placement(spec, n).eligible, (spec, n)
    assert why_not_eligible({"hostNetwork": True}, nodes[2]) == "taint dedicated=gpu:NoExecute not tolerated"
    assert daemon_placement({}, nodes[2]).reason == "taint dedicated=gpu:NoExecute not tolerated (+1 more)"
