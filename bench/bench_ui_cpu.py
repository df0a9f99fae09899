"""The UI's own CPU, on a pty, in the three phases of bench_ui_latency: what a key switch and an idle second
cost the event loop's thread, measured in thread CPU time (bench/ui_cpu_probe.py), which a loaded machine
changes far less than the wall-clock latencies bench_ui_latency prints.

Per phase (NODES quiet, NODES storming at RATE alerts/s, QUIET_NODES quiet): the share of a core the loop
used while the Fleet screen, then the Alerts screen, sat idle for IDLE s; then ROUNDS F1/F2 pairs, each
switch's loop CPU from the key to the other screen's title on the terminal (median and p90), and the
key-to-screen wall time beside it. `--against DIR` runs another checkout right after this one in each
phase and prints this tree's figures as ratios of it.

    .venv/bin/python bench/bench_ui_cpu.py [--nodes 50] [--rate 20000] [--quiet-nodes 1000]
                                           [--rounds 8] [--idle 5] [--against DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench_ui_latency import KEYS, SIM_NICE, Terminal, summary
from simproc import REPO, SimProcess, app_env, app_python

PROBE = Path(__file__).resolve().with_name("ui_cpu_probe.py")


class Figures:
    """One run's figures: idle CPU shares, per-switch loop CPU (s) and wall latencies (s), first row (s)."""

    def __init__(self) -> None:
        self.idle: dict[str, float] = {}
        self.switch_cpu: list[float] = []
        self.latency: list[float] = []
        self.first_row = 0.0


def measure(tree: Path, nodes: int, scenario: str, rate: float, rounds: int, idle: float) -> Figures:
    figures = Figures()
    with (
        tempfile.TemporaryDirectory() as tmp,
        SimProcess(
            nodes, "quiet", rate / nodes, per_minute=0 if scenario == "storm" else None, nice=SIM_NICE
        ) as sim,
    ):
        log = Path(tmp) / "cpu.json"
        kwargs = app_env(tree, TERM="xterm-256color", COLORTERM="truecolor", FALCOTUI_CPU_LOG=str(log))
        spawned = time.monotonic()
        term = Terminal([app_python(tree)[0], str(PROBE), "--kubeconfig", sim.kubeconfig], **kwargs)
        marks: list[tuple[str, float, float]] = []  # (what, from, to)
        try:
            row = term.wait_for(b"sim-node-", 0, 600)
            if term.wait_for(f"logs ●{nodes}".encode(), 0, 600) is None:
                raise SystemExit(f"the app never showed {nodes} live log streams: {term.tail(600)}")
            figures.first_row = (row or time.monotonic()) - spawned
            if scenario == "storm":
                sim.scenario("storm")
            time.sleep(3.0)
            start = time.monotonic()
            time.sleep(idle)
            marks.append(("idle Fleet", start, time.monotonic()))
            since = term.mark()
            term.send(KEYS["f2"])
            term.wait_for("Alerts ·".encode(), since, 60)
            time.sleep(1.0)
            start = time.monotonic()
            time.sleep(idle)
            marks.append(("idle Alerts", start, time.monotonic()))
            for i in range(rounds * 2):
                key, needle = ("f1", "Fleet ·") if i % 2 == 0 else ("f2", "Alerts ·")
                since = term.mark()
                sent = time.monotonic()
                term.send(KEYS[key])
                seen = term.wait_for(needle.encode(), since, 60)
                if seen is None:
                    raise SystemExit(f"{key} did not show {needle!r} within 60 s")
                marks.append(("switch", sent, seen))
                figures.latency.append(seen - sent)
                time.sleep(0.5)
        finally:
            term.close()
        calls = json.loads(log.read_text()) if log.exists() else []
    for what, begin, end in marks:
        cpu = sum(c for at, c in calls if begin <= at < end + 0.002)
        if what == "switch":
            figures.switch_cpu.append(cpu)
        else:
            figures.idle[what] = cpu / (end - begin)
    return figures


def line(label: str, f: Figures) -> str:
    med, p90, _ = summary(f.switch_cpu)
    lat, lat90, _ = summary(f.latency)
    idle = "  ".join(f"{k} {v:5.1%}" for k, v in f.idle.items())
    return (
        f"{label:<28} loop CPU per switch median {med * 1000:5.1f}  p90 {p90 * 1000:5.1f} ms   {idle}   "
        f"(wall: median {lat * 1000:.0f}, p90 {lat90 * 1000:.0f} ms; first row {f.first_row:.1f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--rate", type=float, default=20_000)
    parser.add_argument("--quiet-nodes", type=int, default=1000, help="0 skips the large quiet cluster")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--idle", type=float, default=5.0)
    parser.add_argument("--against", type=Path, help="another checkout of falcotui to compare with")
    args = parser.parse_args()
    trees = [REPO] + ([args.against.resolve()] if args.against else [])
    phases = [("quiet", args.nodes), ("storm", args.nodes)] + (
        [("quiet", args.quiet_nodes)] if args.quiet_nodes else []
    )
    load = os.getloadavg()[0]
    print(f"UI loop CPU, pty 160x45, {args.rounds * 2} switches a run; load average {load:.1f} at the start; "
          f"the simulated cluster niced +{SIM_NICE}")  # fmt: skip
    for scenario, nodes in phases:
        runs = []
        for tree in trees:
            runs.append(measure(tree, nodes, scenario, args.rate, args.rounds, args.idle))
            name = "falcotui" if tree == REPO else "--against"
            print(line(f"{name}, {nodes} nodes {scenario}", runs[-1]), flush=True)
        if len(runs) == 2:
            ours, old = runs
            switch = statistics.median(ours.switch_cpu) / statistics.median(old.switch_cpu)
            ratios = [f"switch CPU median {switch:.2f}x"]
            ratios += [f"{k} {ours.idle[k] / old.idle[k]:.2f}x" for k in ours.idle if old.idle.get(k)]
            print(f"{'':28} this tree / --against: " + ", ".join(ratios), flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
