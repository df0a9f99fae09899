"""A simulated kubelet per node: owns the node's pod workers, pod IPs, pulled images and readiness probes."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

from falcotui.sim.api.errors import StoreError
from falcotui.sim.config import NodeSpec, SimConfig
from falcotui.sim.controllers.events import EventRecorder
from falcotui.sim.nodes.pod_worker import PodWorker
from falcotui.sim.nodes.runtime import ContainerRuntime

RuntimeFor = Callable[[str], ContainerRuntime | None]


class Kubelet:
    """The node agent of one simulated node."""

    def __init__(
        self,
        *,
        store,
        config: SimConfig,
        node_name: str,
        node_ip: str,
        pod_cidr_prefix: str,
        runtime_for: RuntimeFor,
        recorder: EventRecorder,
        fast_probe: set[PodWorker] | None = None,
        node_spec: NodeSpec | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.node_name = node_name
        self.node_ip = node_ip
        self.pod_cidr_prefix = pod_cidr_prefix  # "10.244.3." → pods get .2 ... .254
        self.runtime_for = runtime_for
        self.recorder = recorder
        self.workers: dict[str, PodWorker] = {}  # pod uid -> worker
        self.by_name: dict[tuple[str, str], PodWorker] = {}
        self.pulled: set[str] = set()
        # workers with a container that is not ready yet (may be shared by all kubelets of a cluster)
        self.fast_probe: set[PodWorker] = fast_probe if fast_probe is not None else set()
        self.node_spec = node_spec or NodeSpec(node_name)
        # Per-node jitter of ConfigMap propagation, stable for a seed (see PodWorker.config_changed).
        self.rng = random.Random(f"{config.seed}/{node_name}/propagation")
        self.connected = asyncio.Event()
        self.connected.set()
        self._next_ip = 2
        self._background: set[asyncio.Task] = set()

    def clock_ns(self) -> int:
        """This node's wall clock (true time plus the node's `clock_offset`): what the container runtime
        stamps log lines with and what processes on the node read."""
        return time.time_ns() + round(self.node_spec.clock_offset * 1e9)

    def propagation_delay(self) -> float:
        """How long a ConfigMap/Secret change takes to reach this node's pods: `configmap_propagation_delay`
        plus a uniform 0..`configmap_propagation_jitter`. kubernetes.io (Configure a Pod to Use a ConfigMap,
        "Mounted ConfigMaps are updated automatically"): the kubelet checks on every periodic sync (1 min by
        default) through its cache, so "the total delay ... can be as long as the kubelet sync period + cache
        propagation delay", the latter being the watch propagation delay, the cache's TTL or zero by cache
        type. `falcotui sim` uses 60 + 0..60 s (sync period + a TTL cache); the docs give only the upper
        bound, so a real pod may also see a change sooner than 60 s."""
        cfg = self.config
        jitter = max(0.0, cfg.configmap_propagation_jitter)
        return cfg.configmap_propagation_delay + self.rng.uniform(0.0, jitter)

    def allocate_pod_ip(self) -> str:
        host = self._next_ip
        self._next_ip = 2 if self._next_ip >= 254 else self._next_ip + 1
        return f"{self.pod_cidr_prefix}{host}"

    def pod_event(self, type_: str, pod: dict) -> None:
        meta = pod["metadata"]
        uid = meta["uid"]
        worker = self.workers.get(uid)
        if type_ == "DELETED" or meta.get("deletionTimestamp"):
            if worker is not None:
                self._forget(worker)
                self.spawn(self._finish(worker, type_ != "DELETED"))
            return
        if worker is None:
            worker = PodWorker(self, pod)
            self.workers[uid] = worker
            self.by_name[(worker.namespace, worker.name)] = worker
            worker.start()
        else:
            worker.pod = pod

    def spawn(self, coro) -> None:
        """Run `coro` in the background, keeping a reference until it is done."""
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _forget(self, worker: PodWorker) -> None:
        self.workers.pop(worker.uid, None)
        self.fast_probe.discard(worker)
        if self.by_name.get((worker.namespace, worker.name)) is worker:
            del self.by_name[(worker.namespace, worker.name)]

    async def _finish(self, worker: PodWorker, remove_object: bool) -> None:
        await worker.stop()
        if remove_object:
            stored = self.store.peek("pods", worker.namespace, worker.name)
            if stored is not None and stored["metadata"].get("uid") == worker.uid:
                try:
                    self.store.delete("pods", worker.namespace, worker.name, uid=worker.uid)
                except StoreError:
                    pass

    def config_changed(self, uid: str) -> None:
        worker = self.workers.get(uid)
        if worker is not None:
            worker.config_changed()

    def probe(self, now_mono: float) -> None:
        """Probe every running container of this node."""
        for worker in self.workers.values():
            if worker.probe(now_mono):
                self.fast_probe.add(worker)

    def disconnect(self) -> None:
        """The node went NotReady: status writes wait, new pods wait, containers keep running."""
        self.connected.clear()

    def reconnect(self) -> None:
        self.connected.set()
        for worker in list(self.workers.values()):
            worker.conditions.times.pop("Ready", None)
            worker._last_status = None
            worker.write_status()

    async def stop(self) -> None:
        workers = list(self.workers.values())
        self.workers.clear()
        self.by_name.clear()
        await asyncio.gather(*(w.stop() for w in workers), *self._background, return_exceptions=True)
