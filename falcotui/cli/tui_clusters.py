"""`falcotui` over several clusters at once: the ClusterSet the TUI runs on (`--context a --context b`, or
`:ctx`), and `--demo --clusters N` (N simulated clusters in one kubeconfig, as an operator's own)."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from falcotui.cli.common import EXIT_FAILURE, error

#: the demo's cluster names with --clusters N
DEMO_CLUSTERS = ("eu-west", "us-east", "ap-south", "staging")


def build_clusters(
    names: Sequence[str],
    clients: dict,
    connects: dict,
    *,
    namespace: str,
    read_only: bool,
    demo: bool = False,
    export_dir: Path | None = None,
    max_alerts: int = 100_000,
    spawned=None,
):
    """A ClusterSet over the named clusters: one engine worker following them all (a child process, or a
    thread with FALCOTUI_ENGINE=thread), each with its own clients (`clients[name]`, the UI's; the worker
    builds its own from `connects[name]`), Deployer and RulesService."""
    from falcotui.ops.deploy.deployer import Deployer
    from falcotui.ops.engine_fleets import ClusterSpec, FleetsSpec
    from falcotui.ops.engine_fleets_client import fleets_client
    from falcotui.ops.engine_worker import EngineSpec
    from falcotui.ops.rules.service import RulesService
    from falcotui.ui.fleet.fleets import ClusterSet
    from falcotui.ui.services import Services

    ro = True if read_only else None
    spec = FleetsSpec(
        tuple(
            ClusterSpec(n, EngineSpec(connects[n], namespace, read_only=ro, alert_capacity=max_alerts))
            for n in names
        ),
        alert_capacity=max_alerts,
    )
    thread = True if os.environ.get("FALCOTUI_ENGINE") == "thread" else None  # None: as the plugins need
    fleets = fleets_client(spec, clients, thread=thread, spawned=spawned)
    services = {
        n: Services(
            engine=fleets.clients[n],
            deployer=Deployer(clients[n], namespace),
            rules=RulesService(clients[n], namespace, reloads=fleets.clients[n]),
            context_name=n,
            namespace=namespace,
            read_only=read_only,
            demo=demo,
            export_dir=export_dir,
        )
        for n in names
    }
    return ClusterSet(fleets, services, names[0])


def run_demo_many(
    args: argparse.Namespace, early: list, *, session: Callable[..., int], build_services: Callable, scenarios
) -> int:
    """`--demo --clusters N`: N simulated clusters (seeds SEED, SEED+1, …), one kubeconfig with a context
    each, followed side by side as `falcotui --context a --context b` follows real ones."""
    import tempfile

    from falcotui.cli.demo import DemoCluster

    names = DEMO_CLUSTERS[: args.clusters]
    print(
        f"falcotui: starting {len(names)} simulated clusters ({args.nodes} nodes each, {args.scenario})…",
        file=sys.stderr,
        flush=True,
    )
    demos = {
        name: DemoCluster(
            nodes=args.nodes, scenario=args.scenario, seed=args.seed + i, problem_nodes=i == 0, workloads=True
        )
        for i, name in enumerate(names)
    }
    # the merged kubeconfig (the clusters' tokens) and the demo's action log go in a folder of their own: it
    # and every demo cluster's folder (DemoCluster.stop) are removed on every way out, Ctrl-C while the
    # clusters start included
    workdir: Path | None = None
    try:
        try:
            for demo in demos.values():
                demo.start()
        except Exception as exc:  # the simulator is ours, but a busy port or a full disk is not
            error(f"cannot start the demo clusters: {exc}")
            return EXIT_FAILURE
        workdir = Path(tempfile.mkdtemp(prefix="falcotui-demo-clusters-"))
        return _run_many(args, early, demos, workdir, session=session, build_services=build_services,
                         scenarios=scenarios)  # fmt: skip
    finally:
        for demo in demos.values():
            demo.stop()
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)


def _run_many(
    args: argparse.Namespace, early: list, demos: dict, workdir: Path, *, session: Callable[..., int],
    build_services: Callable, scenarios,
) -> int:  # fmt: skip
    """The session over the started `demos`, their merged kubeconfig written in `workdir`."""
    from falcotui.cli.demo import merged_kubeconfig
    from falcotui.kube.client import Timeouts, load_clients
    from falcotui.ops.alerts.action_log import ENV_PATH
    from falcotui.ops.engine_worker import ConnectOptions

    names = tuple(demos)
    kubeconfig = str(merged_kubeconfig({n: d.kubeconfig for n, d in demos.items()}, workdir / "kubeconfig"))
    os.environ.setdefault(ENV_PATH, str(workdir / "actions.jsonl"))
    timeouts = Timeouts(connect=2.0, read=15.0)

    def connect_many(chosen: Sequence[str], namespace: str):
        return build_clusters(
            chosen,
            {n: load_clients(kubeconfig, n, timeouts=timeouts) for n in chosen},
            {n: ConnectOptions(kubeconfig, n, timeouts) for n in chosen},
            namespace=namespace,
            read_only=args.read_only,
            demo=True,
            export_dir=args.export_dir,
            max_alerts=args.max_alerts,
            spawned=early.pop() if early else None,
        )

    def connect(context: str | None, namespace: str):
        return build_services(
            load_clients(kubeconfig, context, timeouts=timeouts),
            namespace=namespace,
            read_only=args.read_only,
            context_name=context or names[0],
            demo=True,
            export_dir=args.export_dir,
            max_alerts=args.max_alerts,
            connect=ConnectOptions(kubeconfig, context, timeouts),
            spawned=early.pop() if early else None,
        )

    def on_scenario(name: str) -> None:
        for demo in demos.values():
            demo.set_scenario(name)

    return session(
        connect,
        names[0],
        args.falco_namespace,
        contexts=names,
        scenarios=scenarios,
        on_scenario=on_scenario,
        keymap_file=args.keymap,
        connect_many=connect_many,
        many=names,
    )
