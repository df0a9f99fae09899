"""The DaemonSet controller: one pod per eligible node, rolling updates, and the DaemonSet status."""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time

from falcotui.sim.api.errors import StoreError
from falcotui.sim.config import SimConfig
from falcotui.sim.controllers.daemonset_pods import (
    PodInfo,
    new_pod,
    owner_uid,
    resource_version,
    scheduling_view,
)
from falcotui.sim.controllers.events import EventSink
from falcotui.sim.controllers.scheduling import (
    NodePods,
    SchedulingError,
    node_should_run,
    plan_rolling_update,
    random_suffix,
    template_hash,
    update_budget,
)

Key = tuple[str, str]
SYNC_BATCH_SECONDS = 0.01  # events arriving within this window are handled by one sync
RETRY_SECONDS = 0.5
log = logging.getLogger(__name__)


class DaemonSetController:
    """Keeps its own indexes from store events: nodes, DaemonSets, and each DaemonSet's pods by uid."""

    def __init__(self, store, config: SimConfig, events: EventSink) -> None:
        self.store = store
        self.config = config
        self.recorder = events.recorder("daemonset-controller")
        self.scheduler = events.recorder("default-scheduler")
        self.nodes: dict[str, dict] = {}
        self.daemonsets: dict[Key, dict] = {}
        self.pods: dict[str, dict[str, PodInfo]] = {}  # owner uid -> pod uid -> pod
        self._order = itertools.count()  # first-seen order: the tie-break for "oldest pod"
        self._sorted_nodes: list[str] | None = None
        self._deleted: set[str] = set()  # pod uids deleted by us whose DELETED event is still in flight
        self._eligibility: dict[tuple[str, int], dict[str, tuple[int, tuple[bool, bool]]]] = {}
        self._rngs: dict[Key, random.Random] = {}
        self._dirty: set[Key] = set()
        self._wake = asyncio.Event()
        self._timers: dict[Key, asyncio.TimerHandle] = {}
        self._create_failures: dict[Key, int] = {}  # consecutive failed pod creates (admission refusals)

    # ---- event intake ------------------------------------------------------------------------------
    def on_node(self, type_: str, node: dict) -> None:
        name = node["metadata"]["name"]
        old = self.nodes.get(name)
        if type_ == "DELETED":
            if self.nodes.pop(name, None) is not None:
                self._sorted_nodes = None
                self._enqueue_all()
            return
        if old is not None and resource_version(old) > resource_version(node):
            return
        self.nodes[name] = node
        if old is None:
            self._sorted_nodes = None
        if old is None or scheduling_view(old) != scheduling_view(node):
            self._enqueue_all()

    def on_daemonset(self, type_: str, ds: dict) -> None:
        key = (ds["metadata"]["namespace"], ds["metadata"]["name"])
        if type_ == "DELETED":
            self.daemonsets.pop(key, None)
            self._rngs.pop(key, None)
            timer = self._timers.pop(key, None)
            if timer is not None:
                timer.cancel()
            return
        old = self.daemonsets.get(key)
        if old is not None and resource_version(old) > resource_version(ds):
            return
        self.daemonsets[key] = ds
        if (
            old is None
            or old.get("spec") != ds.get("spec")
            or old["metadata"].get("generation") != ds["metadata"].get("generation")
        ):
            self._enqueue(key)

    def on_pod(self, type_: str, pod: dict) -> None:
        owner = owner_uid(pod)
        if owner is None:
            return
        uid = pod["metadata"]["uid"]
        bucket = self.pods.setdefault(owner, {})
        if type_ == "DELETED" or pod["metadata"].get("deletionTimestamp"):
            bucket.pop(uid, None)
            if type_ == "DELETED":
                self._deleted.discard(uid)
        else:
            if uid in self._deleted:
                return
            old = bucket.get(uid)
            if old is not None and old.rv > resource_version(pod):
                return
            info = bucket[uid] = PodInfo.of(pod, old.order if old is not None else next(self._order))
            if old is not None and old.view() == info.view():
                return
        if not bucket:
            self.pods.pop(owner, None)
        key = self._key_for_uid(owner, pod)
        if key is not None:
            self._enqueue(key)

    def _key_for_uid(self, owner: str, pod: dict) -> Key | None:
        for ref in pod["metadata"].get("ownerReferences") or ():
            if ref.get("uid") == owner:
                key = (pod["metadata"]["namespace"], ref.get("name"))
                ds = self.daemonsets.get(key)
                if ds is not None and ds["metadata"]["uid"] == owner:
                    return key
        return None

    def _enqueue(self, key: Key) -> None:
        self._dirty.add(key)
        self._wake.set()

    def _enqueue_all(self) -> None:
        for key in self.daemonsets:
            self._dirty.add(key)
        self._wake.set()

    # ---- worker ------------------------------------------------------------------------------------
    async def run(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(SYNC_BATCH_SECONDS)
            self._wake.clear()
            keys, self._dirty = sorted(self._dirty), set()
            for key in keys:
                try:
                    again = self.sync(key)
                except StoreError:  # e.g. the DaemonSet went away mid-sync: look again a little later
                    self._resync_at(key, RETRY_SECONDS)
                    continue
                except SchedulingError as exc:  # a spec value the API server should have refused
                    ds = self.daemonsets.get(key)
                    if ds is not None:
                        self.recorder.warning(ds, "FailedUpdate", str(exc))
                    continue
                except Exception:  # a bug must not stop every other DaemonSet
                    log.exception("DaemonSet %s/%s sync failed", *key)
                    self._resync_at(key, RETRY_SECONDS)
                    continue
                if again:
                    self._dirty.add(key)
                    self._wake.set()

    def _should_run(self, ds: dict, node: dict) -> tuple[bool, bool]:
        gen_key = (ds["metadata"]["uid"], int(ds["metadata"].get("generation") or 1))
        cache = self._eligibility.get(gen_key)
        if cache is None:
            self._eligibility = {k: v for k, v in self._eligibility.items() if k[0] != gen_key[0]}
            cache = self._eligibility[gen_key] = {}
        name = node["metadata"]["name"]
        hit = cache.get(name)
        node_rv = resource_version(node)
        if hit is not None and hit[0] == node_rv:
            return hit[1]
        try:
            result = node_should_run(ds["spec"]["template"].get("spec") or {}, node)
        except SchedulingError:
            result = (False, False)
        cache[name] = (node_rv, result)
        return result

    def sync(self, key: Key) -> bool:
        """One reconcile pass; True asks for another pass soon (creations/deletions are in flight)."""
        ds = self.daemonsets.get(key)
        if ds is None or ds["metadata"].get("deletionTimestamp"):
            return False
        uid = ds["metadata"]["uid"]
        spec = ds.get("spec") or {}
        hash_ = template_hash(
            spec.get("template") or {}, int((ds.get("status") or {}).get("collisionCount") or 0)
        )
        min_ready = int(spec.get("minReadySeconds") or 0)
        now = time.time()
        by_node: dict[str, list[PodInfo]] = {}
        for pod in self.pods.get(uid, {}).values():
            pods = by_node.get(pod.node)
            if pods is None:
                by_node[pod.node] = [pod]
            else:
                pods.append(pod)
                pods.sort(key=lambda p: (p.created, p.order))
        strategy = spec.get("updateStrategy") or {}
        rolling = (strategy.get("type") or "RollingUpdate") == "RollingUpdate"
        surge_allowed = rolling and update_budget(strategy.get("rollingUpdate"), 1)[1] > 0

        to_create: list[str] = []
        to_delete: list[PodInfo] = []
        eligibility: dict[str, tuple[bool, bool]] = {}
        if self._sorted_nodes is None:
            self._sorted_nodes = sorted(self.nodes)
        no_pods: list[PodInfo] = []
        for name in self._sorted_nodes:
            should_run, keep = eligibility[name] = self._should_run(ds, self.nodes[name])
            pods = by_node.get(name, no_pods)
            live = [p for p in pods if not p.failed] if pods else pods
            if len(live) != len(pods):
                to_delete.extend(p for p in pods if p.failed)
            if should_run and not live:
                to_create.append(name)
            elif not keep:
                to_delete.extend(live)
            elif len(live) > 1:
                if surge_allowed:
                    new = [p for p in live if p.hash == hash_]
                    old = [p for p in live if p.hash != hash_]
                    to_delete.extend(new[1:] + old[1:])
                else:
                    to_delete.extend(live[1:])
        for name, pods in by_node.items():
            if name not in self.nodes:
                to_delete.extend(pods)  # the pod garbage collector's job for pods of vanished nodes
        acted = self._apply(ds, hash_, to_create, to_delete)

        if rolling and not acted:
            desired = sum(1 for e in eligibility.values() if e[0])
            max_unavailable, max_surge = update_budget(strategy.get("rollingUpdate"), desired)
            plan_nodes = []
            for name, pods in by_node.items():
                if name not in self.nodes:
                    continue
                plan_nodes.append(
                    NodePods(
                        node=name,
                        old=[p.name for p in pods if p.hash != hash_],
                        new=[p.name for p in pods if p.hash == hash_],
                        available={p.name for p in pods if p.available(min_ready, now)},
                        should_run=eligibility[name][0],
                    )
                )
            step = plan_rolling_update(plan_nodes, max_unavailable, max_surge)
            names = set(step.delete)
            doomed = [p for pods in by_node.values() for p in pods if p.name in names]
            acted = self._apply(ds, hash_, step.create_on, doomed)

        self._write_status(ds, hash_, by_node, eligibility, min_ready, now)
        return acted

    def _apply(self, ds: dict, hash_: str, create_on: list[str], delete: list[PodInfo]) -> bool:
        acted = False
        key = (ds["metadata"]["namespace"], ds["metadata"]["name"])
        for pod in delete:
            self._deleted.add(pod.uid)
            self.pods.get(ds["metadata"]["uid"], {}).pop(pod.uid, None)
            try:
                gone = self.store.delete("pods", pod.namespace, pod.name, uid=pod.uid)
            except StoreError:
                gone = None
            if gone is not None:
                self.recorder.normal(ds, "SuccessfulDelete", f"Deleted pod: {pod.name}")
            acted = True
        for node in create_on:
            pod = self._new_pod(ds, hash_, node)
            try:
                created = self.store.create("pods", pod)
            except StoreError as exc:
                # controller_utils.go createPods: the event, then the sync fails and the DaemonSet goes back
                # on the queue rate-limited (exponential per-item back-off), so refusals repeat (the event's
                # count grows) until admission lets the pod through.
                self.recorder.warning(ds, "FailedCreate", f"Error creating: {exc.message}")
                failures = self._create_failures[key] = self._create_failures.get(key, 0) + 1
                cfg = self.config
                self._resync_at(key, min(cfg.crash_backoff_max, cfg.crash_backoff_base * 2 ** (failures - 1)))
                continue
            self._create_failures.pop(key, None)
            self.pods.setdefault(ds["metadata"]["uid"], {})[created["metadata"]["uid"]] = PodInfo.of(
                created, next(self._order)
            )
            self.recorder.normal(ds, "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")
            cmeta = created["metadata"]
            self.scheduler.normal(
                created, "Scheduled", f"Successfully assigned {cmeta['namespace']}/{cmeta['name']} to {node}"
            )
            acted = True
        return acted

    def _new_pod(self, ds: dict, hash_: str, node: str) -> dict:
        meta = ds["metadata"]
        key = (meta["namespace"], meta["name"])
        rng = self._rngs.get(key)
        if rng is None:
            rng = self._rngs[key] = random.Random(f"{self.config.seed}/{key[0]}/{key[1]}")
        while True:
            name = f"{meta['name']}-{random_suffix(rng)}"
            if self.store.peek("pods", meta["namespace"], name) is None:
                return new_pod(ds, hash_, node, name)

    def _write_status(
        self,
        ds: dict,
        hash_: str,
        by_node: dict[str, list[PodInfo]],
        eligibility: dict[str, tuple[bool, bool]],
        min_ready: int,
        now: float,
    ) -> None:
        desired = current = misscheduled = ready = updated = available = 0
        next_available: float | None = None
        for name, (should_run, _) in eligibility.items():
            pods = by_node.get(name)
            if not should_run:
                if pods:
                    misscheduled += 1
                continue
            desired += 1
            if not pods:
                continue
            current += 1
            pod = pods[0]
            if pod.ready_since is not None:
                ready += 1
                if pod.available(min_ready, now):
                    available += 1
                else:
                    due = pod.ready_since + min_ready
                    next_available = due if next_available is None else min(next_available, due)
            if pod.hash == hash_:
                updated += 1
        status: dict = {
            "currentNumberScheduled": current,
            "desiredNumberScheduled": desired,
            "numberMisscheduled": misscheduled,
            "numberReady": ready,
            "observedGeneration": int(ds["metadata"].get("generation") or 1),
        }
        for field, value in (
            ("updatedNumberScheduled", updated),
            ("numberAvailable", available),
            ("numberUnavailable", desired - available),
        ):
            if value:
                status[field] = value
        old = ds.get("status") or {}
        if "collisionCount" in old:
            status["collisionCount"] = old["collisionCount"]
        if old.get("conditions"):
            status["conditions"] = old["conditions"]
        key = (ds["metadata"]["namespace"], ds["metadata"]["name"])
        if next_available is not None:
            self._resync_at(key, next_available - now)
        if status != old:
            updated_ds = self.store.update(
                "daemonsets",
                {"metadata": {"name": key[1], "namespace": key[0]}, "status": status},
                check_rv=False,
                subresource="status",
            )
            self.daemonsets[key] = updated_ds

    def _resync_at(self, key: Key, delay: float) -> None:
        loop = asyncio.get_running_loop()
        when = loop.time() + max(0.0, delay) + 0.01
        timer = self._timers.get(key)
        if timer is not None:
            if timer.when() <= when:
                return
            timer.cancel()  # e.g. minReadySeconds was lowered: the pending resync comes too late

        def fire() -> None:
            self._timers.pop(key, None)
            self._enqueue(key)

        self._timers[key] = loop.call_at(when, fire)

    def stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
