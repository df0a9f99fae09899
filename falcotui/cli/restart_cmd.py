"""`falcotui restart`: restart Falco on every node (a rollout restart of its DaemonSet) and follow it.

`restart [--no-wait] [--timeout S] [--stuck-after S] [--namespace NS]` stamps the DaemonSet's pod template
the way `kubectl rollout restart ds/falco` does, so the DaemonSet controller replaces every Falco pod
(node by node, as its update strategy allows). By default it then follows the rollout like `falcotui apply`
(per-node lines, a progress bar on a terminal). Exit 0 when every pod has been replaced and is ready (or at
once with --no-wait), 1 when the rollout is stuck or the restart is refused (not deployed, RBAC), 2 for a
usage problem.
"""

from __future__ import annotations

import argparse
from typing import TextIO

from falcotui.cli.apply_cmd import (
    add_cluster_args,
    add_rollout_args,
    check_rollout_bounds,
    follow_and_report,
    guarded,
)
from falcotui.cli.common import CliError, connect
from falcotui.ops.deploy.deployer import Deployer
from falcotui.ops.deploy.results import DeployError
from falcotui.ops.deploy.rollout import DAEMONSET, RESTARTED_AT


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "restart",
        help="restart Falco on every node (rollout restart) and follow the rollout",
        description="Restart every Falco pod the way `kubectl rollout restart ds/falco` does, then follow "
        "the DaemonSet rollout per node until it completes. Exit 1 if it gets stuck.",
    )
    add_cluster_args(p, writes=True)
    p.add_argument("--no-wait", action="store_true", help="request the restart and exit without following it")
    add_rollout_args(p)
    p.set_defaults(handler=run_restart)


@guarded("falcotui restart")
def run_restart(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO | None = None) -> int:
    """The `restart` handler (`stdin` is unused: a restart asks nothing, like kubectl's)."""
    check_rollout_bounds(args)
    ref = f"DaemonSet {args.falco_namespace}/{DAEMONSET}"
    clients = connect(args)
    try:
        deployer = Deployer(clients, args.falco_namespace)
        try:
            stamp = deployer.restart()
        except DeployError as exc:
            if getattr(exc.__cause__, "code", None) == 403:
                raise CliError(
                    f"not allowed to restart {ref} (it takes `patch` on daemonsets.apps in "
                    f"{args.falco_namespace}): {exc}"
                ) from None
            raise
        out.write(f"{ref}: restarted ({RESTARTED_AT}={stamp})\n")
        return follow_and_report(deployer, args, out, err)
    finally:
        clients.close()
