"""DaemonSet rollouts through the real kubectl: progress, taints, pull failures, restarts, nodes."""

from __future__ import annotations

import asyncio
import queue
import subprocess
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import pytest
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from simkit import fast_config

from falcotui.sim.cluster import SimCluster
from falcotui.sim.config import NodeSpec
from falcotui.sim.nodes.runtime import ContainerContext


class GatedContainer:
    """Runs until stopped; its readiness probe passes only once the test opens its node's gate."""

    def __init__(self, ctx: ContainerContext, gates: set[str] | None) -> None:
        self.ctx = ctx
        self.gates = gates
        self.stopped = asyncio.Event()

    async def wait(self) -> int:
        await self.stopped.wait()
        return 137

    async def stop(self) -> None:
        self.stopped.set()

    def files_changed(self, files: Mapping[str, str]) -> None:
        pass

    def ready(self) -> bool:
        return self.gates is None or self.ctx.node_name in self.gates


class GatedRuntime:
    def __init__(self, gated: bool = True) -> None:
        self.gates: set[str] | None = set() if gated else None

    async def start(self, ctx: ContainerContext) -> GatedContainer:
        return GatedContainer(ctx, self.gates)


class CrashingRuntime:
    """Every container exits 1 right after starting, like Falco with invalid rules."""

    async def start(self, ctx: ContainerContext):
        return _Crash(ctx)


class _Crash(GatedContainer):
    def __init__(self, ctx: ContainerContext) -> None:
        super().__init__(ctx, None)
        ctx.log.append("stderr", "Error: rules file /etc/falco/rules.d/x.yaml: invalid")

    async def wait(self) -> int:
        await asyncio.sleep(0.01)
        return 1


@pytest.fixture
def cluster_factory(tmp_path, kubectl_path):
    started: list[SimCluster] = []

    def make(runtime=None, **config) -> tuple[SimCluster, callable]:
        cfg = fast_config(**config)
        runtime_for = (lambda image: runtime) if runtime is not None else None
        cluster = SimCluster(cfg, runtime_for_image=runtime_for).start()
        started.append(cluster)
        cache = tmp_path / f"kubectl-cache-{len(started)}"

        def kubectl(*args: str, timeout: float = 60, check: bool = False) -> subprocess.CompletedProcess:
            cmd = [
                kubectl_path,
                "--kubeconfig",
                str(cluster.kubeconfig_path),
                "--cache-dir",
                str(cache),
                *args,
            ]
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
            if check and proc.returncode != 0:
                raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
            return proc

        kubectl.cmd = lambda *args: [  # type: ignore[attr-defined]
            kubectl_path, "--kubeconfig", str(cluster.kubeconfig_path), "--cache-dir", str(cache), *args
        ]  # fmt: skip
        return cluster, kubectl

    yield make
    for cluster in reversed(started):
        cluster.stop()


class StoreTracker:
    """Feeds every change of `resource` to `on_event` on the cluster's loop while the block runs."""

    def __init__(self, cluster: SimCluster, resource: str, on_event) -> None:
        self.cluster = cluster
        self.resource = resource
        self.on_event = on_event

    def __enter__(self) -> StoreTracker:
        self.stop = asyncio.Event()

        async def run(q: asyncio.Queue) -> None:
            while not self.stop.is_set():
                try:
                    ev = await asyncio.wait_for(q.get(), 0.05)
                except TimeoutError:
                    continue
                self.on_event(ev)

        def start():
            q = self.cluster.store.subscribe({self.resource})
            return q, asyncio.get_running_loop().create_task(run(q))

        self.queue, self.task = self.cluster.call(start)
        return self

    def __exit__(self, *exc: object) -> None:
        self.cluster.call(self.stop.set)
        self.cluster.call(lambda: self.task)
        self.cluster.call(self.cluster.store.unsubscribe, self.queue)


def wait_until(pred, timeout=60.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def apply_manifests(kubectl, repo_root: Path) -> None:
    kubectl("apply", "--server-side", "-f", str(repo_root / "manifests"), check=True)


def pods_wide(kubectl) -> list[list[str]]:
    out = kubectl("get", "pods", "-n", "falco", "-o", "wide", check=True).stdout.splitlines()
    return [line.split() for line in out[1:]]


def test_rollout_status_prints_progress_until_every_eligible_node_is_available(cluster_factory, repo_root):
    runtime = GatedRuntime()
    _, kubectl = cluster_factory(runtime, nodes=3)
    apply_manifests(kubectl, repo_root)
    proc = subprocess.Popen(
        kubectl.cmd("rollout", "status", "ds/falco", "-n", "falco", "--timeout=60s"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put(line.rstrip("\n")) for line in proc.stdout], daemon=True
    ).start()
    seen: list[str] = []

    def expect(text: str) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                continue
            seen.append(line)
            if line == text:
                return
        raise AssertionError(f"kubectl never printed {text!r}; got {seen}")

    try:
        prefix = 'Waiting for daemon set "falco" rollout to finish: '
        expect(prefix + "0 of 3 updated pods are available...")
        runtime.gates.add("sim-cp-1")
        expect(prefix + "1 of 3 updated pods are available...")
        runtime.gates.add("sim-node-01")
        expect(prefix + "2 of 3 updated pods are available...")
        runtime.gates.add("sim-node-02")
        expect('daemon set "falco" successfully rolled out')
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()
        proc.wait()
    rows = pods_wide(kubectl)
    assert sorted(r[6] for r in rows) == ["sim-cp-1", "sim-node-01", "sim-node-02"]  # NODE column
    assert all(r[5].startswith("10.24") for r in rows)  # IP column
    ds = kubectl("get", "ds", "-n", "falco", check=True).stdout.splitlines()
    assert ds[1].split()[:6] == ["falco", "3", "3", "3", "3", "3"]


def test_tainted_node_without_toleration_gets_no_pod(cluster_factory, repo_root):
    gpu = NodeSpec(
        "sim-gpu-1", {"gpu": "true"}, [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]
    )
    _, kubectl = cluster_factory(nodes=3, extra_nodes=[gpu])
    apply_manifests(kubectl, repo_root)
    out = kubectl("rollout", "status", "ds/falco", "-n", "falco", "--timeout=30s", check=True).stdout
    assert out.rstrip().endswith('daemon set "falco" successfully rolled out')
    nodes = sorted(r[6] for r in pods_wide(kubectl))
    assert nodes == ["sim-cp-1", "sim-node-01", "sim-node-02"]  # the control-plane toleration works, gpu not


def test_unpullable_tag_keeps_the_rollout_incomplete_with_image_pull_back_off(cluster_factory, repo_root):
    _, kubectl = cluster_factory(nodes=3)
    apply_manifests(kubectl, repo_root)
    kubectl("rollout", "status", "ds/falco", "-n", "falco", "--timeout=30s", check=True)
    kubectl("set", "image", "ds/falco", "falco=falcosecurity/falco:9.9.9", "-n", "falco", check=True)
    wait_until(
        lambda: any(r[2] == "ImagePullBackOff" for r in pods_wide(kubectl)), what="ImagePullBackOff in STATUS"
    )
    proc = kubectl("rollout", "status", "ds/falco", "-n", "falco", "--timeout=2s")
    assert proc.returncode != 0
    assert (
        'Waiting for daemon set "falco" rollout to finish: 1 out of 3 new pods have been updated...'
        in proc.stdout
    )
    assert "timed out waiting for the condition" in proc.stderr
    rows = pods_wide(kubectl)
    # maxUnavailable 1: one pod is stuck pulling (ErrImagePull and ImagePullBackOff alternate), two run
    assert sorted(r[2] for r in rows)[1:] == ["Running", "Running"]
    assert sorted(r[2] for r in rows)[0] in ("ErrImagePull", "ImagePullBackOff")
    events = kubectl("get", "events", "-n", "falco", check=True).stdout
    assert "Back-off pulling image" in events and "ErrImagePull" in events


def test_rollout_restart_replaces_every_pod_never_exceeding_max_unavailable(cluster_factory, repo_root):
    cluster, kubectl = cluster_factory(nodes=5, ready_delay=0.05)
    apply_manifests(kubectl, repo_root)
    kubectl("rollout", "status", "ds/falco", "-n", "falco", "--timeout=30s", check=True)
    before = {r[0] for r in pods_wide(kubectl)}
    pods = {p["metadata"]["uid"]: p for p in cluster.call(cluster.store.list, "pods", "falco")[0]}
    worst = [0]

    def on_pod(ev) -> None:
        if ev.type == "DELETED":
            pods.pop(ev.object["metadata"]["uid"], None)
        else:
            pods[ev.object["metadata"]["uid"]] = ev.object
        ready_nodes = {
            p["spec"]["nodeName"]
            for p in pods.values()
            for c in (p.get("status") or {}).get("conditions") or []
            if c["type"] == "Ready" and c["status"] == "True"
        }
        worst[0] = max(worst[0], 5 - len(ready_nodes))

    with StoreTracker(cluster, "pods", on_pod):
        out = kubectl("rollout", "restart", "ds/falco", "-n", "falco", check=True).stdout
        assert out.strip() == "daemonset.apps/falco restarted"
        status = kubectl("rollout", "status", "ds/falco", "-n", "falco", "--timeout=60s", check=True).stdout
    assert 'Waiting for daemon set "falco" rollout to finish: ' in status
    assert status.rstrip().endswith('daemon set "falco" successfully rolled out')
    after = {r[0] for r in pods_wide(kubectl)}
    assert len(after) == 5 and not before & after
    assert worst[0] == 1  # the manifests' maxUnavailable


def test_node_hooks_show_in_kubectl(cluster_factory, repo_root):
    cluster, kubectl = cluster_factory(nodes=3)
    apply_manifests(kubectl, repo_root)
    kubectl("rollout", "status", "ds/falco", "-n", "falco", "--timeout=30s", check=True)
    cluster.set_node_ready("sim-node-01", False)
    nodes = {
        r[0]: r[1]
        for r in (line.split() for line in kubectl("get", "nodes", check=True).stdout.splitlines()[1:])
    }
    assert nodes == {"sim-cp-1": "Ready", "sim-node-01": "NotReady", "sim-node-02": "Ready"}
    cluster.set_node_ready("sim-node-01", True)
    cluster.add_node(NodeSpec("sim-node-03"))
    wait_until(lambda: "sim-node-03" in {r[6] for r in pods_wide(kubectl)}, what="pod on the added node")
    kubectl("rollout", "status", "ds/falco", "-n", "falco", "--timeout=30s", check=True)
    cluster.remove_node("sim-node-02")
    wait_until(lambda: "sim-node-02" not in {r[6] for r in pods_wide(kubectl)}, what="pod gone with its node")
    assert sorted(r[6] for r in pods_wide(kubectl)) == ["sim-cp-1", "sim-node-01", "sim-node-03"]
    wide = kubectl("get", "nodes", "-o", "wide", check=True).stdout
    assert "127.0.0.5" in wide and "sim-node-02" not in wide


def test_configmap_change_reaches_pod_files(cluster_factory, repo_root):
    cluster, kubectl = cluster_factory(nodes=2, configmap_propagation_delay=0.3)
    apply_manifests(kubectl, repo_root)
    kubectl("rollout", "status", "ds/falco", "-n", "falco", "--timeout=30s", check=True)
    pod = pods_wide(kubectl)[0][0]
    files = cluster.call(cluster.controllers.pod_files, "falco", pod)
    assert "/etc/falco-config/falco.yaml" in files
    patch = '{"data":{"zz-local.yaml":"- macro: sim_test\\n  condition: (proc.name = sim)\\n"}}'
    changed = time.monotonic()  # before the patch: kubectl may return late on a busy machine
    kubectl("patch", "configmap", "falco-rules", "-n", "falco", "--type", "merge", "-p", patch, check=True)
    got = wait_until(
        lambda: cluster.call(cluster.controllers.pod_files, "falco", pod).get(
            "/etc/falco/rules.d/zz-local.yaml"
        ),
        what="the new rules file in the pod",
    )
    assert time.monotonic() - changed >= 0.25
    assert got == "- macro: sim_test\n  condition: (proc.name = sim)\n"


def test_crash_loop_back_off_with_growing_delay_and_restart_count(cluster_factory, repo_root):
    cluster, kubectl = cluster_factory(
        CrashingRuntime(), nodes=1, control_plane_nodes=0, crash_backoff_max=2.0
    )
    messages: list[str] = []

    def on_pod(ev) -> None:
        for cs in (ev.object.get("status") or {}).get("containerStatuses") or []:
            waiting = cs["state"].get("waiting") or {}
            if waiting.get("reason") == "CrashLoopBackOff" and waiting["message"] not in messages:
                messages.append(waiting["message"])

    with StoreTracker(cluster, "pods", on_pod):
        apply_manifests(kubectl, repo_root)
        api = k8s_config.new_client_from_config(config_file=str(cluster.kubeconfig_path))
        try:
            core = k8s_client.CoreV1Api(api)

            def restarted():
                pods = core.list_namespaced_pod("falco").items
                statuses = (pods[0].status.container_statuses or []) if pods else []
                return statuses and statuses[0].restart_count >= 4 and statuses[0]

            cs = wait_until(restarted, what="four restarts, read with the official client")
        finally:
            api.close()
    assert cs.last_state.terminated.exit_code == 1 and cs.last_state.terminated.reason == "Error"
    assert [m.split()[1] for m in messages[:3]] == ["50ms", "100ms", "200ms"]
    assert all(m.endswith(")") and "restarting failed container=falco pod=falco-" in m for m in messages)
    wait_until(
        lambda: any(r[2] == "CrashLoopBackOff" for r in pods_wide(kubectl)), what="STATUS CrashLoopBackOff"
    )
    assert int(pods_wide(kubectl)[0][3]) >= 4  # RESTARTS
    events = kubectl("get", "events", "-n", "falco", check=True).stdout
    assert "Back-off restarting failed container falco in pod falco-" in events
