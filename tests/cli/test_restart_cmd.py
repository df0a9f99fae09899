"""`falcotui restart` against the simulated cluster over HTTP: every Falco pod is replaced and the rollout is
followed node by node; `--no-wait` only asks; a missing DaemonSet or missing RBAC rights are a clear error.
Run through a parser built here, like the `apply` tests (the lead wires `restart_cmd` into the CLI)."""

from __future__ import annotations

import io

from falcotui.cli import build_parser
from falcotui.sim.api.auth import Policy


def cli(sim, *argv: str) -> tuple[int, str, str]:
    args = build_parser().parse_args([*argv, "--kubeconfig", str(sim.kubeconfig)])
    out, err = io.StringIO(), io.StringIO()  # not terminals: what a pipe gets
    code = args.handler(args, out, err)
    return code, out.getvalue(), err.getvalue()


def falco_pods(sim) -> dict[str, tuple[str, str]]:
    """node -> (pod name, uid) of the Falco pods that are not being deleted."""
    items = sim.clients.request("GET", "/api/v1/namespaces/falco/pods")["items"]
    return {
        p["spec"]["nodeName"]: (p["metadata"]["name"], p["metadata"]["uid"])
        for p in items
        if not p["metadata"].get("deletionTimestamp")
    }


def test_restart_replaces_every_pod_and_follows_the_rollout_in_plain_lines(cli_sim):
    sim = cli_sim(nodes=3)
    before = falco_pods(sim)
    assert len(before) == 3  # the control-plane node too (the DaemonSet tolerates its taint)
    code, out, err = cli(sim, "restart")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("DaemonSet falco/falco: restarted (kubectl.kubernetes.io/restartedAt=")
    assert lines[1] == "Waiting for the rollout..."
    assert lines[-1] == 'daemon set "falco" successfully rolled out'
    after = falco_pods(sim)
    assert after.keys() == before.keys()
    for node, (name, uid) in after.items():
        assert name != before[node][0] and uid != before[node][1], node
        assert f"  {node}: ready pod {name} (" in out
    assert "\r" not in out and "\x1b" not in out  # no progress bar or colours when piped
    ds = sim.clients.request("GET", "/apis/apps/v1/namespaces/falco/daemonsets/falco")
    assert "kubectl.kubernetes.io/restartedAt" in ds["spec"]["template"]["metadata"]["annotations"]


def test_no_wait_returns_at_once_and_the_pods_are_replaced_anyway(cli_sim, until):
    sim = cli_sim(nodes=1)
    before = falco_pods(sim)
    code, out, err = cli(sim, "restart", "--no-wait")
    assert code == 0, err
    assert out.startswith("DaemonSet falco/falco: restarted (") and "Waiting" not in out
    assert len(out.splitlines()) == 1

    def replaced() -> bool:
        now = falco_pods(sim)
        return now.keys() == before.keys() and all(now[n][1] != before[n][1] for n in now)

    until(replaced, "every Falco pod replaced after restart --no-wait")


def test_nothing_deployed_or_no_rbac_rights_is_a_clear_error(cli_sim):
    sim = cli_sim(nodes=1, deploy=False)
    code, out, err = cli(sim, "restart")
    assert code == 1 and out == ""
    assert err == "falcotui restart: no DaemonSet falco/falco to restart: deploy first\n"
    sim.cluster.server.policy = Policy.read_only()  # the user's role may read but not patch
    code, out, err = cli(sim, "restart", "-n", "falco")
    assert code == 1 and out == ""
    assert err.startswith("falcotui restart: not allowed to restart DaemonSet falco/falco (it takes `patch`")
    assert "forbidden" in err and "Traceback" not in err
    code, _, err = cli(sim, "restart", "--timeout", "0")
    assert code == 2 and "--timeout and --stuck-after must be positive" in err
