"""The DaemonSet controller and node hooks against the real object store (no HTTP): scheduling, updates."""

from __future__ import annotations

import asyncio
import time

import pytest
from kubernetes.client import ApiClient

from falcotui.sim.api.errors import StoreError
from falcotui.sim.api.store import Store
from falcotui.sim.config import NodeSpec, SimConfig
from falcotui.sim.controllers.start import start_controllers

CP_TOLERATION = {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}


def daemonset(image="falcosecurity/falco:0.45.0", tolerations=(CP_TOLERATION,), strategy=None, **spec_extra):
    pod_spec = {"containers": [{"name": "falco", "image": image}], "tolerations": list(tolerations)}
    pod_spec.update(spec_extra)
    spec = {
        "selector": {"matchLabels": {"app": "falco"}},
        "template": {"metadata": {"labels": {"app": "falco"}}, "spec": pod_spec},
    }
    if strategy:
        spec["updateStrategy"] = strategy
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "falco", "namespace": "falco"},
        "spec": spec,
    }


async def wait_for(pred, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
async def sim(request):
    config = getattr(request, "param", None) or SimConfig(nodes=3, ready_delay=0.02)
    store = Store(seed=config.seed)
    for ns in ("default", "falco"):
        store.create("namespaces", {"metadata": {"name": ns}})
    controllers = await start_controllers(store, config)
    yield store, controllers
    await controllers.stop()


def ds_pods(store):
    return [p for p in store.list("pods", "falco")[0] if p["metadata"]["name"].startswith("falco-")]


def rolled_out(store, desired):
    ds = store.get("daemonsets", "falco", "falco")
    st = ds.get("status") or {}
    return (
        st.get("observedGeneration", 0) >= ds["metadata"]["generation"]
        and st.get("desiredNumberScheduled") == desired
        and st.get("updatedNumberScheduled") == desired
        and st.get("numberAvailable") == desired
    )


async def test_one_pod_per_node_with_the_pod_shape_of_a_real_daemonset(sim):
    store, _ = sim
    ds = store.create("daemonsets", daemonset())
    await wait_for(lambda: rolled_out(store, 3), what="rollout")
    pods = ds_pods(store)
    assert sorted(p["spec"]["nodeName"] for p in pods) == ["sim-cp-1", "sim-node-01", "sim-node-02"]
    nodes = {n["metadata"]["name"]: n for n in store.list("nodes")[0]}
    for pod in pods:
        meta, status = pod["metadata"], pod["status"]
        assert meta["name"].startswith("falco-") and len(meta["name"]) == len("falco-") + 5
        assert meta["ownerReferences"] == [
            {
                "apiVersion": "apps/v1",
                "kind": "DaemonSet",
                "name": "falco",
                "uid": ds["metadata"]["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        assert meta["labels"]["app"] == "falco" and meta["labels"]["pod-template-generation"] == "1"
        assert meta["labels"]["controller-revision-hash"]
        node = nodes[pod["spec"]["nodeName"]]
        internal = [a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP"]
        assert status["hostIP"] == internal[0] and internal[0].startswith("127.0.0.")
        assert status["podIP"].startswith("10.24") and status["phase"] == "Running"
        assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "True"
        cs = status["containerStatuses"][0]
        assert cs["ready"] and cs["restartCount"] == 0 and "running" in cs["state"]
    assert len({p["status"]["hostIP"] for p in pods}) == 3  # a loopback address per node
    status = store.get("daemonsets", "falco", "falco")["status"]
    assert status == {
        "currentNumberScheduled": 3,
        "desiredNumberScheduled": 3,
        "numberMisscheduled": 0,
        "numberReady": 3,
        "observedGeneration": 1,
        "updatedNumberScheduled": 3,
        "numberAvailable": 3,
    }
    events = store.list("events", "falco")[0]
    reasons = {(e["involvedObject"]["kind"], e["reason"]) for e in events}
    assert {
        ("DaemonSet", "SuccessfulCreate"),
        ("Pod", "Scheduled"),
        ("Pod", "Pulling"),
        ("Pod", "Started"),
    } <= reasons
    # Every object kind the controllers write deserializes into the official client's models.
    client = ApiClient()
    client._ApiClient__deserialize(store.get("daemonsets", "falco", "falco"), "V1DaemonSet")
    for pod in pods:
        client._ApiClient__deserialize(pod, "V1Pod")
    for node in nodes.values():
        client._ApiClient__deserialize(node, "V1Node")
    for event in events + store.list("events", "default")[0]:
        client._ApiClient__deserialize(event, "CoreV1Event")


@pytest.mark.parametrize(
    "sim",
    [
        SimConfig(
            nodes=3,
            ready_delay=0.02,
            extra_nodes=[NodeSpec("gpu-1", {"gpu": "yes"}, [{"key": "gpu", "effect": "NoSchedule"}])],
        )
    ],
    indirect=True,
)
async def test_taints_and_selectors_decide_where_pods_go(sim):
    store, _ = sim
    store.create("daemonsets", daemonset(tolerations=()))
    await wait_for(lambda: rolled_out(store, 2), what="rollout on untainted workers")
    assert sorted(p["spec"]["nodeName"] for p in ds_pods(store)) == ["sim-node-01", "sim-node-02"]

    def retarget(ds):
        ds["spec"]["template"]["spec"]["tolerations"] = [{"key": "gpu", "operator": "Exists"}, CP_TOLERATION]
        ds["spec"]["template"]["spec"]["nodeSelector"] = {"gpu": "yes"}

    store.mutate("daemonsets", "falco", "falco", retarget)
    await wait_for(lambda: rolled_out(store, 1) and len(ds_pods(store)) == 1, what="selector move")
    assert [p["spec"]["nodeName"] for p in ds_pods(store)] == ["gpu-1"]


async def test_unpullable_tag_backs_off_and_the_rollout_stays_incomplete(sim):
    store, _ = sim
    store.create("daemonsets", daemonset(image="falcosecurity/falco:9.9.9"))

    def backing_off():
        pods = ds_pods(store)
        waiting = [
            ((p.get("status") or {}).get("containerStatuses") or [{}])[0].get("state", {}).get("waiting", {})
            for p in pods
        ]
        return len(pods) == 3 and all(w.get("reason") == "ImagePullBackOff" for w in waiting) and waiting

    waiting = await wait_for(backing_off, what="ImagePullBackOff")
    assert 'Back-off pulling image "falcosecurity/falco:9.9.9"' in waiting[0]["message"]
    st = store.get("daemonsets", "falco", "falco")["status"]
    assert st["desiredNumberScheduled"] == 3 and st["numberReady"] == 0 and "numberAvailable" not in st
    assert st["numberUnavailable"] == 3
    messages = {
        e["message"] for e in store.list("events", "falco")[0] if e["reason"] in ("Failed", "BackOff")
    }
    assert "Error: ErrImagePull" in messages and "Error: ImagePullBackOff" in messages
    assert any("failed to resolve reference" in m and "not found" in m for m in messages)


async def track_unavailable(store, queue, desired, stop):
    """Worst number of nodes without an available pod seen while the pods change, and the most pods."""
    pods = {p["metadata"]["uid"]: p for p in ds_pods(store)}
    worst, most = 0, len(pods)
    while not stop.is_set():
        try:
            ev = await asyncio.wait_for(queue.get(), 0.05)
        except TimeoutError:
            continue
        if ev.type == "DELETED":
            pods.pop(ev.object["metadata"]["uid"], None)
        else:
            pods[ev.object["metadata"]["uid"]] = ev.object
        ready_nodes = {
            p["spec"]["nodeName"]
            for p in pods.values()
            if any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in (p.get("status") or {}).get("conditions", [])
            )
        }
        worst = max(worst, desired - len(ready_nodes))
        most = max(most, len(pods))
    return worst, most


@pytest.mark.parametrize("sim", [SimConfig(nodes=6, control_plane_nodes=0, ready_delay=0.03)], indirect=True)
@pytest.mark.parametrize(
    ("budget", "expect_worst", "expect_most"),
    [({"maxUnavailable": 2}, 2, 6), ({"maxUnavailable": 0, "maxSurge": 1}, 0, 7)],
)
async def test_template_change_replaces_every_pod_within_the_budget(sim, budget, expect_worst, expect_most):
    store, _ = sim
    store.create("daemonsets", daemonset(strategy={"type": "RollingUpdate", "rollingUpdate": budget}))
    await wait_for(lambda: rolled_out(store, 6), what="initial rollout")
    before = {p["metadata"]["name"] for p in ds_pods(store)}
    queue = store.subscribe({"pods"})
    stop = asyncio.Event()
    tracker = asyncio.create_task(track_unavailable(store, queue, 6, stop))

    def restart(ds):  # what `kubectl rollout restart` sends
        ds["spec"]["template"]["metadata"]["annotations"] = {
            "kubectl.kubernetes.io/restartedAt": "2026-11-26T14:00:00Z"
        }

    store.mutate("daemonsets", "falco", "falco", restart)
    await wait_for(lambda: rolled_out(store, 6) and len(ds_pods(store)) == 6, what="restart rollout")
    stop.set()
    worst, most = await tracker
    store.unsubscribe(queue)
    after = ds_pods(store)
    assert not before & {p["metadata"]["name"] for p in after}
    assert {p["metadata"]["labels"]["pod-template-generation"] for p in after} == {"2"}
    assert all(p["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"] for p in after)
    assert worst == expect_worst
    assert most == expect_most


async def test_on_delete_strategy_replaces_only_deleted_pods(sim):
    store, _ = sim
    store.create("daemonsets", daemonset(strategy={"type": "OnDelete"}))
    await wait_for(lambda: rolled_out(store, 3), what="rollout")
    store.mutate(
        "daemonsets",
        "falco",
        "falco",
        lambda ds: ds["spec"]["template"]["spec"]["containers"][0].update(image="falcosecurity/falco:0.44.1"),
    )
    await wait_for(
        lambda: store.get("daemonsets", "falco", "falco")["status"]["observedGeneration"] == 2,
        what="observed",
    )
    await asyncio.sleep(0.1)
    images = [p["spec"]["containers"][0]["image"] for p in ds_pods(store)]
    assert images == ["falcosecurity/falco:0.45.0"] * 3
    victim = ds_pods(store)[0]
    store.delete("pods", "falco", victim["metadata"]["name"])
    await wait_for(
        lambda: (
            sorted(p["spec"]["containers"][0]["image"] for p in ds_pods(store))
            == ["falcosecurity/falco:0.44.1", "falcosecurity/falco:0.45.0", "falcosecurity/falco:0.45.0"]
        ),
        what="replacement",
    )
    await wait_for(
        lambda: store.get("daemonsets", "falco", "falco")["status"].get("updatedNumberScheduled") == 1,
        what="updated count",
    )


async def test_node_not_ready_then_ready_again(sim):
    store, controllers = sim
    store.create("daemonsets", daemonset())
    await wait_for(lambda: rolled_out(store, 3), what="rollout")
    controllers.set_node_ready("sim-node-01", False)
    node = store.get("nodes", "", "sim-node-01")
    conds = {c["type"]: c for c in node["status"]["conditions"]}
    assert conds["Ready"]["status"] == "Unknown" and conds["Ready"]["reason"] == "NodeStatusUnknown"
    assert {(t["key"], t["effect"]) for t in node["spec"]["taints"]} == {
        ("node.kubernetes.io/unreachable", "NoSchedule"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
    }
    await wait_for(
        lambda: store.get("daemonsets", "falco", "falco")["status"]["numberReady"] == 2, what="not ready"
    )
    pod = next(p for p in ds_pods(store) if p["spec"]["nodeName"] == "sim-node-01")
    assert pod["status"]["phase"] == "Running"  # DaemonSet pods tolerate unreachable: they stay bound
    assert {c["type"]: c["status"] for c in pod["status"]["conditions"]}["Ready"] == "False"
    controllers.set_node_ready("sim-node-01", True)
    await wait_for(lambda: rolled_out(store, 3), what="back to ready")
    node = store.get("nodes", "", "sim-node-01")
    assert "taints" not in node["spec"]
    assert {c["type"]: c["status"] for c in node["status"]["conditions"]}["Ready"] == "True"


async def test_added_node_gets_a_pod_and_removed_node_loses_it(sim):
    store, controllers = sim
    store.create("daemonsets", daemonset())
    await wait_for(lambda: rolled_out(store, 3), what="rollout")
    node = controllers.add_node(NodeSpec("sim-node-99", {"pool": "extra"}))
    assert node["status"]["addresses"][0]["address"] == "127.0.0.5"
    await wait_for(lambda: rolled_out(store, 4), what="pod on the new node")
    assert "sim-node-99" in {p["spec"]["nodeName"] for p in ds_pods(store)}
    controllers.remove_node("sim-node-01")
    await wait_for(lambda: rolled_out(store, 3), what="pod gone with its node")
    assert "sim-node-01" not in {p["spec"]["nodeName"] for p in ds_pods(store)}
    assert controllers.kubelet("sim-node-01") is None


async def test_cordon_keeps_daemon_pods_and_deleting_the_daemonset_removes_them(sim):
    store, _ = sim
    store.create("daemonsets", daemonset())
    await wait_for(lambda: rolled_out(store, 3), what="rollout")
    store.mutate("nodes", "", "sim-node-02", lambda n: n["spec"].update(unschedulable=True))
    await wait_for(
        lambda: any(
            t["key"] == "node.kubernetes.io/unschedulable"
            for t in store.get("nodes", "", "sim-node-02")["spec"].get("taints", [])
        ),
        what="cordon taint",
    )
    await asyncio.sleep(0.05)
    assert rolled_out(store, 3)
    store.delete("daemonsets", "falco", "falco")
    assert ds_pods(store) == []


async def test_min_ready_seconds_delays_availability(sim):
    # An hour-long minReadySeconds makes "ready but not yet available" a stable state to look at (a
    # short one may run out before a loaded machine gets to look); lowering it then releases the pods.
    store, _ = sim
    ds = daemonset()
    ds["spec"]["minReadySeconds"] = 3600
    store.create("daemonsets", ds)
    await wait_for(
        lambda: store.get("daemonsets", "falco", "falco")["status"]["numberReady"] == 3, what="ready"
    )
    st = store.get("daemonsets", "falco", "falco")["status"]
    assert "numberAvailable" not in st and st["numberUnavailable"] == 3

    def shorten(obj):
        obj["spec"]["minReadySeconds"] = 1

    store.mutate("daemonsets", "falco", "falco", shorten)
    await wait_for(lambda: rolled_out(store, 3), what="available after minReadySeconds")


async def test_pod_names_are_reproducible_with_the_seed():
    names = []
    for _ in range(2):
        store = Store(seed=7)
        for ns in ("default", "falco"):
            store.create("namespaces", {"metadata": {"name": ns}})
        controllers = await start_controllers(store, SimConfig(nodes=3, seed=7, ready_delay=0.02))
        try:
            store.create("daemonsets", daemonset())
            await wait_for(lambda s=store: len(ds_pods(s)) == 3, what="pods")
            names.append(sorted((p["spec"]["nodeName"], p["metadata"]["name"]) for p in ds_pods(store)))
        finally:
            await controllers.stop()
    assert names[0] == names[1]


async def test_node_hooks_reject_unknown_and_duplicate_nodes(sim):
    _, controllers = sim
    with pytest.raises(StoreError) as err:
        controllers.add_node(NodeSpec("sim-node-01"))
    assert err.value.code == 409
    with pytest.raises(StoreError) as err:
        controllers.set_node_ready("no-such-node", False)
    assert err.value.code == 404
    assert controllers.kubelet("sim-node-01") is not None


async def test_new_no_schedule_taint_leaves_a_misscheduled_pod_and_no_execute_evicts_it(sim):
    store, _ = sim
    store.create("daemonsets", daemonset())
    await wait_for(lambda: rolled_out(store, 3), what="rollout")

    def taint(effect):
        def fn(node):
            node["spec"]["taints"] = [{"key": "maintenance", "value": "true", "effect": effect}]

        return fn

    store.mutate("nodes", "", "sim-node-01", taint("NoSchedule"))
    await wait_for(
        lambda: store.get("daemonsets", "falco", "falco")["status"]["numberMisscheduled"] == 1,
        what="misscheduled",
    )
    st = store.get("daemonsets", "falco", "falco")["status"]
    assert st["desiredNumberScheduled"] == 2 and st["currentNumberScheduled"] == 2
    assert "sim-node-01" in {p["spec"]["nodeName"] for p in ds_pods(store)}
    store.mutate("nodes", "", "sim-node-01", taint("NoExecute"))
    await wait_for(
        lambda: "sim-node-01" not in {p["spec"]["nodeName"] for p in ds_pods(store)}, what="eviction"
    )
    await wait_for(
        lambda: store.get("daemonsets", "falco", "falco")["status"]["numberMisscheduled"] == 0, what="0"
    )


async def test_an_unreadable_update_budget_is_reported_as_an_event(sim):
    store, _ = sim
    store.create(
        "daemonsets",
        daemonset(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "lots"}}),
    )
    events = await wait_for(
        lambda: [e for e in store.list("events", "falco")[0] if e["reason"] == "FailedUpdate"], what="event"
    )
    assert events[0]["type"] == "Warning" and "'lots'" in events[0]["message"]


async def test_template_generation_counts_template_changes_only_and_labels_the_pods(sim):
    store, _ = sim
    store.create("daemonsets", daemonset())
    gen = "deprecated.daemonset.template.generation"

    def current():
        return store.get("daemonsets", "falco", "falco")

    assert current()["metadata"]["annotations"][gen] == "1"
    await wait_for(lambda: len(ds_pods(store)) == 3, what="three pods")
    assert {p["metadata"]["labels"]["pod-template-generation"] for p in ds_pods(store)} == {"1"}
    ds = current()
    ds["spec"]["updateStrategy"] = {"type": "OnDelete"}  # not the template: generation moves, template's not
    store.update("daemonsets", ds)
    assert current()["metadata"]["generation"] == 2 and current()["metadata"]["annotations"][gen] == "1"
    ds = current()
    ds["spec"]["updateStrategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 3}}
    ds["spec"]["template"]["metadata"]["annotations"] = {"kubectl.kubernetes.io/restartedAt": "now"}
    store.update("daemonsets", ds)
    assert current()["metadata"]["annotations"][gen] == "2"
    await wait_for(
        lambda: (
            {p["metadata"]["labels"]["pod-template-generation"] for p in ds_pods(store)} == {"2"}
            and len(ds_pods(store)) == 3
        ),
        what="every pod replaced from template generation 2",
    )
