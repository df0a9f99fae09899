"""`falcotui certs rotate`: renew the gRPC profile's certificates and roll every Falco pod onto them.

`certs rotate [--yes] [--no-wait] [--timeout S] [--stuck-after S] [--namespace NS]` asks first (on a terminal;
without one `--yes` is required), generates a fresh CA, server and client certificate (lifetime
falcotui.falco.certs.DEFAULT_DAYS), replaces both Secrets, and stamps the new expiry on the DaemonSet's pod
template, so the DaemonSet controller replaces every pod (Falco reads its certificates only at start).
Then it follows the rollout like `falcotui restart`. Exit 0 when done, 1 when refused or stuck, 2 for usage.
"""

from __future__ import annotations

import argparse
from typing import TextIO

from falcotui.cli.apply_cmd import (
    add_cluster_args,
    add_rollout_args,
    check_rollout_bounds,
    confirm,
    follow_and_report,
    guarded,
)
from falcotui.cli.common import EXIT_FAILURE, connect
from falcotui.falco.certs import DEFAULT_DAYS
from falcotui.ops.deploy.deployer import Deployer
from falcotui.ops.deploy.manifests import GRPC_CERTS_EXPIRE, GRPC_CLIENT_SECRET, GRPC_SERVER_SECRET


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("certs", help="manage the gRPC profile's certificates")
    actions = p.add_subparsers(dest="certs_command", metavar="ACTION", required=True)
    r = actions.add_parser(
        "rotate",
        help="new gRPC certificates, and a rollout so every Falco pod uses them",
        description=f"Replace the Secrets {GRPC_SERVER_SECRET} and {GRPC_CLIENT_SECRET} with freshly "
        f"generated certificates (valid {DEFAULT_DAYS} days) and roll every Falco pod onto them.",
    )
    add_cluster_args(r, writes=True)
    r.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    r.add_argument("--no-wait", action="store_true", help="exit once the rollout is requested")
    add_rollout_args(r)
    r.set_defaults(handler=run_rotate)


@guarded("falcotui certs rotate")
def run_rotate(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO | None) -> int:
    check_rollout_bounds(args)
    question = (
        f"Replace the gRPC certificates in {args.falco_namespace} and restart every Falco pod? (gRPC clients "
        "holding the old client certificate stop working)"
    )
    if not confirm(question, args, out, stdin):
        err.write("falcotui certs rotate: aborted, nothing changed\n")
        return EXIT_FAILURE
    clients = connect(args)
    try:
        deployer = Deployer(clients, args.falco_namespace)
        stamp = deployer.rotate_certs()
        out.write(f"Secrets {GRPC_SERVER_SECRET}, {GRPC_CLIENT_SECRET}: new certificates until {stamp}\n")
        out.write(f"DaemonSet {args.falco_namespace}/falco: {GRPC_CERTS_EXPIRE}={stamp}\n")
        return follow_and_report(deployer, args, out, err)
    finally:
        clients.close()
