"""The Deployer against the simulated cluster: plan/diff, apply, rollout (complete and stuck), the gRPC
Secret kept across applies, the rules ConfigMap never reset by a re-apply, restart and uninstall."""

from __future__ import annotations

import pytest

from falcotui.falco.certs import generate_grpc_certs
from falcotui.kube.apply import Applier
from falcotui.ops.deploy.deployer import Deployer, DeployPlan
from falcotui.ops.deploy.manifests import (
    GRPC_CERTS_EXPIRE,
    GRPC_CLIENT_SECRET,
    GRPC_SERVER_SECRET,
    expiry_stamp,
    render,
)
from falcotui.ops.deploy.results import DeployError
from falcotui.ops.rules.service import RulesService


def statuses(plan: DeployPlan) -> dict[str, str]:
    return {c.ref: c.status for c in plan.changes}


async def test_first_apply_creates_everything_and_rolls_out_on_every_node(falco_sim, clients_for):
    sim = falco_sim(nodes=3)
    dep = Deployer(clients_for(sim))
    plan = dep.plan()
    assert set(statuses(plan).values()) == {"created"}
    ds = next(c for c in plan.changes if c.kind == "DaemonSet")
    assert "+  name: falco" in ds.diff or "name: falco" in ds.diff
    applied = dep.apply(plan)
    assert [c.status for c in applied] == ["created"] * len(plan.objects)
    seen = []
    result = await dep.follow_rollout(timeout=30, stuck_grace=5, on_progress=seen.append)
    assert result.done, result.explain()
    assert {n.state for n in result.status.nodes} == {"ready"} and len(result.status.nodes) == 3
    assert seen and seen[-1].done
    again = dep.plan()
    assert set(statuses(again).values()) == {"unchanged", "kept"}
    assert statuses(again)["ConfigMap falco/falco-rules"] == "kept"


async def test_reapply_keeps_the_rules_users_pushed(falco_sim, clients_for):
    sim = falco_sim(nodes=1)
    clients = clients_for(sim)
    dep = Deployer(clients)
    dep.apply(dep.plan())
    assert (await dep.follow_rollout(timeout=30)).done
    rules = RulesService(clients, author="alice@test")
    snap = rules.pull()
    edited = {k: v + "\n# edited by alice\n" for k, v in snap.files.items()}
    pushed = rules.push(edited, snap.resource_version, message="alice's edit")
    assert pushed.status == "pushed", pushed.validation and pushed.validation.errors
    plan = dep.plan(image_tag="0.44.1")
    kept = next(c for c in plan.changes if c.name == "falco-rules")
    assert kept.status == "kept" and "falcotui rules" in kept.note
    assert statuses(plan)["DaemonSet falco/falco"] == "changed"
    dep.apply(plan)
    assert rules.pull().files == edited
    assert (await dep.follow_rollout(timeout=30)).done


async def test_unpullable_tag_is_reported_stuck_with_nodes_and_reason(falco_sim, clients_for):
    sim = falco_sim(nodes=2)
    dep = Deployer(clients_for(sim))
    dep.apply(dep.plan(image_tag="9.9.9"))
    result = await dep.follow_rollout(timeout=30, stuck_grace=0.5)
    assert not result.done
    assert sorted(s.node for s in result.stuck) == sorted(n.node for n in result.status.nodes)
    assert {s.reason for s in result.stuck} <= {"ImagePullBackOff", "ErrImagePull"}
    text = result.explain()
    assert "rollout stuck on 2 node(s)" in text and "falcosecurity/falco:9.9.9" in text
    for s in result.stuck:
        assert s.node in text


async def test_crash_loop_is_explained_with_the_last_log_lines(falco_sim, clients_for):
    sim = falco_sim(nodes=1)
    clients = clients_for(sim)
    dep = Deployer(clients)
    plan = dep.plan()
    for obj in plan.objects:
        if obj["metadata"]["name"] == "falco-rules":
            obj["data"] = {"custom-rules.yaml": "- rule: broken\n  desc: no condition\n  priority: WARNING\n"}
    dep.apply(plan)
    result = await dep.follow_rollout(timeout=30, stuck_grace=1.0)
    assert not result.done
    (stuck,) = result.stuck
    assert stuck.reason == "CrashLoopBackOff"
    assert any("Error:" in line for line in stuck.last_lines), stuck.last_lines
    assert "Error:" in result.explain()


async def test_grpc_profile_creates_the_secrets_once_and_reuses_them(falco_sim, clients_for):
    sim = falco_sim(nodes=1)
    clients = clients_for(sim)
    dep = Deployer(clients)
    plan = dep.plan(grpc=True)
    secrets = [c for c in plan.changes if c.kind == "Secret"]
    assert [c.name for c in secrets] == [GRPC_SERVER_SECRET, GRPC_CLIENT_SECRET]
    assert all(c.status == "created" and "BEGIN" not in c.diff for c in secrets)  # key material never shown
    assert plan.certs_reused is False
    dep.apply(plan)
    paths = [f"/api/v1/namespaces/falco/secrets/{n}" for n in (GRPC_SERVER_SECRET, GRPC_CLIENT_SECRET)]
    first = [clients.request("GET", p) for p in paths]
    # Falco's pods mount the server's Secret only: the client's private key is never in a Falco pod.
    assert sorted(first[0]["data"]) == ["ca.crt", "server.crt", "server.key"]
    assert sorted(first[1]["data"]) == ["ca.crt", "client.crt", "client.key", "server.crt"]
    assert (await dep.follow_rollout(timeout=30)).done
    again = dep.plan(grpc=True)
    assert again.certs_reused is True
    assert {c.status for c in again.changes if c.kind == "Secret"} == {"unchanged"}
    dep.apply(again)
    second = [clients.request("GET", p) for p in paths]
    assert [s["data"] for s in second] == [f["data"] for f in first]
    assert [s["metadata"]["resourceVersion"] for s in second] == [
        f["metadata"]["resourceVersion"] for f in first
    ]


async def test_certificates_close_to_expiry_are_renewed_and_rotate_rolls_the_pods(falco_sim, clients_for):
    sim = falco_sim(nodes=2)
    clients = clients_for(sim)
    dep = Deployer(clients)
    short = generate_grpc_certs(days=10)
    Applier(clients).apply(render(grpc=True, certs=short))
    assert (await dep.follow_rollout(timeout=30)).done
    plan = dep.plan(grpc=True)
    assert plan.certs_reused is False
    assert any("expire at" in n and "new ones replace them" in n for n in plan.notes), plan.notes
    path = "/apis/apps/v1/namespaces/falco/daemonsets/falco"
    before = clients.request("GET", path)
    pods_before = {n.pod for n in (await dep.follow_rollout(timeout=30)).status.nodes}
    stamp = dep.rotate_certs()
    ds = clients.request("GET", path)
    assert ds["spec"]["template"]["metadata"]["annotations"][GRPC_CERTS_EXPIRE] == stamp
    assert ds["metadata"]["generation"] > before["metadata"]["generation"]
    after = await dep.follow_rollout(timeout=30)
    assert after.done and not pods_before & {n.pod for n in after.status.nodes}
    live = dep.live_certs()
    assert live is not None and not live.expires_within(80) and live.ca_crt != short.ca_crt
    assert expiry_stamp(live) == stamp


def test_rotate_refuses_without_the_grpc_profile(falco_sim, clients_for):
    sim = falco_sim(nodes=1)
    dep = Deployer(clients_for(sim))
    dep.apply(dep.plan())
    with pytest.raises(DeployError, match="gRPC profile is not deployed"):
        dep.rotate_certs()


async def test_restart_replaces_every_pod_and_uninstall_removes_them(falco_sim, clients_for):
    sim = falco_sim(nodes=2)
    clients = clients_for(sim)
    dep = Deployer(clients)
    dep.apply(dep.plan())
    first = await dep.follow_rollout(timeout=30)
    before = {n.pod for n in first.status.nodes}
    stamp = dep.restart()
    ds = clients.request("GET", "/apis/apps/v1/namespaces/falco/daemonsets/falco")
    assert ds["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"] == stamp
    after = await dep.follow_rollout(timeout=30)
    assert after.done and not before & {n.pod for n in after.status.nodes}
    # a re-apply does not undo the restart stamp (another field owner) nor roll the pods again
    assert statuses(dep.plan())["DaemonSet falco/falco"] == "unchanged"
    progress = []
    assert await dep.uninstall(timeout=30, on_progress=progress.append)
    assert ("DaemonSet falco/falco", "deleted") in [(p.ref, p.status) for p in progress]
    assert progress[-1].status == "gone"
    assert dep._falco_pods() == []
