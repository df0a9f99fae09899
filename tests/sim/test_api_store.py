"""The store contract controllers build on: RVs, generations, cascading deletes, subscriptions, history."""

from __future__ import annotations

import asyncio

import pytest

from falcotui.sim.api.store import Store, StoreError


def _ds(name: str = "falco") -> dict:
    return {
        "metadata": {"name": name, "namespace": "falco"},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [{"name": "falco", "image": "falcosecurity/falco:0.45.0"}]}},
        },
    }  # fmt: skip


@pytest.fixture
def store() -> Store:
    s = Store(history=100, clock=lambda: 1_795_000_000.0, seed=1)
    s.create("namespaces", {"metadata": {"name": "falco"}})
    return s


def test_create_fills_server_fields(store):
    ds = store.create("daemonsets", _ds())
    meta = ds["metadata"]
    assert (ds["apiVersion"], ds["kind"]) == ("apps/v1", "DaemonSet")
    assert meta["uid"] and meta["generation"] == 1 and meta["creationTimestamp"] == "2026-11-18T11:06:40Z"
    assert int(meta["resourceVersion"]) == store.resource_version
    rolling = {"maxUnavailable": 1, "maxSurge": 0}
    assert ds["spec"]["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": rolling}
    assert ds["status"]["desiredNumberScheduled"] == 0
    with pytest.raises(StoreError) as err:
        store.create("daemonsets", _ds())
    assert (err.value.code, err.value.reason) == (409, "AlreadyExists")


def test_generation_moves_only_with_spec(store):
    ds = store.create("daemonsets", _ds())
    ds["metadata"]["labels"] = {"x": "y"}
    assert store.update("daemonsets", ds)["metadata"]["generation"] == 1
    out = store.mutate("daemonsets", "falco", "falco", lambda o: o["status"].update(numberReady=2),
                       subresource="status")  # fmt: skip
    assert out["metadata"]["generation"] == 1 and out["status"]["numberReady"] == 2

    def bump(o: dict) -> None:
        o["spec"]["template"]["spec"]["containers"][0]["image"] = "falcosecurity/falco:0.44.1"

    assert store.mutate("daemonsets", "falco", "falco", bump)["metadata"]["generation"] == 2


def test_unchanged_update_keeps_the_resource_version(store):
    cm = store.create("configmaps", {"metadata": {"name": "c", "namespace": "falco"}, "data": {"a": "1"}})
    again = store.update("configmaps", cm)
    assert again["metadata"]["resourceVersion"] == cm["metadata"]["resourceVersion"]


def test_deleting_an_owner_deletes_its_dependents(store):
    ds = store.create("daemonsets", _ds())
    owner = {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "falco", "uid": ds["metadata"]["uid"],
             "controller": True}  # fmt: skip
    for _ in range(3):
        meta = {"generateName": "falco-", "namespace": "falco", "ownerReferences": [owner]}
        store.create("pods", {"metadata": meta, "spec": {"containers": [{"name": "falco", "image": "x:1"}]}})
    store.create("pods", {"metadata": {"name": "loner", "namespace": "falco"},
                          "spec": {"containers": [{"name": "c", "image": "x:1"}]}})  # fmt: skip
    store.delete("daemonsets", "falco", "falco")
    assert [p["metadata"]["name"] for p in store.list("pods")[0]] == ["loner"]


async def test_subscribers_see_every_change_in_order(store):
    q = store.subscribe({"configmaps"})
    other = store.subscribe()
    store.create("configmaps", {"metadata": {"name": "a", "namespace": "falco"}})
    store.mutate("configmaps", "falco", "a", lambda o: o.update(data={"k": "v"}))
    store.delete("configmaps", "falco", "a")
    store.create("secrets", {"metadata": {"name": "s", "namespace": "falco"}})
    events = [q.get_nowait() for _ in range(q.qsize())]
    assert [e.type for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    assert [e.rv for e in events] == sorted(e.rv for e in events)
    assert events[1].old is not None and events[1].old.get("data") is None
    events[0].object["metadata"]["name"] = "scribbled"  # subscribers get copies by default
    assert store.get("secrets", "falco", "s")["metadata"]["name"] == "s"
    assert other.qsize() == 4
    store.unsubscribe(q)
    store.create("configmaps", {"metadata": {"name": "b", "namespace": "falco"}})
    assert q.empty()
    await asyncio.sleep(0)


def test_events_since_filters_and_expires(store):
    rv = store.resource_version
    store.create("configmaps", {"metadata": {"name": "a", "namespace": "falco", "labels": {"t": "x"}}})
    store.create("configmaps", {"metadata": {"name": "b", "namespace": "falco", "labels": {"t": "y"}}})
    events = store.events_since("configmaps", "falco", rv, label_selector="t=y")
    assert [e.object["metadata"]["name"] for e in events] == ["b"]
    store.expire_history()
    with pytest.raises(StoreError) as err:
        store.events_since("configmaps", "falco", rv)
    assert (err.value.code, err.value.reason) == (410, "Expired")
    assert store.events_since("configmaps", "falco", store.resource_version) == []


def test_namespace_delete_without_a_loop_removes_contents_at_once(store):
    store.create("configmaps", {"metadata": {"name": "a", "namespace": "falco"}})
    store.delete("namespaces", "", "falco")
    assert store.get("namespaces", "", "falco") is None
    assert store.list("configmaps")[0] == []
