"""`falcotui manifests render`: print the exact YAML falcotui would apply (private keys only into files)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from falcotui.ops.deploy.manifests import (
    DEFAULT_IMAGE_TAG,
    DEFAULT_NAMESPACE,
    GRPC_CLIENT_SECRET,
    GRPC_IMAGE_TAG,
    GRPC_SERVER_SECRET,
    IMAGE_TAG_HELP,
    ManifestError,
    parse_kube_version,
    render,
    to_yaml,
)
from falcotui.ops.deploy.sidekick import add_sidekick


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("manifests", help="work with the Falco deployment manifests")
    msub = p.add_subparsers(dest="manifests_command", metavar="ACTION", required=True)
    r = msub.add_parser(
        "render",
        help="print the exact YAML falcotui would apply",
        description="Print the manifests falcotui applies, as multi-document YAML for `kubectl apply -f -`.",
    )
    r.add_argument(
        "--namespace",
        "-n",
        "--falco-namespace",
        dest="falco_namespace",
        default=argparse.SUPPRESS,
        help=f"namespace for Falco (default: {DEFAULT_NAMESPACE})",
    )
    r.add_argument(
        "--image-tag",
        metavar="TAG",
        help=f"{IMAGE_TAG_HELP} (default: {DEFAULT_IMAGE_TAG}, or {GRPC_IMAGE_TAG} with --grpc)",
    )
    r.add_argument(
        "--grpc",
        action="store_true",
        help=f"the gRPC profile: Falco {GRPC_IMAGE_TAG} with gRPC output over mutual TLS on port 5060; its "
        "certificate Secrets hold private keys, so they are written only with --secrets-dir, never to stdout",
    )
    r.add_argument(
        "--secrets-dir",
        metavar="DIR",
        type=Path,
        help=f"with --grpc: write the Secrets {GRPC_SERVER_SECRET} and {GRPC_CLIENT_SECRET} (freshly "
        "generated certificates) as YAML files in DIR (created 0700; files 0600, never overwritten)",
    )
    r.add_argument(
        "--no-secret",
        action="store_true",
        help=f"with --grpc: no Secrets at all (you manage {GRPC_SERVER_SECRET} and {GRPC_CLIENT_SECRET})",
    )
    r.add_argument(
        "--tolerate-all",
        action="store_true",
        help="tolerate every taint (tolerations: [{operator: Exists}]) so Falco runs on every Linux node, "
        "GPU and dedicated pools included",
    )
    r.add_argument(
        "--privileged",
        action="store_true",
        help="run Falco as a privileged container (the Helm chart's default) instead of the least-privilege "
        "capability set: needed on nodes with kernel.perf_event_paranoid > 2 (Ubuntu's default is 4) "
        "unless you lower that sysctl; the container then holds every capability",
    )
    r.add_argument(
        "--kube-version",
        metavar="X.Y",
        help="render for this Kubernetes version (default: current); below 1.30 AppArmor is set by the "
        "beta annotation instead of securityContext.appArmorProfile",
    )
    r.add_argument(
        "--sidekick",
        metavar="NATS_URL",
        help="add Falcosidekick (Deployment + Service) publishing every alert to NATS at NATS_URL "
        "(falco.<priority>.<rule>) and point Falco's http_output at it; the JetStream stream on falco.> is "
        "yours to create (falcotui never creates it)",
    )
    r.add_argument(
        "--sidekick-cluster",
        metavar="NAME",
        help="with --sidekick: the cluster's name, added to every alert as output field `cluster` "
        "(Falcosidekick customfields): falcotui's CLUSTER column and cluster: filter",
    )
    r.add_argument(
        "--sidekick-image-tag",
        metavar="TAG",
        help="with --sidekick: the Falcosidekick image tag, best TAG@sha256:… (default: 2.34.1)",
    )
    r.set_defaults(handler=_render, accepts_globals=("falco_namespace",))


def _render(args: argparse.Namespace) -> int:
    if (args.no_secret or args.secrets_dir) and not args.grpc:
        print("falcotui: error: --no-secret and --secrets-dir only apply with --grpc", file=sys.stderr)
        return 2
    if args.no_secret and args.secrets_dir:
        print("falcotui: error: --no-secret and --secrets-dir exclude each other", file=sys.stderr)
        return 2
    try:
        docs = render(
            args.falco_namespace,
            args.image_tag,
            args.grpc,
            include_secret=not args.no_secret,
            tolerate_all=args.tolerate_all,
            privileged=args.privileged,
            kube_version=parse_kube_version(args.kube_version) if args.kube_version else None,
        )
        if args.sidekick:
            add_sidekick(docs, args.falco_namespace, args.sidekick, cluster=args.sidekick_cluster,
                         image_tag=args.sidekick_image_tag)  # fmt: skip
        elif args.sidekick_cluster or args.sidekick_image_tag:
            raise ManifestError("--sidekick-cluster and --sidekick-image-tag only apply with --sidekick")
    except ManifestError as exc:
        print(f"falcotui: error: {exc}", file=sys.stderr)
        return 2
    secrets = [d for d in docs if d["kind"] == "Secret"]
    if secrets:
        if args.secrets_dir is None:
            print(
                f"falcotui: the gRPC Secrets ({GRPC_SERVER_SECRET}, {GRPC_CLIENT_SECRET}) hold private keys "
                "and are not printed: pass --secrets-dir DIR to write them (files 0600), or --no-secret if "
                "you manage them; `falcotui apply --grpc` creates them in the cluster directly",
                file=sys.stderr,
            )
        else:
            try:
                written = write_secrets(secrets, args.secrets_dir)
            except OSError as exc:
                print(f"falcotui: error: cannot write the Secrets: {exc}", file=sys.stderr)
                return 1
            for path in written:
                print(f"falcotui: wrote {path} (0600)", file=sys.stderr)
    sys.stdout.write(to_yaml([d for d in docs if d["kind"] != "Secret"]))
    sys.stdout.flush()
    return 0


def write_secrets(secrets: list[dict], directory: Path) -> list[Path]:
    """Each Secret as `<name>.yaml` in `directory` (made 0700 if missing), created 0600 and never over an
    existing file; returns the paths."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    written = []
    for secret in secrets:
        path = directory / f"{secret['metadata']['name']}.yaml"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(to_yaml([secret]))
        written.append(path)
    return written
