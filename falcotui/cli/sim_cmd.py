"""`falcotui sim`: run a simulated cluster in the foreground and say how to point kubectl/falcotui at it."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sim",
        help="run a simulated Kubernetes cluster on loopback",
        description="Run a simulated Kubernetes cluster (API server, DaemonSet controller, kubelets) on "
        "127.0.0.1 until Ctrl-C.",
    )
    p.add_argument("--nodes", type=int, default=3, help="number of nodes (default 3)")
    p.add_argument("--tls", action="store_true", help="serve HTTPS with a generated CA and a bearer token")
    p.add_argument("--kubeconfig", metavar="PATH", help="where to write the kubeconfig")
    p.add_argument("--seed", type=int, default=0, help="random seed (names, addresses, scenarios)")
    p.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    p.add_argument("--scenario", default="quiet", choices=("quiet", "incident", "storm", "flaky"),
                   help="what the simulated Falco pods report (default quiet)")  # fmt: skip
    p.add_argument(
        "--rate", type=float, default=100.0, help="alerts per second per node for --scenario storm"
    )
    p.set_defaults(handler=run)


def _cluster(config):
    """A SimCluster whose Falco pods run the simulated Falco (logs, exec, port-forward, scenarios)."""
    from falcotui.sim.cluster import SimCluster
    from falcotui.sim.falco_wiring import install, runtime_from_config

    runtime = runtime_from_config(config)
    return SimCluster(
        config,
        runtime_for_image=runtime.runtime_for_image,
        on_start=[lambda c: install(c.server, c.store, c.controllers, runtime)],
    )


def run(args: argparse.Namespace) -> int:
    from falcotui.sim.config import SimConfig

    if args.nodes < 1:
        print("falcotui sim: --nodes must be at least 1", file=sys.stderr)
        return 2
    if args.rate <= 0:
        print("falcotui sim: --rate must be positive", file=sys.stderr)
        return 2
    if not 0 <= args.port <= 65535:
        print("falcotui sim: --port must be between 0 and 65535", file=sys.stderr)
        return 2
    config = SimConfig(nodes=args.nodes, tls=args.tls, seed=args.seed, port=args.port, scenario=args.scenario,
                       storm_rate=args.rate, configmap_propagation_delay=60.0, image_pull_delay=2.0,
                       container_start_delay=1.0, ready_delay=3.0)  # fmt: skip
    try:
        cluster = _cluster(config).start()
    except (OSError, ValueError) as exc:
        print(f"falcotui sim: cannot start the simulated cluster: {exc}", file=sys.stderr)
        return 1
    try:
        path = Path(args.kubeconfig) if args.kubeconfig else Path.cwd() / "falcotui-sim.kubeconfig"
        try:
            cluster.write_kubeconfig(path)
        except OSError as exc:
            print(f"falcotui sim: cannot write the kubeconfig to {path}: {exc}", file=sys.stderr)
            return 1
        kubectl = "/usr/lib/google-cloud-sdk/bin/kubectl.1.32"
        if not os.path.exists(kubectl):
            kubectl = "kubectl"
        print(f"Simulated cluster with {args.nodes} node(s) listening on {cluster.url}")
        print(f"kubeconfig written to {path} (context falcotui-sim, namespace falco)")
        print()
        print("Point kubectl at it:")
        print(f"  KUBECONFIG={path} {kubectl} get nodes")
        print(f"  KUBECONFIG={path} {kubectl} apply --server-side -f manifests/")
        print("Point falcotui at it:")
        print(f"  KUBECONFIG={path} falcotui")
        print()
        print("Press Ctrl-C to stop.", flush=True)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        print("\nstopping the simulated cluster")
        return 0
    finally:
        cluster.stop()
