"""One pod on one node, driven by its kubelet: volumes, image pulls, container restarts, status, probes."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from falcotui.sim.api.errors import StoreError
from falcotui.sim.controllers.events import rfc3339
from falcotui.sim.nodes.idle_runtime import IdleRuntime
from falcotui.sim.nodes.kubelet_status import (
    Conditions,
    ContainerState,
    backoff_delay,
    go_duration,
    image_id,
    pod_status,
    pull_failure,
    qos_class,
)
from falcotui.sim.nodes.kubelet_volumes import (
    MountedFiles,
    VolumeError,
    container_env,
    host_path_mounts,
    mount_modes,
    mounted_files,
    refreshed_files,
)
from falcotui.sim.nodes.runtime import ContainerContext, ContainerHandle, ContainerLog

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from falcotui.sim.nodes.kubelet import Kubelet

_IDLE = IdleRuntime()


@dataclass(slots=True)
class ContainerRun:
    """One container slot of a pod: its spec, state, current handle and the logs of two instances."""

    spec: dict
    state: ContainerState
    handle: ContainerHandle | None = None
    log: ContainerLog | None = None
    previous_log: ContainerLog | None = None
    mounted: MountedFiles = field(default_factory=MountedFiles)
    started_mono: float = 0.0
    crashes: int = 0


class PodWorker:
    """Drives one pod on one node until it is deleted."""

    def __init__(self, kubelet: Kubelet, pod: dict) -> None:
        self.kubelet = kubelet
        self.pod = pod  # the latest stored object seen (read-only)
        meta = pod["metadata"]
        self.namespace: str = meta["namespace"]
        self.name: str = meta["name"]
        self.uid: str = meta["uid"]
        self.spec: dict = pod.get("spec") or {}
        self.runs: dict[str, ContainerRun] = {
            c["name"]: ContainerRun(c, ContainerState(c["name"], c.get("image", "")))
            for c in self.spec.get("containers") or []
        }
        self.conditions = Conditions()
        self.start_time = time.time()
        self.pod_ip: str | None = None
        self.qos = qos_class(self.spec)
        self.stopping = False
        self._last_status: dict | None = None
        self._volume_wakeup = asyncio.Event()
        self._propagation: asyncio.TimerHandle | None = None
        self._task: asyncio.Task | None = None

    # ---- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"pod {self.name}")

    async def stop(self) -> None:
        self.stopping = True
        if self._propagation is not None:
            self._propagation.cancel()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        for run in self.runs.values():
            if run.handle is not None:
                try:
                    await run.handle.stop()
                except Exception:
                    log.exception(
                        "stopping container %s of pod %s/%s failed", run.state.name, self.namespace, self.name
                    )
                run.handle = None
            if run.log is not None:
                run.log.close()

    def _lookup(self, resource: str, name: str) -> dict | None:
        return self.kubelet.store.peek(resource, self.namespace, name)

    async def _run(self) -> None:
        try:
            await self._lifecycle()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("pod worker for %s/%s failed", self.namespace, self.name)

    async def _lifecycle(self) -> None:
        kl = self.kubelet
        await kl.connected.wait()
        self.write_status()
        await self._mount_volumes()
        await asyncio.sleep(kl.config.container_start_delay)
        self.pod_ip = kl.node_ip if self.spec.get("hostNetwork") else kl.allocate_pod_ip()
        self.write_status()
        await asyncio.gather(*(self._run_container(run) for run in self.runs.values()))

    async def _mount_volumes(self) -> None:
        cfg = self.kubelet.config
        failures = 0
        while True:
            try:
                for run in self.runs.values():
                    run.mounted = mounted_files(self.spec, run.spec, self._lookup)
                return
            except VolumeError as exc:
                failures += 1
                self.kubelet.recorder.warning(self.pod, "FailedMount", exc.message)
                self._volume_wakeup.clear()
                delay = backoff_delay(failures, cfg.crash_backoff_base, cfg.crash_backoff_max)
                try:
                    await asyncio.wait_for(self._volume_wakeup.wait(), delay)
                except TimeoutError:
                    pass

    async def _run_container(self, run: ContainerRun) -> None:
        kl, cfg, cs = self.kubelet, self.kubelet.config, run.state
        field_path = f"spec.containers{{{cs.name}}}"
        config_failures = 0
        while not self.stopping:
            await self._pull(run, field_path)
            try:
                env = container_env(run.spec, self.pod, kl.node_ip, self.pod_ip or "", self._lookup)
                if cs.ever_started:
                    try:
                        run.mounted = mounted_files(self.spec, run.spec, self._lookup)
                    except VolumeError:
                        pass  # keep the last good projection
            except VolumeError as exc:
                config_failures += 1
                cs.state, cs.reason, cs.message = "waiting", exc.reason, exc.message
                kl.recorder.warning(self.pod, "Failed", f"Error: {exc.message}", field_path)
                self.write_status()
                await asyncio.sleep(
                    backoff_delay(config_failures, cfg.crash_backoff_base, cfg.crash_backoff_max)
                )
                continue
            exit_code, reason = await self._start_and_wait(run, env, field_path)
            if self.stopping:
                return
            await self._after_exit(run, exit_code, reason)

    async def _pull(self, run: ContainerRun, field_path: str) -> None:
        kl, cfg, cs = self.kubelet, self.kubelet.config, run.state
        image = cs.image
        policy = run.spec.get("imagePullPolicy") or "IfNotPresent"
        failures = 0
        while True:
            if policy != "Always" and image in kl.pulled:
                cs.image_id = image_id(image)
                kl.recorder.normal(
                    self.pod, "Pulled", f'Container image "{image}" already present on machine', field_path
                )
                return
            if policy == "Never":
                failures += 1
                msg = f'Container image "{image}" is not present with pull policy of Never'
                cs.state, cs.reason, cs.message = "waiting", "ErrImageNeverPull", msg
                kl.recorder.warning(self.pod, "ErrImageNeverPull", msg, field_path)
                self.write_status()
                await asyncio.sleep(backoff_delay(failures, cfg.crash_backoff_base, cfg.crash_backoff_max))
                continue
            kl.recorder.normal(self.pod, "Pulling", f'Pulling image "{image}"', field_path)
            t0 = time.monotonic()
            await asyncio.sleep(cfg.image_pull_delay)
            err = pull_failure(
                cfg.registry,
                image,
                node_os=kl.node_spec.os,
                rate_limited=kl.node_name in cfg.registry_rate_limited_nodes,
            )
            if err is None:
                kl.pulled.add(image)
                cs.image_id = image_id(image)
                took = go_duration(time.monotonic() - t0)
                kl.recorder.normal(
                    self.pod,
                    "Pulled",
                    f'Successfully pulled image "{image}" in {took} ({took} including waiting). '
                    f"Image size: {30_000_000 + len(image) * 1000} bytes.",
                    field_path,
                )
                return
            failures += 1
            kl.recorder.warning(self.pod, "Failed", f'Failed to pull image "{image}": {err}', field_path)
            kl.recorder.warning(self.pod, "Failed", "Error: ErrImagePull", field_path)
            cs.state, cs.reason, cs.message = "waiting", "ErrImagePull", err
            self.write_status()
            await asyncio.sleep(cfg.image_pull_delay)
            cs.reason = "ImagePullBackOff"
            cs.message = f'Back-off pulling image "{image}": ErrImagePull: {err}'
            kl.recorder.normal(self.pod, "BackOff", f'Back-off pulling image "{image}"', field_path)
            kl.recorder.warning(self.pod, "Failed", "Error: ImagePullBackOff", field_path)
            self.write_status()
            await asyncio.sleep(backoff_delay(failures, cfg.crash_backoff_base, cfg.crash_backoff_max))

    async def _start_and_wait(
        self, run: ContainerRun, env: dict[str, str], field_path: str
    ) -> tuple[int, str]:
        kl, cs = self.kubelet, run.state
        if cs.ever_started:
            cs.restart_count += 1
        cfg = kl.config
        run.previous_log, run.log = (
            run.log,
            ContainerLog(
                cfg.container_log_max_size,
                cfg.container_log_max_files,
                clock=kl.clock_ns,
                monitor_interval=cfg.container_log_monitor_interval,
            ),
        )
        cs.container_id = (
            "containerd://" + hashlib.sha256(f"{self.uid}/{cs.name}/{cs.restart_count}".encode()).hexdigest()
        )
        ctx = ContainerContext(
            namespace=self.namespace,
            pod_name=self.name,
            pod_uid=self.uid,
            node_name=kl.node_name,
            node_ip=kl.node_ip,
            container_name=cs.name,
            image=cs.image,
            args=list(run.spec.get("command") or []) + list(run.spec.get("args") or []),
            env=env,
            files=dict(run.mounted.files),
            host_network=bool(self.spec.get("hostNetwork")),
            restart_count=cs.restart_count,
            log=run.log,
            ports=list(run.spec.get("ports") or []),
            security=dict(run.spec.get("securityContext") or {}),
            host_paths=host_path_mounts(self.spec, run.spec),
            mounts=mount_modes(self.spec, run.spec),
            node=kl.node_spec,
            clock_ns=kl.clock_ns,
        )
        kl.recorder.normal(self.pod, "Created", f"Created container: {cs.name}", field_path)
        started = time.time()
        run.started_mono = time.monotonic()
        try:
            handle = await (kl.runtime_for(cs.image) or _IDLE).start(ctx)
        except Exception as exc:  # a runtime that fails to start is what containerd calls StartError
            run.log.append("stderr", f"failed to start container: {exc}")
            run.log.close()
            kl.recorder.warning(self.pod, "Failed", f"Error: failed to start container: {exc}", field_path)
            cs.started_at = started
            return 128, "StartError"
        run.handle = handle
        kl.fast_probe.add(self)
        cs.state, cs.reason, cs.message = "running", "", ""
        cs.started_at, cs.ready, cs.ever_started, cs.terminated = started, False, True, None
        kl.recorder.normal(self.pod, "Started", f"Started container {cs.name}", field_path)
        self.write_status()
        try:
            code = await handle.wait()
        except Exception:  # a broken runtime counts as a crashed process, not a dead kubelet
            log.exception("container %s of pod %s/%s failed", cs.name, self.namespace, self.name)
            code = 255
        run.handle = None
        run.log.close()
        return code, "Completed" if code == 0 else "Error"

    async def _after_exit(self, run: ContainerRun, exit_code: int, reason: str) -> None:
        kl, cfg, cs = self.kubelet, self.kubelet.config, run.state
        now = time.time()
        ran = time.monotonic() - run.started_mono
        run.crashes = 1 if ran > 2 * cfg.crash_backoff_max else run.crashes + 1
        term = {
            "exitCode": exit_code,
            "reason": reason,
            "startedAt": rfc3339(cs.started_at or now),
            "finishedAt": rfc3339(now),
            "containerID": cs.container_id,
        }
        cs.ever_started = True
        cs.state, cs.terminated, cs.ready = "terminated", term, False
        self.write_status()
        delay = backoff_delay(run.crashes - 1, cfg.crash_backoff_base, cfg.crash_backoff_max)
        cs.last_terminated, cs.terminated = term, None
        if delay > 0:
            cs.state, cs.reason = "waiting", "CrashLoopBackOff"
            cs.message = (
                f"back-off {go_duration(delay)} restarting failed container={cs.name} "
                f"pod={self.name}_{self.namespace}({self.uid})"
            )
            pod_ref = f"{self.name}_{self.namespace}({self.uid})"
            kl.recorder.warning(
                self.pod,
                "BackOff",
                f"Back-off restarting failed container {cs.name} in pod {pod_ref}",
                f"spec.containers{{{cs.name}}}",
            )
            self.write_status()
            await asyncio.sleep(delay)

    # ---- status and volume updates --------------------------------------------------------------------
    def write_status(self) -> None:
        if self.stopping:
            return
        if not self.kubelet.connected.is_set():
            return  # written in full when the node reconnects
        status = pod_status(
            [run.state for run in self.runs.values()],
            self.conditions,
            host_ip=self.kubelet.node_ip,
            pod_ip=self.pod_ip,
            start_time=self.start_time,
            qos=self.qos,
            now=time.time(),
        )
        if status == self._last_status:
            return
        stored = self.kubelet.store.peek("pods", self.namespace, self.name)
        if stored is None or stored["metadata"].get("uid") != self.uid:
            return
        try:
            self.kubelet.store.update(
                "pods",
                {"metadata": {"name": self.name, "namespace": self.namespace}, "status": status},
                check_rv=False,
                subresource="status",
            )
        except StoreError:
            return
        self._last_status = status

    def probe(self, now_mono: float) -> bool:
        """Ask each running container's readiness; True while one of them is not ready yet."""
        changed = unready = False
        for run in self.runs.values():
            if run.handle is None or run.state.state != "running":
                continue
            want = now_mono - run.started_mono >= self.kubelet.config.ready_delay and run.handle.ready()
            if want != run.state.ready:
                run.state.ready = want
                changed = True
            unready = unready or not want
        if changed:
            self.write_status()
        return unready

    def config_changed(self) -> None:
        """A ConfigMap/Secret this pod reads changed: retry mounts now, update files after the delay."""
        self._volume_wakeup.set()
        if self._propagation is None and not self.stopping:
            self._propagation = asyncio.get_running_loop().call_later(
                self.kubelet.propagation_delay(), self._propagate
            )

    def _propagate(self) -> None:
        self._propagation = None
        for run in self.runs.values():
            if run.handle is None:
                continue
            fresh = refreshed_files(self.spec, run.spec, self._lookup, run.mounted)
            if fresh is not None:
                run.mounted = fresh
                run.handle.files_changed(dict(fresh.files))

    def files(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for run in self.runs.values():
            out.update(run.mounted.files)
        return out
