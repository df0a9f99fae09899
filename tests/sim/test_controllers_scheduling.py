"""Pure scheduling rules: tolerations, node eligibility, update budgets, the rolling-update planner."""

from __future__ import annotations

import random

import pytest

from falcotui.sim.controllers.scheduling import (
    NodePods,
    SchedulingError,
    node_should_run,
    plan_rolling_update,
    random_suffix,
    scaled_int_or_percent,
    template_hash,
    tolerates,
    update_budget,
)

CP_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


def node(name="n1", labels=None, taints=None, unschedulable=False):
    spec: dict = {}
    if taints:
        spec["taints"] = taints
    if unschedulable:
        spec["unschedulable"] = True
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": spec}


@pytest.mark.parametrize(
    ("toleration", "taint", "expected"),
    [
        (
            {"key": "a", "operator": "Exists", "effect": "NoSchedule"},
            {"key": "a", "effect": "NoSchedule"},
            True,
        ),
        ({"key": "a", "operator": "Exists"}, {"key": "a", "effect": "NoExecute"}, True),  # any effect
        (
            {"key": "a", "operator": "Exists", "effect": "NoSchedule"},
            {"key": "a", "effect": "NoExecute"},
            False,
        ),
        ({"operator": "Exists"}, {"key": "anything", "value": "x", "effect": "NoExecute"}, True),
        (
            {"key": "a", "value": "1"},
            {"key": "a", "value": "1", "effect": "NoSchedule"},
            True,
        ),  # Equal default
        (
            {"key": "a", "operator": "Equal", "value": "1"},
            {"key": "a", "value": "2", "effect": "NoSchedule"},
            False,
        ),
        ({"key": "b", "operator": "Exists"}, {"key": "a", "effect": "NoSchedule"}, False),
        (
            {"key": "a", "operator": "Lt", "value": "1"},
            {"key": "a", "value": "1", "effect": "NoSchedule"},
            False,
        ),
    ],
)
def test_toleration_matching(toleration, taint, expected):
    assert tolerates(toleration, taint) is expected


def test_control_plane_taint_needs_a_toleration():
    cp = node("sim-cp-1", taints=[CP_TAINT])
    assert node_should_run({"containers": []}, cp) == (False, True)  # NoSchedule only: keeps running pods
    tolerated = {"tolerations": [{"key": CP_TAINT["key"], "operator": "Exists", "effect": "NoSchedule"}]}
    assert node_should_run(tolerated, cp) == (True, True)


def test_no_execute_taint_evicts_and_blocks():
    n = node(taints=[{"key": "dedicated", "value": "gpu", "effect": "NoExecute"}])
    assert node_should_run({}, n) == (False, False)
    assert node_should_run({"tolerations": [{"key": "dedicated", "value": "gpu"}]}, n) == (True, True)


def test_daemon_pods_tolerate_cordon_and_node_conditions():
    cordoned = node(
        taints=[
            {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"},
            {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"},
        ],
        unschedulable=True,
    )
    assert node_should_run({}, cordoned) == (True, True)


def test_node_selector_and_required_affinity():
    linux = node("a", labels={"kubernetes.io/os": "linux", "zone": "z1", "cores": "8"})
    assert node_should_run({"nodeSelector": {"kubernetes.io/os": "linux"}}, linux)[0]
    assert not node_should_run({"nodeSelector": {"kubernetes.io/os": "windows"}}, linux)[0]

    def affinity(*terms):
        return {
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}
                }
            }
        }

    def expr(key, op, *values):
        req = {"key": key, "operator": op}
        if values:
            req["values"] = list(values)
        return {"matchExpressions": [req]}

    assert node_should_run(affinity(expr("zone", "In", "z1", "z2")), linux)[0]
    assert not node_should_run(affinity(expr("zone", "NotIn", "z1")), linux)[0]
    assert node_should_run(affinity(expr("zone", "NotIn", "z9")), linux)[0]
    assert node_should_run(affinity(expr("gpu", "DoesNotExist")), linux)[0]
    assert not node_should_run(affinity(expr("gpu", "Exists")), linux)[0]
    assert node_should_run(affinity(expr("cores", "Gt", "4")), linux)[0]
    assert not node_should_run(affinity(expr("cores", "Lt", "4")), linux)[0]
    # terms are ORed
    assert node_should_run(affinity(expr("gpu", "Exists"), expr("zone", "In", "z1")), linux)[0]
    by_name = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["b"]}]}
    assert not node_should_run(affinity(by_name), linux)[0]
    assert node_should_run(affinity(by_name), node("b"))[0]


def test_int_or_percent():
    assert scaled_int_or_percent(2, 10, round_up=True, default=1) == 2
    assert scaled_int_or_percent("25%", 10, round_up=True, default=1) == 3
    assert scaled_int_or_percent("25%", 10, round_up=False, default=1) == 2
    assert scaled_int_or_percent(None, 10, round_up=True, default=1) == 1
    assert scaled_int_or_percent("3", 10, round_up=True, default=1) == 3
    with pytest.raises(SchedulingError):
        scaled_int_or_percent("lots", 10, round_up=True, default=1)
    with pytest.raises(SchedulingError):
        scaled_int_or_percent(-1, 10, round_up=True, default=1)


def test_update_budget_defaults_and_zero_zero():
    assert update_budget(None, 10) == (1, 0)
    assert update_budget({"maxUnavailable": "30%"}, 10) == (3, 0)
    assert update_budget({"maxUnavailable": 0, "maxSurge": 0}, 10) == (1, 0)
    assert update_budget({"maxUnavailable": 0, "maxSurge": "10%"}, 25) == (0, 3)


def test_template_hash_stable_and_sensitive():
    t1 = {"metadata": {"labels": {"app": "falco"}}, "spec": {"containers": [{"name": "f", "image": "x:1"}]}}
    t2 = {"spec": {"containers": [{"image": "x:1", "name": "f"}]}, "metadata": {"labels": {"app": "falco"}}}
    assert template_hash(t1) == template_hash(t2)
    t3 = {
        **t1,
        "metadata": {"labels": {"app": "falco"}, "annotations": {"kubectl.kubernetes.io/restartedAt": "x"}},
    }
    assert template_hash(t3) != template_hash(t1)
    assert template_hash(t1, 1) != template_hash(t1)
    assert template_hash(t1).isalnum() and template_hash(t1).islower()


def test_random_suffix_is_seeded():
    a = [random_suffix(random.Random("0/falco/falco")) for _ in range(3)]
    b = [random_suffix(random.Random("0/falco/falco")) for _ in range(3)]
    assert a == b and len(a[0]) == 5 and not set("aeiou013") & set("".join(a))


def test_plan_without_surge_respects_max_unavailable():
    nodes = [NodePods(f"n{i}", old=[f"old{i}"], available={f"old{i}"}) for i in range(5)]
    assert plan_rolling_update(nodes, 2, 0).delete == ["old0", "old1"]
    # one node already unavailable (new pod starting) leaves room for one more deletion
    nodes[0] = NodePods("n0", new=["new0"])
    assert plan_rolling_update(nodes, 2, 0).delete == ["old1"]
    # an unavailable old pod is replaced at once, outside the budget
    nodes[4] = NodePods("n4", old=["old4"])
    assert plan_rolling_update(nodes, 1, 0).delete == ["old4"]


def test_plan_with_surge_creates_then_deletes():
    nodes = [NodePods(f"n{i}", old=[f"old{i}"], available={f"old{i}"}) for i in range(3)]
    step = plan_rolling_update(nodes, 0, 1)
    assert step.create_on == ["n0"] and step.delete == []
    nodes[0] = NodePods("n0", old=["old0"], new=["new0"], available={"old0"})
    assert plan_rolling_update(nodes, 0, 1).create_on == []  # surge budget used by the starting pod
    nodes[0] = NodePods("n0", old=["old0"], new=["new0"], available={"old0", "new0"})
    step = plan_rolling_update(nodes, 0, 1)
    assert step.delete == ["old0"] and step.create_on == ["n1"]
