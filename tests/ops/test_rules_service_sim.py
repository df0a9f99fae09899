"""RulesService against the simulated cluster's Falco pods: the full rules lifecycle (push → every node
reloads → roll back → reloads again), invalid rules refused before anything is sent, a forced invalid push
rejected by every node and rolled back, two editors (conflict with a diff, the first edit survives)."""

from __future__ import annotations

import asyncio

import pytest
from simkit import MODIFIER_RULE, NEW_RULE, set_falco_image_tag

from falcotui.kube.client import KubeClients
from falcotui.ops.deploy.deployer import Deployer
from falcotui.ops.rules.model import PushStatus, RulesError
from falcotui.ops.rules.reload_state import ReloadState
from falcotui.ops.rules.service import RulesService
from falcotui.ops.rules.target import target_for_versions
from falcotui.sim.falco.config import bundled_default_rules

BROKEN = "- rule: broken rule\n  desc: has no condition\n  output: x\n  priority: WARNING\n"


async def deployed(sim, clients: KubeClients) -> list[str]:
    dep = Deployer(clients)
    dep.apply(dep.plan())
    result = await dep.follow_rollout(timeout=30, stuck_grace=5)
    assert result.done, result.explain()
    return [n.pod for n in result.status.nodes]


def log_of(clients: KubeClients, pod: str) -> str:
    resp = clients.open_stream(f"/api/v1/namespaces/falco/pods/{pod}/log", read_timeout=10)
    try:
        return resp.read().decode()
    finally:
        resp.release_conn()


async def test_lifecycle_push_reload_rollback_reload(falco_sim, clients_for):
    sim = falco_sim(nodes=3)
    clients = clients_for(sim)
    pods = await deployed(sim, clients)
    svc = RulesService(clients, author="alice@test")
    defaults = svc.default_rules()
    assert "- macro: spawned_process" in defaults.text and defaults.pod in pods
    assert svc.default_rules() is defaults  # cached per image
    snap = svc.pull()
    assert list(snap.files) == ["custom-rules.yaml"]
    original = dict(snap.files)

    edited = {"custom-rules.yaml": snap.files["custom-rules.yaml"] + NEW_RULE}
    pushed = svc.push(edited, snap.resource_version, message="add netcat rule")
    assert pushed.status is PushStatus.PUSHED and pushed.resource_version != snap.resource_version
    events = []
    summary = await svc.track_reload(pushed.pushed_at_ns, timeout=20, poll=0.1, on_event=events.append)
    assert summary.ok, summary.nodes
    assert {n.node for n in summary.nodes} == {n.node for n in summary.nodes if n.state == "reloaded"}
    assert len(summary.nodes) == 3
    states = [(e.node, e.state) for e in events]
    for node in {n.node for n in summary.nodes}:  # per node: pending, restarting, reloaded, in order
        mine = [s for n, s in states if n == node]
        assert mine == [ReloadState.PENDING, ReloadState.RESTARTING, ReloadState.RELOADED], mine
    # the pods emit alerts (the engine tests test the alert stream itself); after a restart the first
    # one can take a moment on a loaded machine, so wait for it (bounded) rather than expect it now
    deadline = asyncio.get_running_loop().time() + 30
    while not all('"rule":' in log_of(clients, pod) for pod in pods):
        assert asyncio.get_running_loop().time() < deadline, "a pod logged no alert within 30 s"
        await asyncio.sleep(0.2)

    history = svc.list_history()
    assert [(e.version, e.kind) for e in history] == [(1, "initial"), (2, "push")]
    assert history[0].files == original and history[1].files == edited
    assert history[1].author == "alice@test" and history[1].message == "add netcat rule"
    assert history[1].source_rv == snap.resource_version

    back = svc.rollback()
    assert back.status is PushStatus.PUSHED and back.version == 3
    assert svc.pull().files == original
    summary = await svc.track_reload(back.pushed_at_ns, timeout=20, poll=0.1)
    assert summary.ok and len(summary.nodes) == 3
    assert svc.list_history()[-1].message == "rollback to version 1"


async def test_invalid_rules_are_refused_and_a_forced_push_is_rejected_then_rolled_back(
    falco_sim, clients_for
):
    sim = falco_sim(nodes=2)
    clients = clients_for(sim)
    await deployed(sim, clients)
    svc = RulesService(clients)
    snap = svc.pull()
    bad = {**snap.files, "zz-broken.yaml": BROKEN}
    refused = svc.push(bad, snap.resource_version)
    assert refused.status is PushStatus.INVALID
    assert any(m.file == "/etc/falco/rules.d/zz-broken.yaml" for m in refused.validation.errors)
    assert svc.pull().resource_version == snap.resource_version  # nothing was sent

    forced = svc.push(bad, snap.resource_version, force_invalid=True, message="emergency")
    assert forced.status is PushStatus.PUSHED and forced.forced
    summary = await svc.track_reload(forced.pushed_at_ns, timeout=20, poll=0.1)
    assert {n.state for n in summary.nodes} == {ReloadState.REJECTED} and len(summary.nodes) == 2
    assert all("hot restart failure" in n.detail for n in summary.nodes)
    assert not summary.ok

    target = svc.rollback_target()
    assert target.files == snap.files  # the newest version that differs from the live (broken) rules
    back = svc.rollback()
    assert back.status is PushStatus.PUSHED and svc.pull().files == snap.files
    assert [e.kind for e in svc.list_history()] == ["initial", "push", "rollback"]
    assert svc.list_history()[1].message == "emergency"
    summary = await svc.track_reload(back.pushed_at_ns, timeout=20, poll=0.1)
    assert summary.ok and len(summary.nodes) == 2, summary.nodes


async def test_two_editors_second_gets_a_conflict_and_the_first_edit_survives(falco_sim, clients_for):
    sim = falco_sim(nodes=1)
    clients = clients_for(sim)
    await deployed(sim, clients)
    alice, bob = RulesService(clients, author="alice"), RulesService(clients, author="bob")
    a_snap, b_snap = alice.pull(), bob.pull()
    assert a_snap.resource_version == b_snap.resource_version
    a_files = {k: v + "\n# alice was here\n" for k, v in a_snap.files.items()}
    b_files = {k: v + "\n# bob was here\n" for k, v in b_snap.files.items()}
    assert alice.push(a_files, a_snap.resource_version).status is PushStatus.PUSHED
    second = bob.push(b_files, b_snap.resource_version)
    assert second.status is PushStatus.CONFLICT
    c = second.conflict
    assert c.theirs == a_files and c.ours == b_files and c.base_rv == b_snap.resource_version
    assert "-# alice was here" in c.diff and "+# bob was here" in c.diff
    assert bob.pull().files == a_files
    assert [e.author for e in bob.list_history()] == ["", "alice"]


async def test_warnings_need_confirmation_and_errors_are_explained(falco_sim, clients_for):
    sim = falco_sim(nodes=1)
    clients = clients_for(sim)
    await deployed(sim, clients)
    svc = RulesService(clients)
    snap = svc.pull()
    unused = "- list: never_used_list\n  items: [a, b]\n"
    res = svc.push({**snap.files, "extra.yaml": unused}, snap.resource_version)
    assert res.status is PushStatus.NEEDS_CONFIRMATION
    assert [m.code for m in res.validation.warnings] == ["LOAD_UNUSED_LIST"]
    assert svc.pull().resource_version == snap.resource_version
    ok = svc.push({**snap.files, "extra.yaml": unused}, snap.resource_version, allow_warnings=True)
    assert ok.status is PushStatus.PUSHED
    again = svc.push(svc.pull().files, ok.resource_version)
    assert again.status is PushStatus.UNCHANGED
    with pytest.raises(RulesError, match="invalid rules file name"):
        svc.validate({"../evil.yaml": "[]"})
    with pytest.raises(RulesError, match="no rules version 42"):
        svc.rollback(42)


async def test_no_running_falco_means_a_clear_error(falco_sim, clients_for):
    sim = falco_sim(nodes=1)
    svc = RulesService(clients_for(sim))
    with pytest.raises(RulesError, match="deploy Falco first"):
        svc.pull()
    with pytest.raises(RulesError, match="no running Falco pod"):
        svc.default_rules()


async def test_crash_looping_pods_are_reported_and_a_fix_brings_them_back(falco_sim, clients_for):
    sim = falco_sim(nodes=2)
    clients = clients_for(sim)
    dep = Deployer(clients)
    plan = dep.plan()
    for obj in plan.objects:
        if obj["metadata"]["name"] == "falco-rules":
            obj["data"] = {"custom-rules.yaml": BROKEN}
    dep.apply(plan)
    rollout = await dep.follow_rollout(timeout=30, stuck_grace=1.0)
    assert {s.reason for s in rollout.stuck} == {"CrashLoopBackOff"}
    defaults = bundled_default_rules()  # no Falco pod runs to read it from: the image's file as shipped
    svc = RulesService(clients)
    snap = svc.pull()
    worse = svc.push({"custom-rules.yaml": BROKEN + "- macro: m\n"}, snap.resource_version,
                     force_invalid=True, defaults=defaults)  # fmt: skip
    summary = await svc.track_reload(worse.pushed_at_ns, timeout=20, poll=0.1)
    assert {n.state for n in summary.nodes} == {ReloadState.CRASH_LOOP}, summary.nodes
    assert all(n.detail.startswith("Error:") for n in summary.nodes), summary.nodes
    fixed = svc.push({"custom-rules.yaml": NEW_RULE}, worse.resource_version, defaults=defaults)
    assert fixed.status is PushStatus.PUSHED
    summary = await svc.track_reload(fixed.pushed_at_ns, timeout=20, poll=0.1)
    assert summary.ok, summary.nodes
    assert (await dep.follow_rollout(timeout=30)).done


async def test_reload_tracking_survives_an_api_server_restart(falco_sim, clients_for):
    sim = falco_sim(nodes=2)
    clients = clients_for(sim)
    await deployed(sim, clients)
    svc = RulesService(clients)
    snap = svc.pull()
    edited = {"custom-rules.yaml": snap.files["custom-rules.yaml"] + NEW_RULE}
    pushed = svc.push(edited, snap.resource_version)
    first = asyncio.Event()
    task = asyncio.create_task(
        svc.track_reload(pushed.pushed_at_ns, timeout=20, poll=0.1, on_event=lambda e: first.set())
    )
    await first.wait()
    await asyncio.to_thread(sim.cluster.restart_api_server)
    summary = await task
    assert summary.ok and len(summary.nodes) == 2, summary.nodes


async def test_history_keeps_the_last_versions_and_concurrent_writers_lose_nothing(falco_sim, clients_for):
    from concurrent.futures import ThreadPoolExecutor

    from falcotui.ops.rules.history import RulesHistory

    sim = falco_sim(nodes=1)
    clients = clients_for(sim)
    await deployed(sim, clients)
    svc = RulesService(clients, history_limit=3)
    for i in range(4):
        snap = svc.pull()
        edited = {"custom-rules.yaml": snap.files["custom-rules.yaml"] + f"# edit {i}\n"}
        assert svc.push(edited, snap.resource_version, message=f"edit {i}").status is PushStatus.PUSHED
    entries = svc.list_history()
    assert [e.version for e in entries] == [3, 4, 5]
    assert [e.message for e in entries] == ["edit 1", "edit 2", "edit 3"]
    with pytest.raises(RulesError, match=r"no rules version 1 in the history \(kept versions: 3, 4, 5\)"):
        svc.rollback(1)

    history = RulesHistory(clients, "falco", name="falco-rules-history-race", limit=50)

    def record(i: int) -> int:
        files = {"r.yaml": f"# writer {i}\n"}
        entry = history.record(files, author=f"w{i}", message="", kind="push", source_rv="", pushed_rv="")
        return entry.version

    with ThreadPoolExecutor(4) as pool:
        versions = list(pool.map(record, range(8)))
    assert sorted(versions) == list(range(1, 9))
    assert sorted(e.author for e in history.entries()) == sorted(f"w{i}" for i in range(8))


async def _deploy(clients: KubeClients, **plan: object) -> list[str]:
    dep = Deployer(clients)
    dep.apply(dep.plan(**plan))
    result = await dep.follow_rollout(timeout=30, stuck_grace=5)
    assert result.done, result.explain()
    return [n.pod for n in result.status.nodes]


async def test_a_044_rule_pushed_to_043_grpc_profile_nodes_is_refused_before_the_push(falco_sim, clients_for):
    """Falco 0.43.1 (the gRPC profile) is built on libs 0.23.2, which has no modifiers: the push is
    refused with the parse error 0.43's loader gives, and the ConfigMap is left alone."""
    sim = falco_sim(nodes=2)
    clients = clients_for(sim)
    await _deploy(clients, grpc=True)
    svc = RulesService(clients, author="alice@test")
    target = svc.target()
    assert target.falco_version == "0.43.1" and not target.dialect.modifiers
    assert target.noteworthy and "validated for Falco 0.43.1 (libs 0.23.2)" in target.describe()
    snap = svc.pull()
    edited = {"custom-rules.yaml": snap.files["custom-rules.yaml"] + MODIFIER_RULE}
    result = svc.push(edited, snap.resource_version, message="modifiers")
    assert result.status is PushStatus.INVALID
    (error,) = result.validation.errors
    assert (error.code, error.text) == (
        "LOAD_ERR_COMPILE_CONDITION",
        "unexpected token after 'oneof', expecting 'or', 'and'",
    )
    assert svc.pull() == snap  # nothing sent
    # the same rule is fine for the version the manifests pin
    assert svc.validate(edited, target=target_for_versions({"n": "0.45.0"})).ok


async def test_mixed_versions_validate_for_the_strictest_and_say_so(falco_sim, clients_for):
    sim = falco_sim(nodes=3)
    clients = clients_for(sim)
    pods = await _deploy(clients)
    svc = RulesService(clients, author="alice@test")
    assert svc.target().falco_version == "0.45.0" and not svc.target().noteworthy
    snap = svc.pull()
    edited = {"custom-rules.yaml": snap.files["custom-rules.yaml"] + MODIFIER_RULE}
    assert svc.validate(edited).ok
    set_falco_image_tag(clients, pods[0], "0.43.1")  # one node's pod moves to 0.43.1
    target = svc.target(refresh=True)
    assert target.falco_version == "0.43.1"
    assert "mixed Falco versions (0.43.1, 0.45.0)" in target.note and pods[0] in target.note
    result = svc.push(edited, snap.resource_version)
    assert result.status is PushStatus.INVALID
    assert result.validation.target is not None and "the strictest" in result.validation.target.describe()
