"""How fast the engine paints a large fleet and what it holds once every node's log is followed.

Not a test. A simulated cluster of N quiet nodes (Falco deployed, every pod running) runs in its own
process, so its CPU, memory and threads are not counted; a fresh process then starts the engine as the TUI
builds it (`Engine(clients, "falco")`: log and gRPC channels, a 1,000-line tail per pod) and records, from
before the kubeconfig is loaded: when `start()` returns (the TUI paints once it has), when the fleet has
its first row and all N rows, when every node's log stream is live and has delivered a line; the engine
loop's worst lateness on a 50 ms tick (what a UI on that loop would feel), also counted only after
`start()` returned; and the RSS and thread count once every stream is live. The same journey at BASELINE
nodes in the same run gives the ratios.

Usage: python bench/bench_fleet_start.py [N ...] [--baseline B]   (defaults 1000 and 10)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

TICK_S = 0.05
SETTLE_S = 3.0  # after the last stream is live, before memory is read (tails still being ingested)


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _running(pod: dict) -> bool:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return bool(statuses) and "running" in (statuses[0].get("state") or {})


def serve(nodes: int) -> None:
    """The simulated cluster's process: deploy Falco, wait until every pod runs, print the kubeconfig."""
    from falcotui.cli.demo import FAST_TIMINGS, DemoCluster
    from falcotui.kube.resources import PODS

    # the kubelet's real CrashLoopBackOff (10 s doubling to 300 s): see bench_api_rate.py
    timings = {**FAST_TIMINGS, "crash_backoff_base": 10.0, "crash_backoff_max": 300.0}
    demo = DemoCluster(
        nodes=nodes, scenario="quiet", seed=3, per_minute=6, timings=timings, tainted_node=False
    )
    demo.start()
    from falcotui.kube.client import Timeouts, load_clients
    from falcotui.kube.errors import KubeError

    clients = load_clients(str(demo.kubeconfig), None, timeouts=Timeouts(5, 120))
    while True:
        try:
            pods = clients.request("GET", PODS.collection_path("falco")).get("items") or []
        except KubeError:  # a simulator of thousands of nodes can be too busy right after the deploy
            pods = []
        if sum(1 for p in pods if _running(p)) >= nodes:
            break
        time.sleep(1.0)
    clients.close()
    print(json.dumps({"kubeconfig": str(demo.kubeconfig)}), flush=True)
    sys.stdin.readline()  # until the parent is done
    demo.stop()


async def measure(kubeconfig: str, nodes: int) -> dict[str, float]:
    t0 = time.monotonic()
    from falcotui.kube.client import load_clients
    from falcotui.ops.engine import Engine

    clients = load_clients(kubeconfig, environ={})
    engine = Engine(clients, "falco")
    marks: dict[str, float] = {}
    worst_late = 0.0
    late_after = [0.0]  # after start() returned: what a UI that waits for start() would feel
    peak_threads = threading.active_count()

    def delivering() -> int:
        """Followers that have handed over a line (every quiet pod has its start-up lines to tail)."""
        followed = engine.logs.followed.values() if engine.logs is not None else ()
        return sum(1 for f in followed if f.follower.lines)

    async def ticks() -> None:
        nonlocal worst_late, peak_threads
        due = time.monotonic() + TICK_S
        while True:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            now = time.monotonic()
            worst_late = max(worst_late, now - due)
            if "start() returned" in marks:
                late_after[0] = max(late_after[0], now - due)
            due = now + TICK_S
            peak_threads = max(peak_threads, threading.active_count())
            rows = len(engine.fleet.nodes)  # (rows() itself costs ~0.2 s at 1,000 nodes: not every tick)
            if rows and "first row" not in marks:
                marks["first row"] = now - t0
            if rows >= nodes and "all rows" not in marks:
                marks["all rows"] = now - t0
            if engine.logs is not None and engine.logs.live >= nodes and "all streams live" not in marks:
                marks["all streams live"] = now - t0
            if "every stream delivering" not in marks and delivering() >= nodes:
                marks["every stream delivering"] = now - t0

    ticker = asyncio.create_task(ticks())
    await engine.start(sync_timeout=300)
    marks["start() returned"] = time.monotonic() - t0
    while not {"every stream delivering", "all rows"} <= marks.keys():
        await asyncio.sleep(TICK_S)
        if time.monotonic() - t0 > 600:
            break
    await asyncio.sleep(SETTLE_S)
    out = {k: round(v, 2) for k, v in marks.items()}
    out["loop worst late ms"] = round(worst_late * 1000)
    out["  after start() ms"] = round(late_after[0] * 1000)
    out["RSS MiB"] = _status("VmRSS") // 1024
    out["peak RSS MiB"] = _status("VmHWM") // 1024
    out["threads (OS)"] = _status("Threads")
    out["peak Python threads"] = peak_threads
    ticker.cancel()
    await engine.stop()
    clients.close()
    return out


def journey(nodes: int) -> dict[str, float]:
    host = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(nodes)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert host.stdout is not None and host.stdin is not None
        line = host.stdout.readline()
        if not line:
            raise SystemExit(f"the simulated cluster of {nodes} nodes did not start")
        kubeconfig = json.loads(line)["kubeconfig"]
        child = subprocess.run(
            [sys.executable, __file__, "--measure", kubeconfig, str(nodes)],
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(child.stdout.strip().splitlines()[-1])
    finally:
        if host.stdin is not None:
            host.stdin.close()
        host.wait(60)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("nodes", nargs="*", type=int, default=[1000])
    p.add_argument("--baseline", type=int, default=10)
    p.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    p.add_argument("--measure", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve:
        serve(args.serve)
        return
    if args.measure:
        print(json.dumps(asyncio.run(measure(args.measure[0], int(args.measure[1])))))
        return
    base = journey(args.baseline)
    results = {n: journey(n) for n in args.nodes}
    header = f"{'':24} {args.baseline:>8}" + "".join(f" {n:>8}   ratio" for n in args.nodes)
    print(header)
    for key, b in base.items():
        cells = ""
        for n in args.nodes:
            v = results[n].get(key)
            ratio = f"{v / b:.1f}x" if isinstance(v, int | float) and b else ""
            cells += f" {v if v is not None else '-':>8} {ratio:>7}"
        print(f"{key:24} {b:>8}{cells}")
    for n in args.nodes:
        for key in results[n]:
            if key not in base:
                print(f"{key:24} {'-':>8} ({n} nodes) {results[n][key]}")


if __name__ == "__main__":
    main()
