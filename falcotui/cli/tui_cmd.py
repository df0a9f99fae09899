"""`falcotui` with no sub-command: the terminal UI on a real cluster, or `--demo` on a simulated one.

    falcotui [--kubeconfig K] [--context C] [--namespace falco] [--read-only]
    falcotui --context A --context B …    (many clusters side by side: ui/fleets.py)
    falcotui --demo [--nodes N] [--scenario S] [--seed N] [--clusters N]

Both build the same `Services` (engine, deployer, rules service) and run the same `FalcoTuiApp`; the demo
only starts a simulated cluster first (see `falcotui.cli.demo`). The engine runs in a child process (its
own clients, built from the same kubeconfig, context and limits), or on a thread of the UI process when the
exec credential plugin may need the terminal, or when FALCOTUI_ENGINE=thread. `falcotui.cli.main()` calls
`add_arguments(parser)` on its top-level parser and `run(args)` when no sub-command was given.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("GRPC_VERBOSITY", "NONE")  # before anything imports grpc: its C core writes to the tty

from falcotui.cli.common import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    add_cluster_options,
    apply_global_options,
    error,
    rate_limits,
    said,
)
from falcotui.cli.nats_options import add_nats_options, nats_source
from falcotui.cli.tui_clusters import DEMO_CLUSTERS

SCENARIO_NAMES = ("quiet", "incident", "storm", "flaky")


#: the terminal UI's own options and their defaults (None at parse time: typed or not is then visible)
TUI_DEFAULTS: dict[str, object] = {
    "demo": False,
    "nodes": 8,
    "scenario": "incident",
    "seed": 7,
    "export_dir": None,
    "max_alerts": 100_000,
    "keymap": None,
    "alerts_from": None,
    "clusters": 1,
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The TUI's options on the top-level `falcotui` parser, with the cluster options every command shares."""
    add_cluster_options(parser, top_level=True)
    add_tui_options(parser, "terminal UI (when no command is given)")


def add_tui_options(parser: argparse.ArgumentParser, title: str) -> None:
    """The terminal UI's own options (dest `tui_<name>`, default None), in a group called `title`; also
    on `falcotui serve`, which runs the same UI per browser tab."""
    g = parser.add_argument_group(title)
    g.add_argument(
        "--demo",
        dest="tui_demo",
        action="store_true",
        default=None,
        help="run against a simulated cluster on loopback",
    )
    g.add_argument(
        "--nodes", dest="tui_nodes", type=int, metavar="N", help="demo: number of nodes (default 8)"
    )
    g.add_argument(
        "--scenario",
        dest="tui_scenario",
        choices=SCENARIO_NAMES,
        help="demo: what the simulated Falcos see (default incident)",
    )
    g.add_argument(
        "--export-dir",
        dest="tui_export_dir",
        type=Path,
        metavar="DIR",
        help="where `e` on Alerts writes JSONL (default: falcotui/exports in your data directory)",
    )
    g.add_argument(
        "--max-alerts",
        dest="tui_max_alerts",
        type=int,
        metavar="N",
        help="alerts kept in memory, oldest dropped first (default 100000; the Alerts title counts drops)",
    )
    g.add_argument(
        "--keymap",
        dest="tui_keymap",
        type=Path,
        metavar="FILE",
        help="remap keys: YAML lines `binding-id: key` (ids are in `?` help; default "
        "$XDG_CONFIG_HOME/falcotui/keymap.yaml, else ~/.config/falcotui/keymap.yaml)",
    )
    g.add_argument("--seed", dest="tui_seed", type=int, metavar="N", help="demo: random seed (default 7)")
    g.add_argument(
        "--clusters",
        dest="tui_clusters",
        type=int,
        metavar="N",
        help=f"demo: N simulated clusters side by side (1-{len(DEMO_CLUSTERS)}, default 1)",
    )
    g.add_argument(
        "--alerts-from",
        dest="tui_alerts_from",
        metavar="URL",
        help="nats://HOST:PORT[,…]: also read Falcosidekick's NATS JetStream stream (de-duplicated against "
        "the pods' logs and gRPC)",
    )
    add_nats_options(parser.add_argument_group("NATS source (with --alerts-from nats://…)"), prefix="tui_")


def refuse_tui_options(args: argparse.Namespace, command: str) -> None:
    """CliError when a terminal-UI option was typed before a command (it would be ignored there)."""
    typed = [f"--{name}" for name in TUI_DEFAULTS if getattr(args, f"tui_{name}", None) is not None]
    if typed and command != "serve":  # `falcotui serve` runs the UI: they apply there, before or after it
        raise CliError(
            f"{', '.join(typed)} only applies to the terminal UI, not to `falcotui {command}`"
            + (" (put it after the command)" if command == "sim" else ""),
            EXIT_USAGE,
        )


def tui_options(args: argparse.Namespace) -> argparse.Namespace:
    """`args` with the terminal UI's options filled in from their defaults."""
    for name, value in TUI_DEFAULTS.items():
        typed = getattr(args, f"tui_{name}", None)
        setattr(args, name, value if typed is None else typed)
    return args


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="falcotui", description="Run Falco across a Kubernetes cluster.")
    add_arguments(parser)
    return parser


def build_services(
    clients,
    *,
    namespace: str,
    read_only: bool,
    context_name: str,
    demo: bool = False,
    export_dir: Path | None = None,
    max_alerts: int = 100_000,
    connect=None,
    engine_thread: bool | None = None,
    nats=None,
    spawned=None,
):
    """Services over `clients`; the engine runs in a child process built from `connect` (ConnectOptions),
    or on a thread over `clients` when `engine_thread` (or `connect` is None, or the credential plugin may
    prompt, or FALCOTUI_ENGINE=thread); `spawned` is a worker process started early for it. The app starts
    the engine."""
    from falcotui.ops.deploy.deployer import Deployer
    from falcotui.ops.engine_client import EngineClient
    from falcotui.ops.engine_placement import ChildPlacement, place
    from falcotui.ops.engine_worker import EngineSpec
    from falcotui.ops.rules.service import RulesService
    from falcotui.ui.services import Services

    ro = True if read_only else None
    from falcotui.ops.engine import CHANNELS, EngineOptions

    spec = EngineSpec(connect, namespace, read_only=ro, alert_capacity=max_alerts)
    if nats is not None:  # --alerts-from nats://…: Falcosidekick's stream beside the pods' own channels
        spec = dataclasses.replace(spec, channels=(*CHANNELS, "nats"), options=EngineOptions(nats=nats))
    if connect is None or os.environ.get("FALCOTUI_ENGINE") == "thread":
        engine_thread = True
    placement = place(spec, clients, thread=engine_thread, spawned=spawned)
    if isinstance(placement, ChildPlacement):
        placement.spawn()  # (if not spawned already) its imports overlap with the UI's start-up
    engine = EngineClient(placement, clients, namespace, read_only=ro)
    return Services(
        engine=engine,
        deployer=Deployer(clients, namespace),
        rules=RulesService(clients, namespace, reloads=engine),
        context_name=context_name,
        namespace=namespace,
        read_only=read_only,
        demo=demo,
        export_dir=export_dir,
        nats=nats,
    )


def run(args: argparse.Namespace) -> int:
    """Run the TUI for parsed arguments; returns the exit status."""
    args = tui_options(args)
    if args.max_alerts < 1:
        error("--max-alerts must be at least 1")
        return EXIT_USAGE
    early = _early_worker()
    if args.demo:
        return _run_demo(args, early)
    from falcotui.kube.client import Timeouts, list_contexts, load_clients
    from falcotui.kube.errors import KubeConfigError, KubeError
    from falcotui.ops.engine_worker import ConnectOptions

    nats = None
    if args.alerts_from is not None:
        try:
            nats = nats_source(args, args.alerts_from, prefix="tui_")
        except CliError as exc:
            error(exc.message.replace("--from", "--alerts-from"))
            return EXIT_USAGE

    try:
        contexts = [c.name for c in list_contexts(args.kubeconfig)[0]]
    except KubeError:
        contexts = []

    timeouts = Timeouts(connect=min(5.0, args.request_timeout), read=args.request_timeout)

    def connect_many(names: Sequence[str], namespace: str):
        if nats is not None:
            raise CliError("--alerts-from reads one NATS stream: use it with one --context", EXIT_USAGE)
        limits = rate_limits(args)  # each cluster gets its own limiter (its own API server, its own limits)
        clients = {n: load_clients(args.kubeconfig, n, timeouts=timeouts, limits=limits) for n in names}
        connects = {n: ConnectOptions(args.kubeconfig, n, timeouts, limits) for n in names}
        from falcotui.cli.tui_clusters import build_clusters

        return build_clusters(
            names,
            clients,
            connects,
            namespace=namespace,
            read_only=args.read_only,
            export_dir=args.export_dir,
            max_alerts=args.max_alerts,
            spawned=early.pop() if early else None,
        )

    def connect(context: str | None, namespace: str):
        limits = rate_limits(args)
        clients = load_clients(args.kubeconfig, context, timeouts=timeouts, limits=limits)
        name = clients.context or clients.host
        return build_services(
            clients,
            namespace=namespace,
            read_only=args.read_only,
            context_name=name,
            export_dir=args.export_dir,
            max_alerts=args.max_alerts,
            connect=ConnectOptions(args.kubeconfig, context, timeouts, limits),
            nats=nats,
            spawned=early.pop() if early else None,
        )

    try:
        return _session(
            connect,
            args.context,
            args.falco_namespace,
            contexts=contexts,
            keymap_file=args.keymap,
            connect_many=connect_many,
            many=tuple(args.contexts) if len(args.contexts) > 1 else (),
        )
    except KubeConfigError as exc:
        error(f"{exc}\n  (no cluster at hand? `falcotui --demo` runs the same UI against a simulated one)")
        return EXIT_FAILURE
    except (CliError, KubeError) as exc:
        return said(exc)


def _early_worker() -> list:
    """The engine's worker process, started before anything heavy is imported (its own imports then
    overlap with the UI's); [] when the engine is to run on a thread (FALCOTUI_ENGINE=thread)."""
    if os.environ.get("FALCOTUI_ENGINE") == "thread":
        return []
    from falcotui.ops.engine_spawn import spawn_worker

    return [spawn_worker()]


def _run_demo(args: argparse.Namespace, early: list) -> int:
    from falcotui.cli.demo import DemoCluster

    if args.nodes < 1 or args.nodes > 500:
        error("--nodes must be between 1 and 500")
        return EXIT_USAGE
    if not 1 <= args.clusters <= len(DEMO_CLUSTERS):
        error(f"--clusters must be between 1 and {len(DEMO_CLUSTERS)}")
        return EXIT_USAGE
    if args.clusters > 1:
        from falcotui.cli.tui_clusters import run_demo_many

        return run_demo_many(
            args, early, session=_session, build_services=build_services, scenarios=SCENARIO_NAMES
        )
    print(
        f"falcotui: starting a simulated cluster ({args.nodes} nodes, scenario {args.scenario})…",
        file=sys.stderr,
        flush=True,
    )
    demo = DemoCluster(
        nodes=args.nodes, scenario=args.scenario, seed=args.seed, problem_nodes=True, workloads=True
    )
    try:
        demo.start()
    except Exception as exc:  # the simulator is ours, but a busy port or a full disk is not
        demo.stop()
        error(f"cannot start the demo cluster: {exc}")
        return EXIT_FAILURE

    from falcotui.kube.client import Timeouts
    from falcotui.ops.alerts.action_log import ENV_PATH
    from falcotui.ops.engine_worker import ConnectOptions

    # the demo's response actions go to a log of its own, never into the user's real incident record
    os.environ.setdefault(ENV_PATH, str(Path(str(demo.kubeconfig)).parent / "actions.jsonl"))

    def connect(context: str | None, namespace: str):
        return build_services(
            demo.clients(),
            namespace=namespace,
            read_only=args.read_only,
            context_name=f"demo (seed {args.seed})",  # the fleet counts the nodes (workers + control plane)
            demo=True,
            export_dir=args.export_dir,
            max_alerts=args.max_alerts,
            connect=ConnectOptions(str(demo.kubeconfig), None, Timeouts(connect=2.0, read=15.0)),
            spawned=early.pop() if early else None,
        )

    try:
        return _session(
            connect,
            None,
            args.falco_namespace,
            scenarios=SCENARIO_NAMES,
            on_scenario=demo.set_scenario,
            keymap_file=args.keymap,
        )
    finally:
        demo.stop()


def _session(connect, context: str | None, namespace: str, **kwargs) -> int:
    """Run the app; when it ends asking for another context (or several) or namespace, connect there and
    run it again. `many`: start on these contexts side by side (`connect_many(names, namespace)`)."""
    from falcotui.ui.app import FalcoTuiApp
    from falcotui.ui.heap import steady_heap
    from falcotui.ui.keymap import default_keymap_path, load_keymap
    from falcotui.ui.reconnect import Reconnect

    keymap_file: Path | None = kwargs.pop("keymap_file", None)
    connect_many = kwargs.pop("connect_many", None)
    many: tuple[str, ...] = kwargs.pop("many", ())
    # read after the app's import: the binding ids it checks against come from the loaded screen classes
    keymap = load_keymap(keymap_file or default_keymap_path(), explicit=keymap_file is not None)
    while True:
        if many and connect_many is not None:
            clusters = connect_many(many, namespace)
            app = FalcoTuiApp(clusters.services[clusters.current], keymap=keymap, clusters=clusters, **kwargs)
        else:
            app = FalcoTuiApp(connect(context, namespace), keymap=keymap, **kwargs)
        try:
            with steady_heap():  # no full collection walks the start-up heap mid-keystroke (ui/heap.py)
                result = app.run()
        except KeyboardInterrupt:
            return EXIT_INTERRUPTED
        if not isinstance(result, Reconnect):
            return app.return_code or EXIT_OK
        if result.contexts:
            many = result.contexts
        elif result.context:
            context, many = result.context, ()
        elif many:  # another namespace, the same clusters
            pass
        namespace = result.namespace


def main(argv: Sequence[str] | None = None) -> int:
    """Standalone entry (`python -m falcotui.cli.tui_cmd`), the same as `falcotui` without a command."""
    args = build_parser().parse_args(argv)
    try:
        apply_global_options(args, None)
    except CliError as exc:
        return said(exc)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
