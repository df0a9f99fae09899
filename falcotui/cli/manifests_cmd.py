"""`falcotui manifests ...`: print the manifests the tool would apply."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("manifests", help="work with the Falco deployment manifests")
    msub = p.add_subparsers(dest="manifests_command", metavar="ACTION", required=True)
    r = msub.add_parser("render", help="print the exact YAML falcotui would apply")
    r.set_defaults(handler=lambda a: 0)
