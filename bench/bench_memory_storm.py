"""Memory over a long storm: the RSS of the real `falcotui` (its UI process and every process it started,
the engine's worker) sampled every INTERVAL seconds while NODES simulated nodes storm at RATE alerts/s.

Not a test. The app runs on a pty (as in bench_ui_latency.py) against the simulated cluster in its own
process; the storm starts once every log stream is live. Printed per process and summed: the first, last and
largest sample and the least-squares slope in MiB per minute, over the whole run and over its second half
(the alert store fills first and is bounded, so a flat run has a second-half slope near 0); the ratio
last/first and the second half's growth per 10 minutes as a share of the first sample are the in-run figures.

    .venv/bin/python bench/bench_memory_storm.py [--seconds 600] [--interval 10] [--nodes 50] [--rate 20000]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench_ui_latency import Terminal
from simproc import REPO, SimProcess, app_env, app_python, descendants, rss_mib, tree_cpu


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MiB), in MiB per minute."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    var = sum((t - mx) ** 2 for t, _ in points)
    return 60 * sum((t - mx) * (v - my) for t, v in points) / var if var else 0.0


def line(label: str, samples: list[tuple[float, float]]) -> str:
    values = [v for _, v in samples]
    half = samples[len(samples) // 2 :]
    first = values[0] or 1.0
    growth = slope(half) * 10 / first
    return (
        f"  {label:<10} first {values[0]:7.1f}  last {values[-1]:7.1f}  max {max(values):7.1f} MiB   "
        f"slope {slope(samples):+6.2f} MiB/min (2nd half {slope(half):+6.2f})   "
        f"last/first {values[-1] / first:4.2f}x   2nd half per 10 min {growth:+.1%}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--interval", type=float, default=10)
    ap.add_argument("--nodes", type=int, default=50)
    ap.add_argument("--rate", type=float, default=20_000, help="alerts per second over all nodes")
    ap.add_argument("--app-tree", type=Path, default=REPO, help="the falcotui checkout to run")
    args = ap.parse_args()
    tree = args.app_tree.resolve()
    with SimProcess(args.nodes, "quiet", args.rate / args.nodes, per_minute=0) as sim:
        extra = {"TERM": "xterm-256color", "COLORTERM": "truecolor"}
        term = Terminal([*app_python(tree), "--kubeconfig", sim.kubeconfig], **app_env(tree, **extra))
        try:
            if term.wait_for(f"logs ●{args.nodes}".encode(), 0, 600) is None:
                raise SystemExit(f"the app never showed {args.nodes} live log streams: {term.tail(600)}")
            pid = term.proc.pid
            ui: list[tuple[float, float]] = []
            workers: list[tuple[float, float]] = []
            total: list[tuple[float, float]] = []
            sim_rss: list[tuple[float, float]] = []
            e0, cpu0 = sim.emitted(), tree_cpu(pid)
            sim.scenario("storm")
            t0 = time.monotonic()
            while True:
                t = time.monotonic() - t0
                own = rss_mib(pid)
                below = sum(rss_mib(p) for p in descendants(pid) if p != pid)
                ui.append((t, own))
                workers.append((t, below))
                total.append((t, own + below))
                sim_rss.append((t, rss_mib(sim.pid)))
                # as it goes: a run that dies late (an overloaded simulator) still leaves its samples
                sampled = f"UI {own:7.1f}  worker(s) {below:7.1f}  simulator {sim_rss[-1][1]:7.1f} MiB"
                print(f"  t {t:6.0f} s  {sampled}", flush=True)
                if t >= args.seconds or term.proc.poll() is not None:
                    break
                time.sleep(max(0.0, args.interval - (time.monotonic() - t0 - t)))
            cpu = tree_cpu(pid) - cpu0
            try:  # a simulator that storms past its means may no longer answer in time
                emitted = sim.emitted() - e0
                sim.scenario("quiet")
            except ValueError:
                emitted = -1
        finally:
            status = term.close()
    wall = total[-1][0]
    print(
        f"RSS over a storm: {args.nodes} nodes, {args.rate:,.0f} alerts/s asked, {wall:.0f} s, "
        f"{len(total)} samples; the Falcos emitted "
        + (f"{emitted:,} ({emitted / max(wall, 1):,.0f}/s); " if emitted >= 0 else "? (no answer); ")
        + f"app CPU {cpu / max(wall, 1):.0%} of a core"
    )
    print(line("UI", ui))
    if any(v for _, v in workers):
        print(line("worker(s)", workers))
    print(line("UI+worker", total))
    print(line("simulator", sim_rss))
    if status != 0:
        print(f"warning: falcotui exited with {status}")


if __name__ == "__main__":
    main()
