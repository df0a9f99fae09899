"""The simulated kubelet against the real object store: crash loops, logs, volumes, env, deletion."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

import pytest
from simkit import fast_config

from falcotui.sim.api.store import Store
from falcotui.sim.controllers.start import start_controllers
from falcotui.sim.nodes.runtime import ContainerContext

# the demo's fast timings, but image pulls and starts at the simulator's own pace (tests watch the pod pass
# through ContainerCreating) and a propagation delay long enough to measure
FAST = fast_config(
    nodes=1,
    control_plane_nodes=0,
    image_pull_delay=0.05,
    container_start_delay=0.05,
    ready_delay=0.02,
    crash_backoff_max=0.4,
    configmap_propagation_delay=0.2,
)


class ScriptedContainer:
    """Logs a line per start, exits with `exit_code` after `runs_for` (or runs until stopped)."""

    def __init__(self, ctx: ContainerContext, exit_code: int | None, runs_for: float) -> None:
        self.ctx = ctx
        self.files = dict(ctx.files)
        self.file_updates: list[tuple[float, dict]] = []
        self.stopped = asyncio.Event()
        self.exit_code = exit_code
        self.runs_for = runs_for
        ctx.log.append("stderr", f"instance {ctx.restart_count} starting on {ctx.env.get('NODE')}")

    async def wait(self) -> int:
        if self.exit_code is None:
            await self.stopped.wait()
            return 137
        try:
            await asyncio.wait_for(self.stopped.wait(), self.runs_for)
            return 137
        except TimeoutError:
            self.ctx.log.append("stderr", "Error: bad rules")
            return self.exit_code

    async def stop(self) -> None:
        self.stopped.set()

    def files_changed(self, files: Mapping[str, str]) -> None:
        self.files = dict(files)
        self.file_updates.append((time.monotonic(), dict(files)))

    def ready(self) -> bool:
        return True


class ScriptedRuntime:
    def __init__(self, exit_code: int | None = None, runs_for: float = 0.0) -> None:
        self.exit_code = exit_code
        self.runs_for = runs_for
        self.started: list[ScriptedContainer] = []

    async def start(self, ctx: ContainerContext) -> ScriptedContainer:
        c = ScriptedContainer(ctx, self.exit_code, self.runs_for)
        self.started.append(c)
        return c


async def wait_for(pred, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def make_sim(runtime, config=FAST):
    store = Store(seed=1)
    for ns in ("default", "falco"):
        store.create("namespaces", {"metadata": {"name": ns}})
    controllers = await start_controllers(store, config, lambda image: runtime if "falco" in image else None)
    return store, controllers


def pod(name="falco-x", volumes=(), mounts=(), host_network=False, image="falcosecurity/falco:0.45.0"):
    spec = {
        "nodeName": "sim-node-01",
        "hostNetwork": host_network,
        "containers": [
            {
                "name": "falco",
                "image": image,
                "args": ["/usr/bin/falco", "-c", "/etc/falco-config/falco.yaml"],
                "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
                "volumeMounts": list(mounts),
            }
        ],
        "volumes": list(volumes),
    }
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "falco"}, "spec": spec}


def container_status(store, name="falco-x"):
    p = store.get("pods", "falco", name)
    return ((p or {}).get("status") or {}).get("containerStatuses", [{}])[0]


async def test_crash_loop_backs_off_longer_each_time_and_keeps_the_previous_log():
    runtime = ScriptedRuntime(exit_code=1, runs_for=0.01)
    store, controllers = await make_sim(runtime)
    try:
        queue = store.subscribe({"pods"})
        store.create("pods", pod())
        messages: list[str] = []
        restarts = 0
        deadline = time.monotonic() + 60
        while restarts < 4 and time.monotonic() < deadline:
            ev = await asyncio.wait_for(queue.get(), 30)
            cs = (ev.object.get("status") or {}).get("containerStatuses", [{}])[0]
            waiting = cs.get("state", {}).get("waiting", {})
            if waiting.get("reason") == "CrashLoopBackOff" and waiting["message"] not in messages:
                messages.append(waiting["message"])
            restarts = cs.get("restartCount", 0)
        store.unsubscribe(queue)
        assert restarts >= 4
        delays = [m.split()[1] for m in messages]
        assert delays[:3] == ["50ms", "100ms", "200ms"]
        assert all("restarting failed container=falco pod=falco-x_falco(" in m for m in messages)
        cs = container_status(store)
        assert cs["lastState"]["terminated"]["exitCode"] == 1
        assert cs["lastState"]["terminated"]["reason"] == "Error"
        p = store.get("pods", "falco", "falco-x")
        assert p["status"]["phase"] == "Running"  # restartPolicy Always: a crash-looping pod stays Running
        backoffs = [e for e in store.list("events", "falco")[0] if e["reason"] == "BackOff"]
        assert backoffs[0]["type"] == "Warning" and backoffs[0]["count"] >= 2
        assert backoffs[0]["message"].startswith(
            "Back-off restarting failed container falco in pod falco-x_falco"
        )
        prev = controllers.container_log("falco", "falco-x", "falco", previous=True)
        assert prev is not None and prev.closed
        assert [r.text for r in prev.records()][-1] == "Error: bad rules"
        cur = controllers.container_log("falco", "falco-x", "falco")
        assert cur is not prev and cur.records()[0].text.startswith("instance ")
        assert controllers.container_log("falco", "nope", "falco") is None
    finally:
        await controllers.stop()


async def test_configmap_change_reaches_the_container_after_the_propagation_delay():
    runtime = ScriptedRuntime()
    store, controllers = await make_sim(runtime)
    try:
        store.create(
            "configmaps",
            {"metadata": {"name": "falco-rules", "namespace": "falco"}, "data": {"a.yaml": "v1"}},
        )
        store.create(
            "pods",
            pod(
                volumes=[{"name": "rules", "configMap": {"name": "falco-rules"}}],
                mounts=[
                    {"name": "rules", "mountPath": "/etc/falco/rules.d"},
                    {"name": "rules", "mountPath": "/etc/falco/pinned.yaml", "subPath": "a.yaml"},
                ],
            ),
        )
        await wait_for(lambda: runtime.started, what="container start")
        c = runtime.started[0]
        assert c.ctx.files == {"/etc/falco/rules.d/a.yaml": "v1", "/etc/falco/pinned.yaml": "v1"}
        assert c.ctx.env["NODE"] == "sim-node-01"
        assert c.ctx.args == ["/usr/bin/falco", "-c", "/etc/falco-config/falco.yaml"]
        assert c.ctx.node_ip == "127.0.0.2"
        await wait_for(lambda: container_status(store).get("ready"), what="ready")
        changed_at = time.monotonic()
        store.mutate(
            "configmaps", "falco", "falco-rules", lambda cm: cm.update(data={"a.yaml": "v2", "b.yaml": "new"})
        )
        await asyncio.sleep(0)
        assert c.files["/etc/falco/rules.d/a.yaml"] == "v1"
        await wait_for(lambda: c.file_updates, what="propagation")
        arrived, files = c.file_updates[0]
        assert arrived - changed_at >= FAST.configmap_propagation_delay * 0.9
        assert files == {
            "/etc/falco/rules.d/a.yaml": "v2",
            "/etc/falco/rules.d/b.yaml": "new",
            "/etc/falco/pinned.yaml": "v1",  # subPath mounts never see updates
        }
        assert controllers.pod_files("falco", "falco-x") == files
        assert len(c.file_updates) == 1
    finally:
        await controllers.stop()


async def test_missing_configmap_holds_the_pod_in_container_creating_until_it_exists():
    runtime = ScriptedRuntime()
    store, controllers = await make_sim(runtime)
    try:
        store.create(
            "pods",
            pod(
                volumes=[{"name": "cfg", "configMap": {"name": "falco-config"}}],
                mounts=[{"name": "cfg", "mountPath": "/etc/falco-config"}],
            ),
        )
        await wait_for(
            lambda: any(e["reason"] == "FailedMount" for e in store.list("events", "falco")[0]),
            what="FailedMount",
        )
        assert container_status(store)["state"] == {"waiting": {"reason": "ContainerCreating"}}
        assert store.get("pods", "falco", "falco-x")["status"]["phase"] == "Pending"
        assert not runtime.started
        store.create(
            "configmaps",
            {"metadata": {"name": "falco-config", "namespace": "falco"}, "data": {"falco.yaml": "x: 1"}},
        )
        await wait_for(
            lambda: container_status(store).get("ready"), what="start after the ConfigMap appeared"
        )
        assert runtime.started[0].ctx.files == {"/etc/falco-config/falco.yaml": "x: 1"}
    finally:
        await controllers.stop()


async def test_deleting_a_pod_stops_its_container_and_host_network_uses_the_node_ip():
    runtime = ScriptedRuntime()
    store, controllers = await make_sim(runtime)
    try:
        store.create("pods", pod(host_network=True))
        await wait_for(lambda: container_status(store).get("ready"), what="ready")
        p = store.get("pods", "falco", "falco-x")
        assert p["status"]["podIP"] == p["status"]["hostIP"] == "127.0.0.2"
        assert runtime.started[0].ctx.host_network
        store.delete("pods", "falco", "falco-x")
        await wait_for(lambda: runtime.started[0].stopped.is_set(), what="container stopped")
        assert controllers.container_log("falco", "falco-x", "falco") is None
    finally:
        await controllers.stop()


@pytest.mark.parametrize("image", ["busybox:1.36"])
async def test_other_images_run_idle_and_ready(image):
    store, controllers = await make_sim(ScriptedRuntime())
    try:
        store.create("pods", pod(image=image))
        await wait_for(lambda: container_status(store).get("ready"), what="ready")
        assert container_status(store)["imageID"].startswith("docker.io/library/busybox@sha256:")
    finally:
        await controllers.stop()


class FailingRuntime:
    async def start(self, ctx: ContainerContext):
        raise OSError("exec /usr/bin/falco: no such file or directory")


async def test_a_runtime_that_cannot_start_reports_start_error_and_retries():
    store, controllers = await make_sim(FailingRuntime())
    try:
        store.create("pods", pod())
        cs = await wait_for(
            lambda: (container_status(store).get("restartCount") or 0) >= 2 and container_status(store),
            what="restarts",
        )
        assert cs["lastState"]["terminated"]["reason"] == "StartError"
        assert cs["lastState"]["terminated"]["exitCode"] == 128
        assert not cs["ready"]
        failed = [e["message"] for e in store.list("events", "falco")[0] if e["reason"] == "Failed"]
        assert any("no such file or directory" in m for m in failed)
        log = controllers.container_log("falco", "falco-x", "falco", previous=True)
        assert "no such file or directory" in log.records()[-1].text
    finally:
        await controllers.stop()
