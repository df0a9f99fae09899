"""Validating with the cluster's own Falco (issue 18): `falco -V` by exec in one pod of each Falco version of
a simulated cluster running 0.43.1 beside 0.45.0, over real sockets. Agree-valid, agree-invalid, a rule only
one version loads, a pod whose image tag misnames the Falco it runs (falcotui and Falco disagree), exec
refused by RBAC, and the pod's /tmp listed afterwards: nothing left, also when the exec fails midway."""

from __future__ import annotations

import asyncio
import time

import pytest
from simkit import MODIFIER_RULE, NEW_RULE, falco_pods, run_two_falco_versions, set_falco_image_tag

from falcotui.kube.apply import Applier
from falcotui.kube.client import KubeClients, Timeouts, load_clients
from falcotui.kube.exec import ExecError, exec_command
from falcotui.ops.deploy import manifests
from falcotui.ops.deploy.deployer import Deployer
from falcotui.ops.rules.incluster import (
    APPEND_SCRIPT,
    CHUNK_CHARS,
    TMP_TEMPLATE,
    exec_permission,
    falco_validate_in_pod,
    pods_per_version,
    validate_in_cluster,
)
from falcotui.ops.rules.model import RulesError
from falcotui.ops.rules.service import RulesService

pytestmark = pytest.mark.timeout(180)

BROKEN = "- rule: broken rule\n  desc: has no condition\n  output: x\n  priority: WARNING\n"
TMP_PREFIX = TMP_TEMPLATE.rstrip("X").rsplit("/", 1)[1]


async def deploy(clients: KubeClients) -> None:
    dep = Deployer(clients)
    dep.apply(dep.plan())
    result = await dep.follow_rollout(timeout=30, stuck_grace=5)
    assert result.done, result.explain()


async def wait_until(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await asyncio.to_thread(predicate)
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"never true: {predicate}")


pods = falco_pods


def tmp_listing(clients: KubeClients, pod: str) -> list[str]:
    result = exec_command(clients, "falco", pod, ["ls", "-a", "/tmp"], container="falco")
    assert result.exit_code == 0, result.stderr
    return result.stdout.split()


async def test_each_version_is_asked_and_agrees_with_falcotui(falco_sim, clients_for):
    sim = falco_sim(nodes=2, per_minute=6)
    clients = clients_for(sim)
    await deploy(clients)
    chosen = await asyncio.to_thread(run_two_falco_versions, clients)
    svc = RulesService(clients, pipeline=False)
    live = svc.pull().files

    ok = await asyncio.to_thread(validate_in_cluster, svc, {**live, "zz-new.yaml": NEW_RULE})
    assert [v.version for v in ok.verdicts] == ["0.43.1", "0.45.0"]
    assert ok.all_valid and not ok.disagreements and not ok.leftovers
    assert all(v.ours_ok is True and v.exit_code == 0 and v.tmp_dir.startswith("/tmp/") for v in ok.verdicts)

    bad = await asyncio.to_thread(validate_in_cluster, svc, {**live, "zz-new.yaml": BROKEN})
    assert [v.ok for v in bad.verdicts] == [False, False] and not bad.disagreements
    for v in bad.verdicts:
        [err] = v.errors
        assert (err.code, err.file, err.line) == ("LOAD_ERR_YAML_VALIDATE", "zz-new.yaml", 1), err
        assert err.message == "Item has no mapping for key 'condition'"
        assert v.ours is not None and [m.code for m in v.ours.errors] == [err.code]
        assert not v.detail_differs

    # a rule only 0.44+ loads: each Falco answers for itself, and falcotui's verdict for it agrees
    modifier = await asyncio.to_thread(validate_in_cluster, svc, {**live, "zz-new.yaml": MODIFIER_RULE})
    by_version = {v.version: v for v in modifier.verdicts}
    assert by_version["0.43.1"].ok is False and by_version["0.45.0"].ok is True
    [err] = by_version["0.43.1"].errors
    assert err.code == "LOAD_ERR_COMPILE_CONDITION" and err.file == "zz-new.yaml"
    assert err.message == "unexpected token after 'oneof', expecting 'or', 'and'"
    assert not modifier.disagreements and [v.version for v in modifier.rejected_by] == ["0.43.1"]

    for pod in chosen.values():  # every temporary directory is gone
        listing = tmp_listing(clients, pod["metadata"]["name"])
        assert listing == [".", ".."], listing


async def test_a_pod_whose_image_misnames_its_falco_is_a_disagreement(falco_sim, clients_for):
    """The pod's image now says 0.43.1 but its container still runs 0.45.0 (a Pod's image is mutable; the
    running container is not replaced): falcotui, going by the tag, refuses the modifier rule; the Falco in
    the pod loads it. The disagreement is reported as one."""
    sim = falco_sim(nodes=1, per_minute=6)
    clients = clients_for(sim)
    await deploy(clients)
    [pod] = [p["metadata"]["name"] for p in pods(clients)]
    set_falco_image_tag(clients, pod, "0.43.1")
    svc = RulesService(clients, pipeline=False)
    files = {**svc.pull().files, "zz-new.yaml": MODIFIER_RULE}
    result = await asyncio.to_thread(validate_in_cluster, svc, files)
    [verdict] = result.verdicts
    assert verdict.version == "0.43.1" and verdict.ok is True and verdict.ours_ok is False
    assert verdict.disagrees and result.disagreements == [verdict]
    assert tmp_listing(clients, pod) == [".", ".."]


async def test_exec_denied_by_rbac_is_said_and_nothing_is_sent(falco_sim, clients_for, tmp_path):
    sim = falco_sim(nodes=1, per_minute=6)
    admin = clients_for(sim)
    await deploy(admin)
    Applier(admin).apply([*manifests.operator_rbac(), *manifests.operator_bindings()])
    policy = sim.cluster.add_user("vic", ("falcotui-viewers",))
    kubeconfig = sim.cluster.write_kubeconfig(tmp_path / "kubeconfig-vic", user="vic")
    viewer = load_clients(kubeconfig, environ={}, timeouts=Timeouts(connect=2, read=10))
    try:
        svc = RulesService(viewer, pipeline=False)
        with pytest.raises(RulesError, match="may not get or create pods/exec in namespace falco"):
            await asyncio.to_thread(validate_in_cluster, svc, {"custom-rules.yaml": NEW_RULE})
    finally:
        viewer.close()
    assert not [d for d in policy.decisions if d.resource == "pods/exec"]  # asked, never attempted


async def test_the_temp_dir_is_removed_when_the_exec_fails_midway(falco_sim, clients_for):
    sim = falco_sim(nodes=1, per_minute=6)
    clients = clients_for(sim)
    await deploy(clients)
    [pod] = pods(clients)
    name = pod["metadata"]["name"]
    seen: list[list[str]] = []

    def run(pod_name: str, argv: list[str]):
        seen.append(argv)
        if argv[0].endswith("falco"):  # the connection drops once the files are written
            raise ExecError(f"exec in falco/{pod_name}: connection lost: [Errno 104] Connection reset")
        return exec_command(clients, "falco", pod_name, argv, container="falco")

    verdict = await asyncio.to_thread(falco_validate_in_pod, run, pod, {"custom-rules.yaml": NEW_RULE})
    assert verdict.ok is None and "exec failed midway" in verdict.problem
    assert verdict.cleaned and not verdict.cleanup_error
    assert seen[-1] == ["rm", "-rf", verdict.tmp_dir]
    assert tmp_listing(clients, name) == [".", ".."]


async def test_a_read_only_root_without_a_tmp_volume_is_explained(falco_sim, clients_for):
    sim = falco_sim(nodes=1, per_minute=6)
    clients = clients_for(sim)
    await deploy(clients)
    path = "/apis/apps/v1/namespaces/falco/daemonsets/falco"
    ds = clients.request("GET", path)
    spec = ds["spec"]["template"]["spec"]
    spec["volumes"] = [v for v in spec["volumes"] if v["name"] != "tmp"]
    for c in spec["containers"]:
        c["volumeMounts"] = [m for m in c["volumeMounts"] if m["name"] != "tmp"]
    old = {p["metadata"]["name"] for p in pods(clients)}
    clients.request("PUT", path, body=ds)

    def replaced():
        now = [p for p in pods(clients) if p["metadata"]["name"] not in old]
        chosen, _ = pods_per_version(now)
        return chosen.get("0.45.0")

    pod = await wait_until(replaced, 60)
    verdict = await asyncio.to_thread(
        falco_validate_in_pod,
        lambda p, argv: exec_command(clients, "falco", p, argv, container="falco"),
        pod,
        {"custom-rules.yaml": NEW_RULE},
    )
    assert verdict.ok is None and "Read-only file system" in verdict.problem
    assert "emptyDir at /tmp" in verdict.problem and verdict.cleaned


def test_the_daemonset_gives_falco_a_small_writable_tmp_under_its_read_only_root() -> None:
    """The copy of the candidate rules needs a writable /tmp; Falco's root filesystem stays read-only."""
    from falcotui.ops.deploy.manifests import render

    ds = next(d for d in render() if d["kind"] == "DaemonSet")
    spec = ds["spec"]["template"]["spec"]
    [falco] = [c for c in spec["containers"] if c["name"] == "falco"]
    assert falco["securityContext"]["readOnlyRootFilesystem"] is True
    [mount] = [m for m in falco["volumeMounts"] if m["mountPath"] == "/tmp"]
    [volume] = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    assert volume["emptyDir"] == {"medium": "Memory", "sizeLimit": "16Mi"} and not mount.get("readOnly")


async def test_from_kubernetes_1_35_an_exec_upgrade_also_needs_create(falco_sim, clients_for, tmp_path):
    """AuthorizePodWebsocketUpgradeCreatePermission (beta, on by default from 1.35): `get` on pods/exec
    no longer opens the websocket; falcotui says which verb is missing before trying."""
    sim = falco_sim(nodes=1, per_minute=6, server_version="v1.35.0")
    admin = clients_for(sim)
    await deploy(admin)
    meta = {"name": "exec-get-only", "namespace": "falco"}
    rules = [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
        {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["get"]},
    ]
    Applier(admin).apply([
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta, "rules": rules},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta,
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "exec-get-only"},
         "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "gina"}]},
    ])  # fmt: skip
    sim.cluster.add_user("gina")
    clients = load_clients(
        sim.cluster.write_kubeconfig(tmp_path / "kubeconfig-gina", user="gina"),
        environ={},
        timeouts=Timeouts(connect=2, read=10),
    )
    try:
        [pod] = pods(admin)
        with pytest.raises(ExecError) as refused:
            await asyncio.to_thread(
                exec_command, clients, "falco", pod["metadata"]["name"], ["ls", "/tmp"], container="falco"
            )
        assert refused.value.code == 403
        assert exec_permission(clients, "falco") == (
            "your credentials may not create pods/exec in namespace falco: validating with the cluster's "
            "Falco runs `falco -V` inside a Falco pod (pods/exec is in the falcotui-operator role)"
        )
    finally:
        clients.close()


async def test_a_large_rules_file_is_written_in_chunks_and_validated_whole(falco_sim, clients_for):
    """~140 KB of rules: past one exec argument's budget, so written in several appends through the exec URL
    (up to 1 MiB of request line, as kube-apiserver reads), then validated as one file."""
    sim = falco_sim(nodes=1, per_minute=6)
    clients = clients_for(sim)
    await deploy(clients)
    [pod] = pods(clients)
    rules = "".join(
        NEW_RULE.replace("Netcat started in container", f"Netcat started in container {i:04d}") + "\n"
        for i in range(500)
    )
    assert len(rules) > 4 * CHUNK_CHARS
    seen: list[list[str]] = []

    def run(pod_name: str, argv: list[str]):
        seen.append(argv)
        return exec_command(clients, "falco", pod_name, argv, container="falco", timeout=120)

    verdict = await asyncio.to_thread(falco_validate_in_pod, run, pod, {"zz-many.yaml": rules})
    appends = [a for a in seen if a[:3] == ["sh", "-c", APPEND_SCRIPT]]
    assert len(appends) == -(-len(rules) // CHUNK_CHARS) - 1
    assert verdict.ok is True and verdict.exit_code == 0 and verdict.cleaned, verdict.problem
