"""Deployer.follow_rollout on clusters where Falco cannot run everywhere: admission refusal ends the wait at
once, a Windows node given a Linux pod (a DaemonSet without falcotui's nodeSelector) is named as such, and
only FailedCreate events since the DaemonSet's last spec change count."""

from __future__ import annotations

import asyncio
import time

from falcotui.kube.failed_create import failed_create
from falcotui.ops.deploy.deployer import Deployer
from falcotui.ops.engine import Engine, EngineOptions
from falcotui.ops.fleet.falco_problems import ProblemKind
from falcotui.sim.config import AdmissionRule, NodeSpec

WEBHOOK = AdmissionRule("webhook", "Privileged mode is disallowed", webhook="gatekeeper", namespace="falco")


def test_admission_refusal_ends_the_wait_without_the_stuck_grace_or_the_timeout(falco_sim, clients_for):
    sim = falco_sim(nodes=1, admission=[WEBHOOK])
    dep = Deployer(clients_for(sim))
    dep.apply(dep.plan())
    # a stuck grace longer than the timeout: only the admission fast path returns before the timeout
    result = asyncio.run(dep.follow_rollout(timeout=60, stuck_grace=600))
    assert not result.done and not result.timed_out
    [stuck] = result.stuck
    assert stuck.reason == "FailedCreate"
    assert (
        stuck.message
        == 'Error creating: admission webhook "gatekeeper" denied the request: Privileged mode is disallowed'
    )
    assert stuck.problem is not None and stuck.problem.kind == ProblemKind.ADMISSION
    # once the policy lets the pods through, the same DaemonSet rolls out (the events stay, the pods exist)
    sim.cluster.config.admission.clear()
    result = asyncio.run(dep.follow_rollout(timeout=60, stuck_grace=600))
    assert result.done, result.explain()


def test_a_linux_pod_on_a_windows_node_is_named_as_an_os_mismatch(falco_sim, clients_for):
    sim = falco_sim(nodes=1, extra_nodes=[NodeSpec("win-1", os="windows")])
    clients = clients_for(sim)
    dep = Deployer(clients)
    dep.apply(dep.plan())
    # someone's older DaemonSet without the nodeSelector: the controller puts a pod on the Windows node
    clients.request(
        "PATCH",
        "/apis/apps/v1/namespaces/falco/daemonsets/falco",
        body={"spec": {"template": {"spec": {"nodeSelector": None}}}},
        content_type="application/merge-patch+json",
    )
    result = asyncio.run(dep.follow_rollout(timeout=60, stuck_grace=1))
    assert not result.done
    [stuck] = result.stuck
    assert stuck.node == "win-1" and "no match for platform in manifest" in stuck.message
    assert stuck.problem is not None and stuck.problem.kind == ProblemKind.NOT_LINUX
    assert "nodeSelector kubernetes.io/os: linux" in result.explain()


def _event(ts: str, message: str, uid: str = "u1") -> dict:
    return {
        "reason": "FailedCreate",
        "involvedObject": {"kind": "DaemonSet", "name": "falco", "uid": uid},
        "lastTimestamp": ts,
        "message": message,
    }


def test_only_failed_creates_since_the_last_spec_change_count():
    ds = {
        "metadata": {
            "uid": "u1",
            "managedFields": [
                {"manager": "falcotui", "operation": "Apply", "time": "2026-12-06T10:00:05Z"},
                {
                    "manager": "kcm",
                    "operation": "Update",
                    "subresource": "status",
                    "time": "2026-12-06T11:00:00Z",
                },
            ],
        }
    }
    old = _event("2026-12-06T10:00:04Z", "before the apply")
    assert failed_create(ds, [old]) == ""
    same_second = _event("2026-12-06T10:00:05Z", "during the apply")
    newer = _event("2026-12-06T10:00:09Z", "after the apply")
    other_ds = _event("2026-12-06T10:00:10Z", "another DaemonSet of that name, deleted since", uid="u0")
    assert failed_create(ds, [old, same_second]) == "during the apply"
    assert failed_create(ds, [old, newer, same_second, other_ds]) == "after the apply"


def test_the_fleet_shows_why_nodes_wait_for_a_pod_admission_refuses(falco_sim, clients_for):
    sim = falco_sim(nodes=1, admission=[WEBHOOK])
    clients = clients_for(sim)
    dep = Deployer(clients)
    dep.apply(dep.plan())

    async def run() -> str:
        async with Engine(
            clients, "falco", options=EngineOptions(tail_lines=None, probe_interval=0.3)
        ) as engine:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                row = engine.fleet.row("sim-node-01")
                if row is not None and row.no_pod_reason.startswith("admission"):
                    return row.no_pod_reason
                await asyncio.sleep(0.05)
        raise AssertionError("the fleet never named the refusal")

    reason = asyncio.run(run())
    assert reason == (
        'admission refuses the pod: Error creating: admission webhook "gatekeeper" denied the request: '
        "Privileged mode is disallowed"
    )
