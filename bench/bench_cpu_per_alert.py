"""CPU per alert end to end: `falcotui alerts -f --json` against `kubectl logs -f -l … | jq -c`, the baseline,
on the same simulated cluster over the same storm, both started by this script and both counted.

Not a test. The simulated cluster runs in its own process (N nodes, Falco deployed, quiet). Both consumers
follow every Falco pod; a short warm-up storm shows that each delivers every alert before anything is
measured. Then the cluster storms at RATE alerts/s over all nodes for SECONDS and goes quiet; the script
waits until both have printed every alert the simulated Falcos emitted and reads, from /proc, the CPU that
each side's process tree used meanwhile (falcotui with any worker process it starts; kubectl and jq
together). The issue's goal: falcotui's CPU per alert ≤ 1/3 of kubectl | jq's.

    .venv/bin/python bench/bench_cpu_per_alert.py [--nodes 5] [--rate 5000] [--seconds 60] [--app-tree DIR]

`--app-tree DIR` runs falcotui from another checkout (e.g. a worktree of an older commit); the simulator is
always this checkout's, so both trees are measured against the same cluster. kubectl is found as the tests
find it (KUBECTL, a kubectl >= 1.30 on PATH, the Cloud SDK's kubectl.1.32); jq must be on PATH.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

from simproc import REPO, SimProcess, app_env, app_python, tree_cpu, wait_until

from falcotui.kube.kubectl_binary import KubectlNotFound, find_kubectl


class Counted:
    """A consumer's process(es) and the lines its last stage printed (read here, counted only)."""

    def __init__(self, procs: list[subprocess.Popen], out, slack: int = 0) -> None:
        self.procs = procs
        self.slack = slack  # lines its last stage may hold back in its stdout buffer until its input ends
        self.lines = 0
        self._out = out
        self.drained = threading.Event()
        threading.Thread(target=self._count, daemon=True).start()

    def _count(self) -> None:
        while chunk := os.read(self._out.fileno(), 1 << 16):
            self.lines += chunk.count(b"\n")
        self.drained.set()

    def cpu(self) -> float:
        return sum(tree_cpu(p.pid) for p in self.procs)

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.procs)

    def stop(self) -> None:
        self.procs[0].terminate()  # the rest of a pipeline ends with its input
        for p in self.procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def start_falcotui(kubeconfig: str, app_tree: Path, log: Path) -> Counted:
    proc = subprocess.Popen(
        [*app_python(app_tree), "alerts", "-f", "--json", "--kubeconfig", kubeconfig],
        stdout=subprocess.PIPE, stderr=log.open("wb"), stdin=subprocess.DEVNULL, **app_env(app_tree),
    )  # fmt: skip
    return Counted([proc], proc.stdout)


def start_kubectl_jq(kubectl: str, jq: str, kubeconfig: str, nodes: int, log: Path) -> Counted:
    err = log.open("wb")
    # --tail=0: only new lines (the startup lines Falco wrote to stderr before are not JSON, and jq would
    # stop at the first of them); the storm's lines are all JSON alerts. -v=6 logs each request once with
    # its status, which tells when every pod's stream is open (nothing per line).
    cmd = [kubectl, "--kubeconfig", kubeconfig, "logs", "-f", "-n", "falco",
           "-l", "app.kubernetes.io/name=falco", "--max-log-requests", str(nodes), "--tail=0",
           "-v=6"]  # fmt: skip
    kubectl_proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL)
    jq_proc = subprocess.Popen([jq, "-c", "."], stdin=kubectl_proc.stdout, stdout=subprocess.PIPE, stderr=err)
    assert kubectl_proc.stdout is not None
    kubectl_proc.stdout.close()  # jq holds the pipe now
    # jq writes to a pipe through a 4 KiB stdio buffer: at most 4 of these ~1.3 KB alerts wait there
    return Counted([kubectl_proc, jq_proc], jq_proc.stdout, slack=4)


def storm(sim: SimProcess, seconds: float) -> int:
    """Storm for `seconds`, then quiet; the alerts the Falcos emitted meanwhile."""
    e0 = sim.emitted()
    sim.scenario("storm")
    time.sleep(seconds)
    sim.scenario("quiet")
    return sim.emitted() - e0


def caught_up(consumers: dict[str, Counted], marks: dict[str, int], want: int, timeout: float) -> bool:
    """Until every consumer printed `want` lines since `marks`, or none printed anything for 5 s (jq keeps
    its last block buffered until its input ends: `slack`; the stop counts those)."""
    deadline, last, still = time.monotonic() + timeout, None, time.monotonic()
    while time.monotonic() < deadline:
        now = tuple(c.lines for c in consumers.values())
        if all(c.lines - marks[k] >= want - c.slack for k, c in consumers.items()):
            return True
        if now != last:
            last, still = now, time.monotonic()
        elif time.monotonic() - still > 5:
            return False
        time.sleep(0.2)
    return False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, default=5)
    ap.add_argument("--rate", type=float, default=5000, help="alerts per second over all nodes")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--app-tree", type=Path, default=REPO, help="the falcotui checkout to run")
    args = ap.parse_args()
    try:
        kubectl = find_kubectl().path
    except KubectlNotFound as exc:
        raise SystemExit(f"bench_cpu_per_alert: {exc}") from None
    jq = shutil.which("jq")
    if jq is None:
        raise SystemExit("bench_cpu_per_alert: jq is not on PATH (Debian: apt-get install jq)")
    logs = Path(os.environ.get("TMPDIR", "/tmp"))
    err_ui, err_kubectl = logs / "bench-cpu-falcotui.err", logs / "bench-cpu-kubectl.err"
    with SimProcess(args.nodes, "quiet", args.rate / args.nodes, per_minute=0) as sim:
        sides = {
            "falcotui": start_falcotui(sim.kubeconfig, args.app_tree.resolve(), err_ui),
            "kubectl|jq": start_kubectl_jq(kubectl, jq, sim.kubeconfig, args.nodes, err_kubectl),
        }
        try:
            opened = lambda: err_kubectl.read_text(errors="replace").count("tailLines=0 200 OK")  # noqa: E731
            if not wait_until(lambda: opened() >= args.nodes, 120):
                raise SystemExit(f"kubectl opened {opened()} of {args.nodes} log streams; see {err_kubectl}")
            # warm-up (both sides' caches and connections): one short storm each side delivers in full
            marks = {k: c.lines for k, c in sides.items()}
            warmup = storm(sim, 2.0)
            if not caught_up(sides, marks, warmup, 60):
                raise SystemExit(f"a consumer did not deliver the warm-up; see {err_ui} and {err_kubectl}")
            time.sleep(1.0)
            marks = {k: c.lines for k, c in sides.items()}
            cpu0 = {k: c.cpu() for k, c in sides.items()}
            sim0, t0 = sim.cpu(), time.monotonic()
            sent = storm(sim, args.seconds)
            caught_up(sides, marks, sent, 300)
            time.sleep(1.0)  # anything beyond `sent` (a duplicate) would show now
            wall = time.monotonic() - t0
            cpu = {k: c.cpu() - cpu0[k] for k, c in sides.items()}
            sim_cpu = sim.cpu() - sim0
        finally:
            for c in sides.values():
                c.stop()  # kubectl first: jq then prints what it still buffers and exits
        for c in sides.values():
            c.drained.wait(30)
    # every alert of every storm, warm-up included: a consumer's output is complete when it holds them all
    # (a pipeline's last block of the warm-up can come out during the measured storm)
    got = {k: c.lines - warmup for k, c in sides.items()}
    print(
        f"CPU per alert, {args.nodes} nodes, {args.rate:,.0f} alerts/s asked for {args.seconds:g} s:"
        f" the Falcos emitted {sent:,} ({sent / args.seconds:,.0f}/s); window {wall:.1f} s"
    )
    per10k = {}
    for k in sides:
        per10k[k] = cpu[k] / max(sent, 1) * 1e4
        lost = "every alert" if got[k] == sent else f"{sent - got[k]:,} missing" if got[k] < sent else (
            f"{got[k] - sent:,} extra")  # fmt: skip
        print(
            f"  {k:<11} delivered {got[k]:>9,} ({lost})  CPU {cpu[k]:6.2f} s  {per10k[k]:.3f} CPU-s per 10k"
        )
    per_sim = sim_cpu / max(sent, 1) * 1e4
    print(f"  simulator   CPU {sim_cpu:6.2f} s ({per_sim:.3f} CPU-s per 10k emitted, serving both)")
    ratio = per10k["falcotui"] / per10k["kubectl|jq"]
    verdict = "meets" if ratio <= 1 / 3 else "misses"
    print(f"falcotui / kubectl|jq CPU per alert: {ratio:.2f}x ({verdict} the goal of <= 0.33x)")


if __name__ == "__main__":
    main()
