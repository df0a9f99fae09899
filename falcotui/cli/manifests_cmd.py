"""`falcotui manifests render`: print the exact YAML falcotui would apply."""

from __future__ import annotations

import argparse
import sys

from falcotui.ops.manifests import (
    DEFAULT_IMAGE_TAG,
    DEFAULT_NAMESPACE,
    GRPC_IMAGE_TAG,
    IMAGE_TAG_HELP,
    ManifestError,
    parse_kube_version,
    render_yaml,
)


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
        help=f"the gRPC profile: Falco {GRPC_IMAGE_TAG} with gRPC output over mutual TLS on port 5060, "
        "plus a Secret with freshly generated certificates",
    )
    r.add_argument(
        "--no-secret",
        action="store_true",
        help="with --grpc: leave out the certificate Secret (you manage falco-grpc-certs yourself)",
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
    r.set_defaults(handler=_render, accepts_globals=("falco_namespace",))


def _render(args: argparse.Namespace) -> int:
    if args.no_secret and not args.grpc:
        print("falcotui: error: --no-secret only applies with --grpc", file=sys.stderr)
        return 2
    try:
        text = render_yaml(
            namespace=args.falco_namespace,
            image_tag=args.image_tag,
            grpc=args.grpc,
            include_secret=not args.no_secret,
            tolerate_all=args.tolerate_all,
            privileged=args.privileged,
            kube_version=parse_kube_version(args.kube_version) if args.kube_version else None,
        )
    except ManifestError as exc:
        print(f"falcotui: error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    sys.stdout.flush()
    return 0
