"""`falcotui sim`: run a simulated cluster in the foreground and say how to point kubectl/falcotui at it."""

from __future__ import annotations

import argparse
import gc
import signal
import sys
import time
from pathlib import Path

from falcotui.kube.kubectl_binary import KubectlNotFound, find_kubectl


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sim",
        help="run a simulated Kubernetes cluster on loopback",
        description="Run a simulated Kubernetes cluster (API server, DaemonSet controller, kubelets) on "
        "127.0.0.1 until Ctrl-C.",
    )
    p.add_argument("--nodes", type=int, default=3, help="number of nodes (default 3)")
    p.add_argument("--tls", action="store_true", help="serve HTTPS with a generated CA and a bearer token")
    p.add_argument(
        "--kubeconfig", metavar="PATH", default=argparse.SUPPRESS, help="where to write the kubeconfig"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (names, addresses, scenarios)")
    p.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    p.add_argument("--scenario", default="quiet", choices=("quiet", "incident", "storm", "flaky"),
                   help="what the simulated Falco pods report (default quiet)")  # fmt: skip
    p.add_argument(
        "--rate", type=float, default=100.0, help="alerts per second per node for --scenario storm"
    )
    faults = p.add_argument_group("platform faults (what a real cluster may do to Falco's DaemonSet)")
    faults.add_argument("--server-version", metavar="V", help="what /version reports (e.g. v1.29.10)")
    faults.add_argument(
        "--gpu-nodes", type=int, default=0, metavar="N", help="add N nodes tainted nvidia.com/gpu"
    )
    faults.add_argument("--windows-nodes", type=int, default=0, metavar="N", help="add N Windows nodes")
    faults.add_argument(
        "--ubuntu-nodes",
        type=int,
        default=0,
        metavar="N",
        help="add N nodes with Ubuntu's kernel.perf_event_paranoid=4 (least-privilege Falco crash-loops)",
    )
    faults.add_argument(
        "--socketless-nodes",
        type=int,
        default=0,
        metavar="N",
        help="add N nodes whose container runtime socket the DaemonSet does not mount (<NA> metadata)",
    )
    faults.add_argument(
        "--refuse-pods",
        choices=REFUSALS,
        help="admission refuses Falco's pods: a validating webhook, OpenShift SCC, or GKE's limit on "
        "critical priority classes (falcotui's own ResourceQuota lets those through)",
    )
    faults.add_argument(
        "--rate-limited-nodes",
        type=int,
        default=0,
        metavar="N",
        help="the registry answers 429 toomanyrequests to the last N generated nodes",
    )
    p.set_defaults(handler=run, accepts_globals=("kubeconfig",))


REFUSALS = ("webhook", "scc", "quota")


def platform_faults(args: argparse.Namespace) -> dict:
    """SimConfig settings for the --server-version ... --rate-limited-nodes options."""
    from falcotui.sim.config import GPU_TAINT, AdmissionRule, NodeSpec, SimConfig
    from falcotui.sim.nodes.node_objects import generated_node_specs

    extra = [NodeSpec(f"gpu-{i + 1}", taints=[dict(GPU_TAINT)]) for i in range(args.gpu_nodes)]
    extra += [NodeSpec(f"win-{i + 1}", os="windows") for i in range(args.windows_nodes)]
    extra += [NodeSpec(f"ubuntu-{i + 1}", perf_event_paranoid=4) for i in range(args.ubuntu_nodes)]
    extra += [
        NodeSpec(f"socketless-{i + 1}", runtime_sockets=("/var/run/cri-dockerd.sock",))
        for i in range(args.socketless_nodes)
    ]
    rules = {
        "webhook": AdmissionRule(
            "webhook",
            "hostPath volumes and added capabilities are not allowed in this cluster",
            webhook="validate.policy.example.com",
        ),
        "scc": AdmissionRule(
            "scc",
            'provider "restricted-v2": Forbidden: not usable by user or serviceaccount, spec.volumes[2]: '
            'Invalid value: "hostPath": hostPath volumes are not allowed to be used',
        ),
        "quota": AdmissionRule("quota", ""),
    }
    base = SimConfig(nodes=args.nodes)
    workers = [spec.name for spec in generated_node_specs(base) if not spec.control_plane]
    return {
        "server_version": args.server_version,
        "extra_nodes": extra,
        "admission": [rules[args.refuse_pods]] if args.refuse_pods else [],
        "registry_rate_limited_nodes": set(workers[len(workers) - args.rate_limited_nodes :])
        if args.rate_limited_nodes > 0
        else set(),
    }


def _cluster(config):
    """A SimCluster whose Falco pods run the simulated Falco (logs, exec, port-forward, scenarios)."""
    from falcotui.sim.cluster import SimCluster
    from falcotui.sim.falco.wiring import install, runtime_from_config

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
    if (
        min(
            args.gpu_nodes,
            args.windows_nodes,
            args.rate_limited_nodes,
            args.ubuntu_nodes,
            args.socketless_nodes,
        )
        < 0
    ):
        print("falcotui sim: node counts must not be negative", file=sys.stderr)
        return 2
    config = SimConfig(nodes=args.nodes, tls=args.tls, seed=args.seed, port=args.port, scenario=args.scenario,
                       storm_rate=args.rate, image_pull_delay=2.0, container_start_delay=1.0, ready_delay=3.0,
                       # Kubernetes' documented 60-120 s (kubelet sync period + cache delay), see Kubelet
                       configmap_propagation_delay=60.0, configmap_propagation_jitter=60.0,
                       **platform_faults(args))  # fmt: skip
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
        try:
            kubectl = find_kubectl().path
        except KubectlNotFound:
            kubectl = "kubectl"  # the hint still names the command a reader would install
        print(f"Simulated cluster with {args.nodes} node(s) listening on {cluster.url}")
        print(f"kubeconfig written to {path} (context falcotui-sim, namespace falco)")
        print()
        print("Point kubectl at it:")
        print(f"  KUBECONFIG={path} {kubectl} get nodes")
        print(f"  KUBECONFIG={path} {kubectl} apply --server-side -f manifests/")
        print("Point falcotui at it:")
        print(f"  KUBECONFIG={path} falcotui")
        print()
        signal.signal(signal.SIGTERM, _interrupt)  # before saying how to stop: a script may act on it
        try:
            print("Press Ctrl-C to stop.", flush=True)
            while True:
                # Short sleeps: the OS may hand the signal to the cluster's thread, and Python runs the
                # handler (raising KeyboardInterrupt here) only once the main thread wakes up.
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        print("\nstopping the simulated cluster", flush=True)
        return 0
    finally:
        cluster.stop()
        _skip_final_collections()


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM stops the cluster the way Ctrl-C does."""
    raise KeyboardInterrupt


def _skip_final_collections() -> None:
    """Spare the interpreter's exit its full garbage collections over every object (gc.freeze).

    The cluster stops in a fraction of a second, but the interpreter's exit then walks the objects of every
    module `falcotui` imported (the Kubernetes client's models among them): ~0.3 s of CPU, stretched to
    10-20 s on a loaded machine. Frozen objects are skipped; nothing of ours needs a finalizer by then.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    gc.freeze()
