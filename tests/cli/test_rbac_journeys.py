"""The operator roles are enough, and only what is needed: users bound to manifests/operator-rbac.yaml through
the example bindings run falcotui's journeys against a simulated cluster that enforces RBAC the way the real
authorizer does, and the simulator's journal must hold no denied request (issue 13, finding 2)."""

from __future__ import annotations

from pathlib import Path

from falcotui.kube.apply import Applier
from falcotui.ops.deploy import manifests
from falcotui.sim.api.rbac import Decision


def _setup(cli_sim, tmp_path: Path):
    sim = cli_sim(nodes=2, deploy=False, per_minute=600)
    # What the administrator does once: the namespace, the roles, the bindings.
    namespace = next(d for d in manifests.load_base() if d["kind"] == "Namespace")
    Applier(sim.clients).apply([namespace, *manifests.operator_rbac(), *manifests.operator_bindings()])
    users = {}
    for user, group in (("olga", "falcotui-operators"), ("vic", "falcotui-viewers")):
        policy = sim.cluster.add_user(user, (group,))
        kubeconfig = sim.cluster.write_kubeconfig(tmp_path / f"kubeconfig-{user}", user=user)
        users[user] = (type(sim)(sim.cluster, sim.clients, kubeconfig), policy)
    return sim, users


def _denied(policy) -> list[Decision]:
    return [d for d in policy.decisions if not d.allowed]


def _run(as_user, *argv: str, ok: tuple[int, ...] = (0,)) -> str:
    proc = as_user.cli(*argv, timeout=120)
    assert proc.returncode in ok, (
        f"falcotui {' '.join(argv)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    )
    return proc.stdout


def test_cli_journeys_need_nothing_beyond_the_roles(cli_sim, tmp_path):
    _sim, users = _setup(cli_sim, tmp_path)
    operator, op_policy = users["olga"]
    viewer, viewer_policy = users["vic"]

    out = _run(operator, "apply", "--yes", "--timeout", "60")
    assert "kept  Namespace falco" in out  # the administrator's namespace is adopted, never relabelled
    _run(operator, "apply", "--grpc", "--yes", "--timeout", "60")
    _run(operator, "certs", "rotate", "--yes", "--timeout", "60")
    _run(operator, "status")
    _run(operator, "alerts", "--json")
    rules = tmp_path / "rules"
    _run(operator, "rules", "pull", "-o", str(rules))
    custom = rules / "custom-rules.yaml"
    custom.write_text(custom.read_text().replace("priority: NOTICE", "priority: WARNING"))
    _run(operator, "rules", "push", str(rules), "--yes", "-m", "rbac journey")
    _run(operator, "rules", "history")
    _run(operator, "rules", "rollback", "--yes")
    _run(operator, "restart", "--timeout", "60")
    _run(operator, "apply", "--yes", "--timeout", "60")  # back to the base profile

    _run(viewer, "status")
    _run(viewer, "alerts")
    _run(viewer, "rules", "pull", "-o", str(tmp_path / "viewer-rules"))

    _run(operator, "delete", "--yes", "--timeout", "60")

    assert _denied(op_policy) == []
    assert _denied(viewer_policy) == []
    used = {(d.verb, d.resource) for d in op_policy.decisions}
    # the journeys did exercise the rights the roles exist for
    assert {
        ("patch", "daemonsets"),
        ("create", "secrets"),
        ("update", "configmaps"),
        ("get", "pods/log"),
    } <= used
    assert {("list", "nodes"), ("get", "pods/log")} <= {(d.verb, d.resource) for d in viewer_policy.decisions}


def test_a_viewer_cannot_change_anything_and_is_told_so(cli_sim, tmp_path):
    _sim, users = _setup(cli_sim, tmp_path)
    viewer, viewer_policy = users["vic"]
    proc = viewer.cli("apply", "--yes", timeout=60)
    assert proc.returncode == 1
    assert 'User "vic" cannot' in proc.stderr
    assert {d.verb for d in _denied(viewer_policy)} <= {"get", "patch", "create"}
    assert not any(d.resource == "secrets" for d in viewer_policy.decisions if d.allowed)
