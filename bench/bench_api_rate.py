"""API requests per second that falcotui's engine sends at start-up and in steady state, and what a 429
storm does to it.

Not a test. A simulated cluster of N nodes runs the simulated Falco (quiet scenario); the engine (nodes,
pods, DaemonSet and Events informers, one log stream per Falco pod) starts against it, and the simulated
API server's request counter is sampled every second. The same journey at BASELINE_N nodes in the same run
gives the ratios. Then, at N, the server answers every non-long-running request with 429 + Retry-After
for STORM seconds (APF saturated by others) while every stream is cut (an API server restart), and the
bench prints what the client did meanwhile and how soon every node's log stream was live again.

Usage: python bench/bench_api_rate.py [N] [BASELINE_N] [--qps Q --burst B]   (defaults 1000, 10, 50/100)
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from falcotui.cli.demo import FAST_TIMINGS, DemoCluster
from falcotui.kube.throttle import RateLimits
from falcotui.ops.engine import Engine, EngineError, EngineOptions
from falcotui.sim.api.throttle import Throttle

STARTUP_S, STEADY_S, STORM_S = 40, 20, 8


async def journey(nodes: int, limits: RateLimits, storm: bool) -> dict[str, object]:
    # The kubelet's CrashLoopBackOff: 10 s, doubling, capped at 300 s (kubernetes.io/docs/concepts/workloads/
    # pods/pod-lifecycle/#container-restarts); the test timings restart in 0.05-0.5 s, which would make the
    # demo's crash-looping node (perf_event_paranoid=4) dominate the steady-state figures.
    timings = {**FAST_TIMINGS, "crash_backoff_base": 10.0, "crash_backoff_max": 300.0}
    demo = DemoCluster(
        nodes=nodes, scenario="quiet", seed=3, per_minute=6, timings=timings, tainted_node=False
    )
    demo.start()
    assert demo.cluster is not None
    server = demo.cluster.server
    try:
        from falcotui.kube.client import Timeouts, load_clients

        clients = load_clients(str(demo.kubeconfig), None, timeouts=Timeouts(5, 30), limits=limits)
        engine = Engine(clients, "falco", options=EngineOptions(tail_lines=10))
        base = server.request_count
        t0 = time.monotonic()
        for attempt in range(5):  # a 1,000-node simulator can be too busy right after the deploy
            try:
                await engine.start(sync_timeout=120)
                break
            except EngineError:
                if attempt == 4:
                    raise
                engine = Engine(clients, "falco", options=EngineOptions(tail_lines=10))
                await asyncio.sleep(5)
        granted0 = clients.api_client.bucket.granted
        per_s: list[float] = []
        followed_at = None
        last, last_t = base, time.monotonic()
        for _ in range(STARTUP_S + STEADY_S):
            await asyncio.sleep(1.0)  # a busy loop wakes late: the rate divides by the real interval
            now, now_t = server.request_count, time.monotonic()
            per_s.append((now - last) / (now_t - last_t))
            last, last_t = now, now_t
            if followed_at is None and engine.health().log_streams >= nodes:
                followed_at = time.monotonic() - t0
        startup, steady = per_s[:STARTUP_S], per_s[STARTUP_S:]
        out: dict[str, object] = {
            "all streams live after s": round(followed_at, 1) if followed_at else None,
            "start-up peak req/s": round(max(startup), 1),
            "requests the server counted (60 s)": server.request_count - base,
            "tokens the client's bucket granted": clients.api_client.bucket.granted - granted0,
            "start-up mean req/s (first 10 s)": round(statistics.mean(startup[:10]), 1),
            "steady mean req/s": round(statistics.mean(steady), 2),
            "steady peak req/s": round(max(steady), 1),
        }
        if storm:
            throttle = Throttle(seats=1000)
            server.throttle = throttle
            mark = engine.store.total_seen
            throttle.storm(STORM_S)
            demo.cluster.restart_api_server()  # every stream is cut: each follower asks for its pod again
            states: list[str] = []
            t_storm = time.monotonic()
            back_at = None
            while time.monotonic() - t_storm < STORM_S + 60:
                await asyncio.sleep(1.0)
                states.append(engine.health().throttled)
                live = engine.health().log_streams
                if time.monotonic() - t_storm > STORM_S and live >= nodes:
                    back_at = time.monotonic() - t_storm
                    break
            out["storm: 429s answered"] = throttle.rejected
            out["storm: client retries after Retry-After"] = clients.api_client.pushback.retried
            out["storm: seconds the header said throttled"] = sum(1 for s in states if s)
            out["storm: all streams live again after s"] = round(back_at, 1) if back_at else None
            out["storm: alerts received since"] = engine.store.total_seen - mark
        await engine.stop()
        clients.close()
        return out
    finally:
        demo.stop()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("nodes", nargs="?", type=int, default=1000)
    p.add_argument("baseline", nargs="?", type=int, default=10)
    p.add_argument("--qps", type=float, default=None)
    p.add_argument("--burst", type=int, default=None)
    args = p.parse_args()
    limits = RateLimits.from_env(qps=args.qps, burst=args.burst)
    print(f"client limit {limits.qps:g} req/s, burst {limits.burst}")
    small = asyncio.run(journey(args.baseline, limits, storm=False))
    big = asyncio.run(journey(args.nodes, limits, storm=True))
    print(f"{'':36} {args.baseline:>10} {args.nodes:>10}   ratio")
    for key, value in big.items():
        b = small.get(key)
        numbers = isinstance(value, int | float) and isinstance(b, int | float) and b
        ratio = f"{value / b:.1f}x" if numbers else ""
        print(f"{key:36} {b if b is not None else '':>10} {value!s:>10}   {ratio}")


if __name__ == "__main__":
    main()
