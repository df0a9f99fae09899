"""A rules reload as a real node does it, through the simulated cluster: Falco's dry run prints a start-up
banner before `SIGHUP received` that is not a restart; a mounted ConfigMap takes 60-120 s to change (here on a
scaled clock) and the tracker's timeout covers it; nodes whose clocks are off still count as reloaded,
because "since the push" comes from each pod's own log and the API server, not the operator's clock."""

from __future__ import annotations

import time

from simkit import NEW_RULE, pod_log

from falcotui.kube.client import KubeClients
from falcotui.ops.alerts.hub import AlertHub
from falcotui.ops.deploy.deployer import Deployer
from falcotui.ops.rules.model import PushStatus
from falcotui.ops.rules.reload_state import ReloadState
from falcotui.ops.rules.reload_tracker import DEFAULT_RELOAD_TIMEOUT, MAX_DOCUMENTED_PROPAGATION
from falcotui.ops.rules.service import RulesService
from falcotui.sim.config import NodeSpec

# kubernetes.io "Mounted ConfigMaps are updated automatically": as long as the kubelet sync period (1 min) +
# the cache's propagation delay (up to its TTL, 1 min, with a TTL cache): `falcotui sim` uses 60-120 s.
# Scaled down 25x here.
SCALE = 0.04
REALISTIC = dict(configmap_propagation_delay=60.0 * SCALE, configmap_propagation_jitter=60.0 * SCALE)


async def deploy(clients: KubeClients) -> list[str]:
    dep = Deployer(clients)
    dep.apply(dep.plan())
    result = await dep.follow_rollout(timeout=30, stuck_grace=5)
    assert result.done, result.explain()
    return [n.pod for n in result.status.nodes]


def push_rule(svc: RulesService):
    snap = svc.pull()
    pushed = svc.push(
        {"custom-rules.yaml": snap.files["custom-rules.yaml"] + NEW_RULE}, snap.resource_version
    )
    assert pushed.status is PushStatus.PUSHED
    return pushed


async def test_the_dry_run_banner_before_sighup_is_not_a_restart(falco_sim, clients_for):
    sim = falco_sim(nodes=1)
    clients = clients_for(sim)
    (pod,) = await deploy(clients)
    svc = RulesService(clients, author="t@test")
    pushed = push_rule(svc)
    summary = await svc.track_reload(pushed.pushed_at_ns, timeout=20, poll=0.1)
    assert summary.ok, summary.nodes
    lines = pod_log(clients, pod)
    bodies = [text for _, text in lines]
    sighup = next(i for i, b in enumerate(bodies) if b.endswith("SIGHUP received, restarting..."))
    versions = [i for i, b in enumerate(bodies) if "Falco version: " in b]
    assert len(versions) == 3 and versions[0] < versions[1] < sighup < versions[2]  # start, dry run, restart
    assert any("Loading rules from:" in b for b in bodies[versions[1] : sighup])  # a full banner
    assert not any("Opening 'syscall'" in b for b in bodies[versions[1] : sighup])  # it opened nothing
    hub = AlertHub()
    for ts, text in lines:
        hub.ingest_log_line(pod, text, node="sim-node-1", ts_ns=ts)
    info = hub.pod_info(pod)
    assert info is not None and info.reloads == 1
    assert info.started_ns == lines[versions[0]][0]  # the pod's start, neither the dry run nor the reload


async def test_realistic_configmap_propagation_is_covered_by_the_trackers_timeout(falco_sim, clients_for):
    # The real numbers first: the tracker's default timeout covers the documented worst case plus Falco's
    # dry run and restart; the scaled run below keeps every ratio.
    assert DEFAULT_RELOAD_TIMEOUT >= MAX_DOCUMENTED_PROPAGATION * 1.2
    sim = falco_sim(nodes=2, **REALISTIC)
    clients = clients_for(sim)
    await deploy(clients)
    svc = RulesService(clients, author="t@test")
    started = time.monotonic()  # before the push: its reply may come late on a busy machine, never early
    pushed = push_rule(svc)
    reloaded_after: dict[str, float] = {}

    def event(ev) -> None:
        if ev.state is ReloadState.RESTARTING:
            reloaded_after.setdefault(ev.node, time.monotonic() - started)

    summary = await svc.track_reload(
        pushed.pushed_at_ns, timeout=DEFAULT_RELOAD_TIMEOUT * SCALE, poll=0.1, on_event=event
    )
    assert summary.ok, summary.nodes
    # no node saw the new rules before the kubelet's sync period had passed
    assert len(reloaded_after) == 2 and min(reloaded_after.values()) >= 60.0 * SCALE


async def test_nodes_with_a_wrong_clock_still_count_as_reloaded(falco_sim, clients_for):
    behind = NodeSpec("slow-clock", clock_offset=-600.0)  # ten minutes behind
    ahead = NodeSpec("fast-clock", clock_offset=600.0)
    sim = falco_sim(nodes=0, extra_nodes=[behind, ahead])
    clients = clients_for(sim)
    pods = await deploy(clients)
    assert len(pods) == 2
    svc = RulesService(clients, author="t@test")
    pushed = push_rule(svc)
    assert (
        pushed.server_time_ns is not None and set(pushed.log_marks) and None not in pushed.log_marks.values()
    )
    summary = await svc.track_reload(pushed.pushed_at_ns, timeout=10, poll=0.1)
    assert summary.ok, summary.nodes
    at = {n.node: n.at_ns for n in summary.nodes}
    # the reload's time is the node's own log time, not the operator's
    assert at["slow-clock"] is not None and at["slow-clock"] < pushed.pushed_at_ns - 500 * 10**9
    assert at["fast-clock"] is not None and at["fast-clock"] > pushed.pushed_at_ns + 500 * 10**9
