"""Event recording: one object per distinct event, repeats counted, the oldest dropped beyond the cap."""

from __future__ import annotations

from kubernetes.client import ApiClient

from falcotui.sim.api.store import Store
from falcotui.sim.controllers.events import EventSink


def make_store() -> tuple[Store, dict]:
    store = Store(seed=1)
    for ns in ("default", "falco"):
        store.create("namespaces", {"metadata": {"name": ns}})
    pod = store.create(
        "pods",
        {
            "metadata": {"name": "falco-x", "namespace": "falco"},
            "spec": {"containers": [{"name": "f", "image": "i"}]},
        },
    )
    return store, pod


def test_repeats_increment_count_and_keep_first_timestamp():
    store, pod = make_store()
    rec = EventSink(store).recorder("kubelet", "sim-node-01")
    for _ in range(3):
        rec.warning(pod, "BackOff", "Back-off restarting failed container f", "spec.containers{f}")
    rec.normal(pod, "Pulled", "Container image already present", "spec.containers{f}")
    events = sorted(store.list("events", "falco")[0], key=lambda e: e["reason"])
    assert [(e["reason"], e["count"], e["type"]) for e in events] == [
        ("BackOff", 3, "Warning"),
        ("Pulled", 1, "Normal"),
    ]
    ev = events[0]
    assert ev["involvedObject"] == {
        "apiVersion": "v1",
        "kind": "Pod",
        "name": "falco-x",
        "namespace": "falco",
        "uid": pod["metadata"]["uid"],
        "resourceVersion": pod["metadata"]["resourceVersion"],
        "fieldPath": "spec.containers{f}",
    }
    assert ev["source"] == {"component": "kubelet", "host": "sim-node-01"}
    assert ev["reportingComponent"] == "kubelet" and ev["reportingInstance"] == "sim-node-01"
    assert ev["firstTimestamp"] <= ev["lastTimestamp"]
    ApiClient()._ApiClient__deserialize(ev, "CoreV1Event")


def test_cluster_scoped_objects_get_events_in_default_and_the_oldest_go_first():
    store, _ = make_store()
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "uid": "u1"}}
    rec = EventSink(store, max_events=3).recorder("node-controller")
    for i in range(5):
        rec.normal(node, "RegisteredNode", f"Node n1 event {i}")
    messages = sorted(e["message"] for e in store.list("events", "default")[0])
    assert messages == ["Node n1 event 2", "Node n1 event 3", "Node n1 event 4"]
