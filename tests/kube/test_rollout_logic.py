"""kubectl's rollout messages and the per-node explanations, computed from plain objects."""

from __future__ import annotations

from falcotui.kube.rollout import kubectl_status, rollout_status, why_not_eligible

CP_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


def ds(
    generation=2,
    observed=2,
    desired=3,
    updated=3,
    available=3,
    strategy="RollingUpdate",
    image="falco:0.45.0",
):
    return {
        "metadata": {"name": "falco", "namespace": "falco", "uid": "ds-uid", "generation": generation},
        "spec": {
            "updateStrategy": {"type": strategy},
            "template": {
                "spec": {
                    "containers": [{"name": "falco", "image": image}],
                    "tolerations": [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists"}],
                }
            },
        },
        "status": {
            "observedGeneration": observed,
            "desiredNumberScheduled": desired,
            "updatedNumberScheduled": updated,
            "numberAvailable": available,
        },
    }


def node(name, ready=True, taints=(), labels=None):
    return {
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"taints": list(taints)},
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


def pod(
    name,
    node_name,
    generation="2",
    image="falco:0.45.0",
    waiting=None,
    ready=True,
    restarts=0,
    phase="Running",
):
    state = {"waiting": waiting} if waiting else {"running": {}}
    return {
        "metadata": {
            "name": name,
            "labels": {"pod-template-generation": generation},
            "ownerReferences": [{"uid": "ds-uid", "kind": "DaemonSet"}],
        },
        "spec": {"nodeName": node_name, "containers": [{"name": "falco", "image": image}]},
        "status": {
            "phase": phase,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [
                {"name": "falco", "restartCount": restarts, "state": state, "lastState": {}}
            ],
        },
    }


def test_kubectl_messages_word_for_word() -> None:
    assert kubectl_status(ds(generation=3, observed=2)) == (
        "Waiting for daemon set spec update to be observed...",
        False,
    )
    assert kubectl_status(ds(updated=1)) == (
        'Waiting for daemon set "falco" rollout to finish: 1 out of 3 new pods have been updated...',
        False,
    )
    assert kubectl_status(ds(available=2)) == (
        'Waiting for daemon set "falco" rollout to finish: 2 of 3 updated pods are available...',
        False,
    )
    assert kubectl_status(ds()) == ('daemon set "falco" successfully rolled out', True)
    assert kubectl_status(ds(strategy="OnDelete"))[0] == (
        "rollout status is only available for RollingUpdate strategy type"
    )


def test_nodes_without_a_pod_say_why() -> None:
    spec = ds()["spec"]["template"]["spec"]
    assert why_not_eligible(spec, node("cp", taints=[CP_TAINT])) == ""
    gpu = {"key": "gpu", "value": "true", "effect": "NoExecute"}
    assert why_not_eligible(spec, node("g", taints=[gpu])) == "taint gpu=true:NoExecute not tolerated"
    # DaemonSet pods tolerate unschedulable (cordoned) nodes automatically.
    cordoned = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
    assert why_not_eligible(spec, node("c", taints=[cordoned])) == ""
    picky = {**spec, "nodeSelector": {"falco": "yes"}}
    assert why_not_eligible(picky, node("n")) == "nodeSelector does not match (needs falco=yes)"
    assert why_not_eligible(picky, node("n", labels={"falco": "yes"})) == ""
    affinity = {
        **spec,
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}
                    ]
                }
            }
        },
    }
    assert (
        why_not_eligible(affinity, node("n", labels={"zone": "b"})) == "required node affinity does not match"
    )


def test_per_node_states_old_new_stuck_and_missing() -> None:
    d = ds(generation=3, observed=3, updated=1, available=1, desired=4, image="falco:0.46.0")
    nodes = [
        node("a"),
        node("b"),
        node("c"),
        node("d", ready=False),
        node("e", taints=[{"key": "x", "effect": "NoSchedule"}]),
    ]
    pods = [
        pod("p-a", "a", generation="3", image="falco:0.46.0"),
        pod(
            "p-b",
            "b",
            generation="3",
            image="falco:0.46.0",
            waiting={"reason": "ImagePullBackOff", "message": 'Back-off pulling image "falco:0.46.0"'},
            ready=False,
            phase="Pending",
        ),
        pod("p-c", "c", generation="2", image="falco:0.45.0"),
        pod("p-d", "d", generation="2", image="falco:0.45.0"),
    ]
    status = rollout_status(d, pods, nodes)
    by = {n.node: n for n in status.nodes}
    assert not status.done
    assert (by["a"].state, by["a"].revision) == ("ready", "new")
    assert (by["b"].state, by["b"].reason) == ("stuck", "ImagePullBackOff")
    assert "Back-off pulling image" in by["b"].message
    assert (by["c"].state, by["c"].revision) == ("updating", "old")
    assert (by["d"].state, by["d"].reason) == ("stuck", "NodeNotReady")
    assert (by["e"].state, by["e"].eligible) == ("not-eligible", False)
    assert by["e"].message == "taint x:NoSchedule not tolerated"
    assert [n.node for n in status.stuck] == ["b", "d"]


def test_crash_loop_reports_restart_count_and_last_exit() -> None:
    p = pod(
        "p", "a", waiting={"reason": "CrashLoopBackOff", "message": "back-off 40s"}, ready=False, restarts=4
    )
    p["status"]["containerStatuses"][0]["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error"}}
    status = rollout_status(ds(), [p], [node("a")])
    n = status.nodes[0]
    assert (n.state, n.reason, n.restarts) == ("stuck", "CrashLoopBackOff", 4)
    assert n.message == "restarted 4 times, last exit code 1; back-off 40s"


def test_unschedulable_pending_pod_carries_the_scheduler_message() -> None:
    p = pod("p", "a", ready=False, phase="Pending")
    p["status"]["containerStatuses"] = []
    p["status"]["conditions"] = [
        {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": "0/1 nodes are available",
        }
    ]
    n = rollout_status(ds(), [p], [node("a")]).nodes[0]
    assert (n.state, n.reason, n.message) == ("stuck", "Unschedulable", "0/1 nodes are available")


def test_template_generation_annotation_is_decisive_when_present() -> None:
    d = ds(generation=5)
    d["metadata"]["annotations"] = {"deprecated.daemonset.template.generation": "4"}
    same_containers_old_generation = pod("p", "a", generation="3")
    current = pod("q", "b", generation="4")
    status = rollout_status(d, [same_containers_old_generation, current], [node("a"), node("b")])
    assert [n.revision for n in status.nodes] == ["old", "new"]
