"""What the simulated cluster itself costs per alert in a storm: CPU seconds per 10k alerts printed by its
Falcos and served to one log follower per pod, with pre-rendered lines (the default) against every alert
rendered in full (`LINE_POOL = 0`, the baseline, measured in the same run).

Not a test. The follower is this script: one raw HTTP follow request per Falco pod that only counts lines, so
the figure is the simulator's (its process's CPU from /proc), not a client's. The other benches need the
simulator to stay well under a core at their storm rates, or they would measure it.

    .venv/bin/python bench/bench_sim_storm.py [--nodes 50] [--rate 20000] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import threading
import time

import aiohttp
import yaml
from simproc import SimProcess, wait_until


class Followers:
    """One `GET pods/NAME/log?follow=true` per Falco pod, on a thread of their own, counting lines."""

    def __init__(self, kubeconfig: str) -> None:
        cfg = yaml.safe_load(open(kubeconfig))
        self.server = cfg["clusters"][0]["cluster"]["server"]
        token = cfg["users"][0]["user"].get("token")  # the demo cluster runs without auth
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.lines = 0
        self.streams = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._thread.start()

    async def _run(self) -> None:
        async with aiohttp.ClientSession(headers=self.headers, timeout=aiohttp.ClientTimeout()) as s:
            async with s.get(f"{self.server}/api/v1/namespaces/falco/pods") as r:
                pods = [p["metadata"]["name"] for p in (await r.json())["items"]]
            tasks = [asyncio.create_task(self._follow(s, p)) for p in pods]
            while not self._stop.is_set():
                await asyncio.sleep(0.1)
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _follow(self, s: aiohttp.ClientSession, pod: str) -> None:
        url = f"{self.server}/api/v1/namespaces/falco/pods/{pod}/log?follow=true&tailLines=0"
        async with s.get(url) as r:
            self.streams += 1
            async for chunk in r.content.iter_any():
                self.lines += chunk.count(b"\n")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)


def measure(nodes: int, rate: float, seconds: float, pool: int | None) -> dict[str, float]:
    with SimProcess(nodes, "quiet", rate / nodes, per_minute=0, pool=pool) as sim:
        followers = Followers(sim.kubeconfig)
        try:
            if not wait_until(lambda: followers.streams >= nodes, 60):
                raise SystemExit(f"only {followers.streams} of {nodes} log streams opened")
            e0, c0, t0 = sim.emitted(), sim.cpu(), time.monotonic()
            sim.scenario("storm")
            time.sleep(seconds)
            sim.scenario("quiet")
            wall = time.monotonic() - t0
            emitted = sim.emitted() - e0
            wait_until(lambda: followers.lines >= emitted, 60)
            cpu = sim.cpu() - c0
            return {"emitted": emitted, "served": followers.lines, "wall": wall, "cpu": cpu}
        finally:
            followers.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, default=50)
    ap.add_argument("--rate", type=float, default=20_000, help="alerts per second over all nodes")
    ap.add_argument("--seconds", type=float, default=20)
    args = ap.parse_args()
    print(f"simulator in a storm: {args.nodes} nodes, {args.rate:,.0f} alerts/s asked, {args.seconds:g} s")
    rows = {}
    for label, pool in (("every alert rendered (baseline)", 0), ("pre-rendered lines", None)):
        r = rows[label] = measure(args.nodes, args.rate, args.seconds, pool)
        print(
            f"  {label:<32} emitted {r['emitted']:>8,.0f} ({r['emitted'] / r['wall']:>7,.0f}/s)"
            f"  served {r['served']:>8,.0f}   sim CPU {r['cpu']:6.1f} s"
            f" = {r['cpu'] / r['wall']:4.0%} of a core, {r['cpu'] / r['emitted'] * 1e4:5.2f} CPU-s per 10k"
        )
    base, new = rows.values()
    per = (new["cpu"] / new["emitted"]) / (base["cpu"] / base["emitted"])
    print(f"pre-rendered / baseline CPU per alert: {per:.2f}x")


if __name__ == "__main__":
    main()
