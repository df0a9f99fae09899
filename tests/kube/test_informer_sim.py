"""Informers against the simulated API server: 410 re-lists, bookmarks, dropped connections."""

from __future__ import annotations

import asyncio

from falcotui.kube.client import KubeClients
from falcotui.kube.informer import EventType, Informer, InformerEvent
from falcotui.kube.resources import CONFIGMAPS, NODES
from falcotui.sim.cluster import SimCluster
from falcotui.sim.config import NodeSpec


def server_view(kube: KubeClients, path: str) -> dict[tuple[str, str], str]:
    items = kube.request("GET", path)["items"]
    return {
        (i["metadata"].get("namespace", ""), i["metadata"]["name"]): i["metadata"]["resourceVersion"]
        for i in items
    }


def cache_view(inf: Informer) -> dict[tuple[str, str], str]:
    return {k: v["metadata"]["resourceVersion"] for k, v in inf.cache().items()}


def make_cm(kube: KubeClients, name: str, value: str = "1") -> None:
    kube.request(
        "POST",
        "/api/v1/namespaces/default/configmaps",
        body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"v": value}},
    )


async def test_relist_after_410_catches_up_with_changes_made_while_disconnected(
    sim: SimCluster, kube: KubeClients, eventually
) -> None:
    for i in range(5):
        make_cm(kube, f"cm-{i}")
    events: list[InformerEvent] = []
    inf = Informer(kube, CONFIGMAPS, events.append, namespace="default", watch_timeout=5)
    inf.start()
    try:
        await inf.wait_synced(10)
        make_cm(kube, "cm-live")  # seen through the watch
        await eventually(
            lambda: any(e.obj and e.obj["metadata"]["name"] == "cm-live" for e in events),
            "cm-live via the watch",
        )
        events.clear()

        async def outage() -> None:
            """API server down; meanwhile objects change and the watch history is compacted away."""
            await sim.server.stop()
            sim.store.delete("configmaps", "default", "cm-0")
            sim.store.delete("configmaps", "default", "cm-1")
            sim.store.mutate("configmaps", "default", "cm-2", lambda o: o["data"].update(v="2"))
            sim.store.create(
                "configmaps", {"metadata": {"name": "cm-new", "namespace": "default"}, "data": {}}
            )
            sim.store.expire_history()
            await sim.server.start()

        sim.call(outage)
        await eventually(lambda: any(e.type == EventType.RESYNCED for e in events), "a re-list after 410")
        assert inf.stats.expired >= 1
        want = server_view(kube, "/api/v1/namespaces/default/configmaps")
        assert cache_view(inf) == want
        deleted = {e.obj["metadata"]["name"] for e in events if e.type == EventType.DELETED}
        added = {e.obj["metadata"]["name"] for e in events if e.type == EventType.ADDED}
        modified = {e.obj["metadata"]["name"] for e in events if e.type == EventType.MODIFIED}
        assert deleted == {"cm-0", "cm-1"}
        assert added == {"cm-new"}
        assert modified == {"cm-2"}
        resynced = [e for e in events if e.type == EventType.RESYNCED][-1]
        assert set(resynced.snapshot) == set(want)
        assert inf.stats.lists == 2
    finally:
        await inf.aclose()


async def test_bookmarks_advance_the_resource_version(sim: SimCluster, kube: KubeClients, eventually) -> None:
    q: asyncio.Queue = asyncio.Queue()
    inf = Informer(kube, CONFIGMAPS, q, namespace="default", watch_timeout=30)
    inf.start()
    try:
        await inf.wait_synced(10)
        listed_rv = int(inf.resource_version)
        make_cm(kube, "elsewhere-ignored")  # bumps the global RV; in "default" so the watch also sees it
        kube.request(
            "POST",
            "/api/v1/namespaces",
            body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}},
        )  # a change the configmap watch never sees as an event
        ns_rv = int(kube.request("GET", "/api/v1/namespaces/other")["metadata"]["resourceVersion"])
        await eventually(lambda: inf.stats.bookmarks >= 1, "a bookmark arrives")
        await eventually(lambda: int(inf.resource_version) >= ns_rv, "a bookmark carries the newer RV")
        assert int(inf.resource_version) > listed_rv
        # Resuming after a cut starts from the bookmarked RV: no 410, no re-list.
        sim.close_watches()
        await eventually(lambda: inf.stats.watches >= 2, "the informer re-watches")
        assert inf.stats.lists == 1 and inf.stats.expired == 0
    finally:
        await inf.aclose()


async def test_dropped_connection_reconnects_and_catches_up(
    sim: SimCluster, kube: KubeClients, eventually
) -> None:
    q: asyncio.Queue = asyncio.Queue()
    inf = Informer(kube, NODES, q, watch_timeout=30)
    inf.start()
    try:
        await inf.wait_synced(10)
        before = inf.stats.watches
        sim.restart_api_server()
        sim.add_node(NodeSpec(name="late-node"))
        await eventually(lambda: ("", "late-node") in inf.cache(), "the node added after the restart")
        assert inf.stats.watches > before
        # nodes get heartbeats (a status write a minute): equal once caught up, not at one given instant
        caught_up = lambda: cache_view(inf) == server_view(kube, "/api/v1/nodes")  # noqa: E731
        await eventually(caught_up, "the cache equals the server's nodes")
    finally:
        await inf.aclose()


async def test_a_silent_connection_is_noticed_and_replaced(sim: SimCluster, via_proxy, eventually) -> None:
    """The watch connection goes quiet (a dead NAT entry, a hung proxy): the read timeout, set just above
    the server-side timeoutSeconds, drops it and the informer re-watches over a fresh connection."""
    proxy, kube = await via_proxy(sim)
    events: list[InformerEvent] = []
    inf = Informer(kube, CONFIGMAPS, events.append, namespace="default", watch_timeout=2, read_margin=0.5)
    inf.start()
    try:
        await inf.wait_synced(10)
        await eventually(lambda: inf.stats.watches >= 1, "the first watch is open")
        proxy.freeze()
        new = {"metadata": {"name": "after-freeze", "namespace": "default"}, "data": {}}
        sim.call(lambda: sim.store.create("configmaps", new))
        await eventually(
            lambda: ("default", "after-freeze") in inf.cache(), "the change arrives after the stall"
        )
        assert inf.stats.reconnects >= 1
        assert "connection lost" in inf.stats.last_error or "timed out" in inf.stats.last_error.lower()
    finally:
        await inf.aclose()


async def test_cache_converges_under_churn_cuts_and_expiry(
    sim: SimCluster, kube: KubeClients, eventually
) -> None:
    """Random creates/updates/deletes while watches are cut and history expires: the cache ends equal."""
    import random

    rng = random.Random(7)
    inf = Informer(kube, CONFIGMAPS, lambda e: None, namespace="default", watch_timeout=30)
    inf.start()
    try:
        await inf.wait_synced(10)
        for step in range(60):

            def churn(step: int = step) -> None:
                name = f"churn-{rng.randrange(12)}"
                existing = sim.store.peek("configmaps", "default", name)
                if existing is None:
                    sim.store.create(
                        "configmaps", {"metadata": {"name": name, "namespace": "default"}, "data": {}}
                    )
                elif rng.random() < 0.5:
                    sim.store.delete("configmaps", "default", name)
                else:
                    sim.store.mutate(
                        "configmaps", "default", name, lambda o: o.setdefault("data", {}).update(s=str(step))
                    )
                if step % 10 == 9:
                    sim.server.close_watches()
                if step % 20 == 19:
                    sim.store.expire_history()
                    sim.server.close_watches()

            sim.call(churn)
            await asyncio.sleep(0.01)
        want = server_view(kube, "/api/v1/namespaces/default/configmaps")
        await eventually(lambda: cache_view(inf) == want, "the cache equals the server after the churn")
        assert inf.stats.expired >= 1 and inf.stats.watches >= 4
    finally:
        await inf.aclose()
