"""`falcotui alerts` and `falcotui status` with `--context a --context b`, as real subprocesses against two
simulated clusters in one kubeconfig: every alert of both clusters' Falco logs printed once with its cluster,
each cluster's status under its own name, an unreachable cluster reported while the other is still read, and
the one-cluster commands refusing several contexts."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from pathlib import Path

from falcotui.cli.demo import merged_kubeconfig
from falcotui.falco.alerts import dedup_key, parse_json_alert
from tests.cli.conftest import CLI


def _two(cli_sim, tmp_path: Path, *, dead: bool = False) -> tuple[dict, Path]:
    sims = {
        "east": cli_sim(nodes=1, seed=1, per_minute=300),
        "west": cli_sim(nodes=1, seed=2, per_minute=300),
    }
    configs = {n: s.kubeconfig for n, s in sims.items()}
    if dead:  # a third context whose API server is a port nothing listens on
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        gone = tmp_path / "gone"
        gone.write_text(
            sims["east"].kubeconfig.read_text().replace(sims["east"].cluster.url, f"http://127.0.0.1:{port}")
        )
        configs["gone"] = gone
    return sims, merged_kubeconfig(configs, tmp_path / "kubeconfig")


def _run(kubeconfig: Path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args, "--kubeconfig", str(kubeconfig)], capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip


def test_alerts_of_two_clusters_merged_with_their_cluster(cli_sim, until, tmp_path: Path) -> None:
    sims, kubeconfig = _two(cli_sim, tmp_path)
    for sim in sims.values():
        until(lambda sim=sim: len(sim.alerts()) >= 5, "alerts in the cluster's Falco log")
    truth = {name: sim.alerts() for name, sim in sims.items()}
    done = _run(kubeconfig, "alerts", "--json", "--context", "east", "--context", "west")
    assert done.returncode == 0, done.stderr
    printed: dict[str, dict] = {"east": {}, "west": {}}
    times = []
    for line in done.stdout.splitlines():
        doc = json.loads(line)
        cluster = doc["output_fields"]["cluster"]
        alert = parse_json_alert(line, node=doc.get("node"), pod=doc.get("pod"))
        key = dedup_key(alert)
        assert key not in printed[cluster], "printed twice"
        printed[cluster][key] = alert
        times.append(alert.time_ns)
    assert times == sorted(times), "merged by event time"
    for name in ("east", "west"):
        # what the cluster's logs held when read first is printed, each once, under that cluster's name
        missing = set(truth[name]) - set(printed[name])
        assert not missing, f"{len(missing)} of {name}'s alerts missing"

    # text lines start with the cluster; the same --context after the command works too
    text = _run(kubeconfig, "alerts", "--context", "east", "--context", "west", "--since", "1h")
    assert text.returncode == 0, text.stderr
    firsts = {line.split()[0] for line in text.stdout.splitlines()}
    assert firsts == {"east", "west"}
    before = _run(kubeconfig, "--context", "east", "alerts", "--context", "west", "--since", "1h")
    assert {line.split()[0] for line in before.stdout.splitlines()} == {"east", "west"}


def test_status_of_two_clusters_and_one_unreachable(cli_sim, tmp_path: Path) -> None:
    sims, kubeconfig = _two(cli_sim, tmp_path, dead=True)
    done = _run(kubeconfig, "status", "--json", "--context", "east", "--context", "west")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert [c["cluster"] for c in doc["clusters"]] == ["east", "west"]
    for c in doc["clusters"]:
        assert c["context"] == c["cluster"] and c["daemonset"]["desired"] == 1
        assert c["server"] == sims[c["cluster"]].cluster.url

    done = _run(kubeconfig, "status", "--context", "west", "--context", "gone")
    assert done.returncode == 1
    assert "== cluster west ==" in done.stdout and "DaemonSet falco: DS 1/1 ready" in done.stdout
    assert "== cluster gone ==\nnot reachable: cannot reach the Kubernetes API" in done.stdout

    done = _run(kubeconfig, "alerts", "--context", "gone", "--context", "west", "--since", "1h")
    assert done.returncode == 1
    assert {line.split()[0] for line in done.stdout.splitlines()} == {"west"}
    assert "cluster gone: cannot reach the Kubernetes API" in done.stderr


def test_follow_keeps_printing_one_cluster_while_the_other_is_down(cli_sim, until, tmp_path: Path) -> None:
    _, kubeconfig = _two(cli_sim, tmp_path, dead=True)
    argv = [*CLI, "alerts", "-f", "--json", "--context", "gone", "--context", "west"]
    proc = subprocess.Popen(
        [*argv, "--kubeconfig", str(kubeconfig)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        clusters = set()
        deadline = time.monotonic() + 60
        while len(clusters) < 1 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if line:
                clusters.add(json.loads(line)["output_fields"]["cluster"])
        assert clusters == {"west"}
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "cluster gone: retrying: cannot reach the Kubernetes API" in err


def test_one_cluster_commands_refuse_several_contexts(cli_sim, tmp_path: Path) -> None:
    _, kubeconfig = _two(cli_sim, tmp_path)
    done = _run(kubeconfig, "restart", "--context", "east", "--context", "west", "--yes")
    assert done.returncode == 2
    assert "acts on one cluster: give --context once" in done.stderr


def test_serve_forwards_every_context_to_the_served_app() -> None:
    from falcotui import cli
    from falcotui.cli.common import apply_global_options
    from falcotui.cli.serve_cmd import forwarded_argv

    args = cli.build_parser().parse_args(["--context", "a", "serve", "--context", "b", "--read-only"])
    apply_global_options(args, "serve")
    assert [w for w in forwarded_argv(args) if w.startswith("--context")] == ["--context=a", "--context=b"]
