"""Key-to-screen latency of the TUI under an alert storm, as a ratio to an idle baseline in the same run.

A simulated cluster (50 nodes by default, in its own process like a real cluster) runs the `quiet`
scenario while the app (in a Pilot, on the Alerts screen first, following) is switched between Fleet and
Alerts with F1/F2 and the time until the new screen is painted is measured; then the same against a
cluster whose every simulated Falco runs `storm` (R alerts/s per node). Printed: median and p90 for both
phases, the ratio, and the alert rate the UI kept up with.

    .venv/bin/python bench/bench_ui_latency.py [--nodes 50] [--rate 20] [--rounds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("GRPC_VERBOSITY", "NONE")

from falcotui.cli.tui_cmd import build_services  # noqa: E402
from falcotui.kube.config import Timeouts, load_clients  # noqa: E402
from falcotui.ui.alerts_screen import AlertsScreen  # noqa: E402
from falcotui.ui.app import FalcoTuiApp  # noqa: E402
from falcotui.ui.fleet_screen import FleetScreen  # noqa: E402


def painted(app: FalcoTuiApp, needle: str) -> bool:
    strips = app.screen._compositor.render_strips()
    return any(needle in "".join(seg.text for seg in strip) for strip in strips)


async def key_latency(app: FalcoTuiApp, pilot, rounds: int) -> list[float]:
    """Seconds from sending F1/F2 until the other screen's title is on the painted screen."""
    out: list[float] = []
    for i in range(rounds * 2):
        key, screen_type, needle = (
            ("f1", FleetScreen, "Fleet ·") if i % 2 == 0 else ("f2", AlertsScreen, "Alerts ·")
        )
        t0 = time.perf_counter()
        await pilot.press(key)
        while not (isinstance(app.screen, screen_type) and painted(app, needle)):
            await asyncio.sleep(0.002)
        out.append(time.perf_counter() - t0)
        await pilot.pause(0.1)
    return out


def summary(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[int(0.9 * (len(ordered) - 1))]


SIM_SCRIPT = """
import sys
from falcotui.cli.demo import FAST_TIMINGS, DemoCluster
demo = DemoCluster(nodes=int(sys.argv[1]), scenario=sys.argv[2], storm_rate=float(sys.argv[3]), seed=11,
                   timings=dict(FAST_TIMINGS), tainted_node=False).start()
print(demo.kubeconfig, flush=True)
sys.stdin.read()
demo.stop()
"""


def start_sim(nodes: int, scenario: str, rate: float) -> tuple[subprocess.Popen, str]:
    """The simulated cluster in its own process (as a real cluster would be), Falco deployed."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", SIM_SCRIPT, str(nodes), scenario, str(rate)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)  # fmt: skip
    kubeconfig = proc.stdout.readline().strip()
    if not kubeconfig:
        proc.kill()
        raise SystemExit("the simulated cluster did not start")
    return proc, kubeconfig


async def measure(nodes: int, scenario: str, rate: float, rounds: int) -> tuple[list[float], float]:
    proc, kubeconfig = await asyncio.to_thread(start_sim, nodes, scenario, rate)
    try:
        clients = load_clients(kubeconfig, None, timeouts=Timeouts(connect=5.0, read=30.0))
        services = build_services(clients, namespace="falco", read_only=False, context_name="bench")
        app = FalcoTuiApp(services)
        async with app.run_test(size=(160, 45)) as pilot:
            fleet = services.engine.fleet
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and sum(1 for r in fleet.rows() if r.channels) < nodes:
                await pilot.pause(0.5)
            await pilot.press("f2")
            await pilot.pause(3.0)
            seen0, t0 = services.engine.store.total_seen, time.monotonic()
            latencies = await key_latency(app, pilot, rounds)
            per_s = (services.engine.store.total_seen - seen0) / (time.monotonic() - t0)
    finally:
        proc.stdin.close()
        await asyncio.to_thread(proc.wait, 30)
    return latencies, per_s


async def run(nodes: int, rate: float, rounds: int) -> None:
    idle, _ = await measure(nodes, "quiet", rate, rounds)
    storm, per_s = await measure(nodes, "storm", rate, rounds)
    (im, ip), (sm, sp) = summary(idle), summary(storm)
    print(
        f"nodes={nodes} storm rate={rate:g}/s per node (offered {nodes * rate:,.0f}/s), "
        "cluster in its own process"
    )
    print(f"alerts taken in by the UI during the storm: {per_s:,.0f}/s")
    print(f"key-to-screen latency idle : median {im * 1000:7.1f} ms   p90 {ip * 1000:7.1f} ms")
    print(f"key-to-screen latency storm: median {sm * 1000:7.1f} ms   p90 {sp * 1000:7.1f} ms")
    print(f"ratio storm/idle: median {sm / im:.2f}x   p90 {sp / ip:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--rate", type=float, default=20.0, help="storm alerts per second per node")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    asyncio.run(run(args.nodes, args.rate, args.rounds))


if __name__ == "__main__":
    main()
