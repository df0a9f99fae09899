"""Wires the cluster's moving parts to the store: Node objects, a kubelet per node, the DaemonSet controller.

One store subscription feeds everything: pod events are routed to the kubelet of the pod's node and to the
DaemonSet controller, ConfigMap/Secret changes only to the pods that read them (an index, so no event
costs more than the pods it concerns). Fault hooks (`set_node_ready`, `add_node`, `remove_node`) act the
way the node lifecycle controller and pod garbage collector of a real cluster would.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable

from falcotui.sim.api.errors import StoreError
from falcotui.sim.config import NodeSpec, SimConfig
from falcotui.sim.controllers.daemonset_controller import DaemonSetController
from falcotui.sim.controllers.events import EventSink, rfc3339
from falcotui.sim.controllers.replicaset_controller import ReplicaSetController
from falcotui.sim.nodes.kubelet import Kubelet
from falcotui.sim.nodes.kubelet_volumes import referenced_objects
from falcotui.sim.nodes.node_objects import (
    build_node,
    generated_node_specs,
    node_conditions,
    node_ip,
    pod_cidr_prefix,
)
from falcotui.sim.nodes.runtime import ContainerLog, ContainerRuntime

log = logging.getLogger(__name__)

NODE_STATUS_REPORT_SECONDS = 60.0
PROBE_ALL_SECONDS = 1.0
UNREACHABLE = "node.kubernetes.io/unreachable"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
_WATCHED = {"nodes", "pods", "daemonsets", "replicasets", "configmaps", "secrets"}


class Controllers:
    """The running controllers of one simulated cluster."""

    def __init__(
        self, store, config: SimConfig, runtime_for_image: Callable[[str], ContainerRuntime | None] | None
    ) -> None:
        self.store = store
        self.config = config
        self._runtime_for = runtime_for_image or (lambda _image: None)
        self.events = EventSink(store)
        self.daemonsets = DaemonSetController(store, config, self.events)
        self.replicasets = ReplicaSetController(store, self.events.recorder("replicaset-controller"))
        self.kubelets: dict[str, Kubelet] = {}
        self._ordinal = itertools.count()
        self._ready: dict[str, bool] = {}
        self._pod_node: dict[tuple[str, str], str] = {}  # (namespace, pod) -> node
        self._readers: dict[
            tuple[str, str, str], set[tuple[str, str]]
        ] = {}  # (ns, res, name) -> {(node, uid)}
        self._pod_refs: dict[str, tuple[str, str, set[tuple[str, str]]]] = {}  # uid -> (ns, node, refs)
        self._fast_probe: set = set()  # pod workers with a container not ready yet, across all kubelets
        self._queue: asyncio.Queue | None = None
        self._tasks: list[asyncio.Task] = []
        self._background: set[asyncio.Task] = set()  # kubelets of removed nodes shutting down

    # ---- startup / shutdown ------------------------------------------------------------------------
    async def _start(self) -> None:
        self._queue = self.store.subscribe(_WATCHED, copy=False)
        for spec in generated_node_specs(self.config):
            if self.store.peek("nodes", "", spec.name) is None:
                self.add_node(spec)
        for resource, handler in (
            ("nodes", self._on_node),
            ("daemonsets", self.daemonsets.on_daemonset),
            ("replicasets", self.replicasets.on_replicaset),
            ("pods", self._on_pod),
        ):
            for obj in self.store.peek_list(resource):
                handler("ADDED", obj)
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._dispatch(), name="sim-controllers-dispatch"),
            loop.create_task(self.daemonsets.run(), name="sim-daemonset-controller"),
            loop.create_task(self._probe_loop(), name="sim-kubelet-prober"),
            loop.create_task(self._heartbeat_loop(), name="sim-node-heartbeats"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self._queue is not None:
            self.store.unsubscribe(self._queue)
            self._queue = None
        self.daemonsets.stop()
        kubelets = list(self.kubelets.values())
        self.kubelets.clear()
        await asyncio.gather(*(k.stop() for k in kubelets), *self._background, return_exceptions=True)

    # ---- event routing -----------------------------------------------------------------------------
    async def _dispatch(self) -> None:
        assert self._queue is not None
        queue = self._queue
        while True:
            ev = await queue.get()
            self._handle(ev)
            while not queue.empty():
                self._handle(queue.get_nowait())

    def _handle(self, ev) -> None:
        try:
            if ev.resource == "pods":
                self._on_pod(ev.type, ev.object)
            elif ev.resource == "nodes":
                self._on_node(ev.type, ev.object)
            elif ev.resource == "daemonsets":
                self.daemonsets.on_daemonset(ev.type, ev.object)
            elif ev.resource == "replicasets":
                self.replicasets.on_replicaset(ev.type, ev.object)
            elif ev.type != "DELETED":  # a deleted ConfigMap leaves the last files in place, as upstream
                meta = ev.object["metadata"]
                for node, uid in list(self._readers.get((meta["namespace"], ev.resource, meta["name"]), ())):
                    kubelet = self.kubelets.get(node)
                    if kubelet is not None:
                        kubelet.config_changed(uid)
        except Exception:  # one bad object must not stop every controller
            log.exception("simulated controllers failed on %s %s", ev.type, ev.resource)

    def _on_pod(self, type_: str, pod: dict) -> None:
        self.daemonsets.on_pod(type_, pod)
        self.replicasets.on_pod(type_, pod)
        meta = pod["metadata"]
        uid = meta["uid"]
        node = (pod.get("spec") or {}).get("nodeName")
        if type_ == "DELETED":
            self._drop_pod_refs(uid)
            if self._pod_node.get((meta["namespace"], meta["name"])) == node:
                self._pod_node.pop((meta["namespace"], meta["name"]), None)
        elif node and uid not in self._pod_refs:
            refs = referenced_objects(pod.get("spec") or {})
            self._pod_refs[uid] = (meta["namespace"], node, refs)
            for resource, name in refs:
                self._readers.setdefault((meta["namespace"], resource, name), set()).add((node, uid))
            self._pod_node[(meta["namespace"], meta["name"])] = node
        kubelet = self.kubelets.get(node) if node else None
        if kubelet is not None:
            kubelet.pod_event(type_, pod)

    def _drop_pod_refs(self, uid: str) -> None:
        entry = self._pod_refs.pop(uid, None)
        if entry is None:
            return
        ns, node, refs = entry
        for resource, name in refs:
            readers = self._readers.get((ns, resource, name))
            if readers is not None:
                readers.discard((node, uid))
                if not readers:
                    del self._readers[(ns, resource, name)]

    def _on_node(self, type_: str, node: dict) -> None:
        self.daemonsets.on_node(type_, node)
        name = node["metadata"]["name"]
        if type_ == "DELETED":
            self._node_gone(name)
            return
        current = self.store.peek("nodes", "", name)  # events may lag behind the store: act on the latest
        spec = (current or {}).get("spec") or {}
        has_taint = any(t.get("key") == UNSCHEDULABLE for t in spec.get("taints") or [])
        if current is not None and bool(spec.get("unschedulable")) != has_taint:
            # what the node lifecycle controller does for `kubectl cordon` / `uncordon`: with the
            # TaintNodesByCondition behaviour it keeps the `node.kubernetes.io/unschedulable:NoSchedule`
            # taint in step with spec.unschedulable (kubernetes/kubernetes pkg/controller/nodelifecycle/
            # node_lifecycle_controller.go `doNoScheduleTaintingPass`, UnschedulableTaintTemplate; listed
            # in the "Taints and Tolerations" docs as a taint the node controller adds)
            def sync_taint(obj: dict) -> None:
                s = obj.setdefault("spec", {})
                ts = [t for t in s.get("taints") or [] if t.get("key") != UNSCHEDULABLE]
                if s.get("unschedulable"):
                    ts.append({"key": UNSCHEDULABLE, "effect": "NoSchedule", "timeAdded": rfc3339()})
                if ts:
                    s["taints"] = ts
                else:
                    s.pop("taints", None)

            self.store.mutate("nodes", "", name, sync_taint)

    def _node_gone(self, name: str) -> None:
        kubelet = self.kubelets.pop(name, None)
        self._ready.pop(name, None)
        if kubelet is None:
            return
        pods = list(kubelet.by_name)
        task = asyncio.get_running_loop().create_task(kubelet.stop())
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        for ns, pod in pods:  # the pod garbage collector removes pods bound to a vanished node
            with contextlib.suppress(StoreError):
                self.store.delete("pods", ns, pod)

    # ---- background loops --------------------------------------------------------------------------
    async def _probe_loop(self) -> None:
        """Starting containers are probed often; running ones about once a second (like periodSeconds)."""
        period = min(1.0, max(0.02, self.config.ready_delay / 2))
        every = max(1, round(PROBE_ALL_SECONDS / period))
        for tick in itertools.count(1):
            await asyncio.sleep(period)
            now = time.monotonic()
            for worker in list(self._fast_probe):
                if worker.stopping or not worker.probe(now):
                    self._fast_probe.discard(worker)
            if tick % every == 0:
                for kubelet in list(self.kubelets.values()):
                    kubelet.probe(now)

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(NODE_STATUS_REPORT_SECONDS)
            now = rfc3339()
            for name in [n for n, ok in self._ready.items() if ok]:

                def beat(obj: dict, now: str = now) -> None:
                    for cond in (obj.get("status") or {}).get("conditions") or []:
                        cond["lastHeartbeatTime"] = now

                with contextlib.suppress(StoreError):
                    self.store.mutate("nodes", "", name, beat, subresource="status")

    # ---- fault hooks and accessors -----------------------------------------------------------------
    def add_node(self, spec: NodeSpec) -> dict:
        """Register a new node (with its kubelet); DaemonSets schedule onto it within a moment."""
        if spec.name in self.kubelets or self.store.peek("nodes", "", spec.name) is not None:
            raise StoreError(409, f'nodes "{spec.name}" already exists', "AlreadyExists")
        ordinal = next(self._ordinal)
        created = self.store.create("nodes", build_node(spec, ordinal, self.config.seed))
        self.kubelets[spec.name] = Kubelet(
            store=self.store,
            config=self.config,
            node_name=spec.name,
            node_ip=node_ip(ordinal),
            pod_cidr_prefix=pod_cidr_prefix(ordinal),
            runtime_for=self._runtime_for,
            recorder=self.events.recorder("kubelet", spec.name),
            fast_probe=self._fast_probe,
            node_spec=spec,
        )
        self._ready[spec.name] = True
        return created

    def remove_node(self, name: str) -> None:
        """Delete the node; its pods go with it (as the pod garbage collector would do)."""
        self.store.delete("nodes", "", name)
        self._node_gone(name)

    def set_node_ready(self, name: str, ready: bool) -> None:
        """NotReady the way the node lifecycle controller marks a silent node; Ready brings it back.

        NotReady: every condition turns Unknown (NodeStatusUnknown), the node gets the unreachable taints,
        its pods' Ready condition turns False; DaemonSet pods tolerate the taints and stay bound.
        """
        kubelet = self.kubelets.get(name)
        if kubelet is None or self.store.peek("nodes", "", name) is None:
            raise StoreError(404, f'nodes "{name}" not found', "NotFound")
        if self._ready.get(name) == ready:
            return
        self._ready[name] = ready
        now = rfc3339()

        def taints(obj: dict) -> None:
            s = obj.setdefault("spec", {})
            ts = [t for t in s.get("taints") or [] if t.get("key") != UNREACHABLE]
            if not ready:
                ts.append({"key": UNREACHABLE, "effect": "NoSchedule", "timeAdded": now})
                ts.append({"key": UNREACHABLE, "effect": "NoExecute", "timeAdded": now})
            if ts:
                s["taints"] = ts
            else:
                s.pop("taints", None)

        def conditions(obj: dict) -> None:
            status = obj.setdefault("status", {})
            heartbeats = {c.get("type"): c.get("lastHeartbeatTime") for c in status.get("conditions") or []}
            if ready:
                status["conditions"] = node_conditions(now)
            else:
                status["conditions"] = node_conditions(now, heartbeats.get("Ready"), ready=False)

        if ready:
            self.store.mutate("nodes", "", name, conditions, subresource="status")
            self.store.mutate("nodes", "", name, taints)
            kubelet.reconnect()
            return
        kubelet.disconnect()
        self.store.mutate("nodes", "", name, conditions, subresource="status")
        self.store.mutate("nodes", "", name, taints)

        def mark_not_ready(pod: dict) -> None:
            for cond in (pod.get("status") or {}).get("conditions") or []:
                if cond.get("type") == "Ready" and cond.get("status") != "False":
                    cond["status"] = "False"
                    cond["lastTransitionTime"] = now

        for ns, pod in list(kubelet.by_name):
            with contextlib.suppress(StoreError):
                self.store.mutate("pods", ns, pod, mark_not_ready, subresource="status")

    def node_ready(self, name: str) -> bool | None:
        return self._ready.get(name)

    def kubelet(self, node_name: str) -> Kubelet | None:
        return self.kubelets.get(node_name)

    def _worker(self, namespace: str, pod: str):
        node = self._pod_node.get((namespace, pod))
        kubelet = self.kubelets.get(node) if node else None
        return kubelet.by_name.get((namespace, pod)) if kubelet is not None else None

    def container_log(
        self, namespace: str, pod: str, container: str, previous: bool = False
    ) -> ContainerLog | None:
        """The log of the container's current instance (or the one before it with `previous`)."""
        worker = self._worker(namespace, pod)
        run = worker.runs.get(container) if worker is not None else None
        if run is None:
            return None
        return run.previous_log if previous else run.log

    def pod_files(self, namespace: str, pod: str) -> dict[str, str]:
        """The ConfigMap/Secret files the pod's containers currently see (path -> content)."""
        worker = self._worker(namespace, pod)
        return worker.files() if worker is not None else {}

    def container_handle(self, namespace: str, pod: str, container: str):
        """The runtime handle of the running container instance, if any (for exec and port-forward)."""
        worker = self._worker(namespace, pod)
        run = worker.runs.get(container) if worker is not None else None
        return run.handle if run is not None else None


async def start_controllers(
    store, config: SimConfig, runtime_for_image: Callable[[str], ContainerRuntime | None] | None = None
) -> Controllers:
    """Create the nodes and start the kubelets and the DaemonSet controller on the running loop."""
    controllers = Controllers(store, config, runtime_for_image)
    await controllers._start()
    return controllers
