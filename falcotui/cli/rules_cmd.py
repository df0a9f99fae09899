"""`falcotui rules ...`: the command group; `lint` works on local files (`rules_lint_cmd`), `pull`, `push`,
`history` and `rollback` on the cluster's rules ConfigMap (`rules_cluster_cmd`), `validate` with falcotui's
check and the cluster's own Falco (`rules_incluster_cmd`)."""

from __future__ import annotations

import argparse

from falcotui.cli.rules_cluster_cmd import register_cluster_actions
from falcotui.cli.rules_incluster_cmd import register_validate
from falcotui.cli.rules_lint_cmd import register_lint


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("rules", help="validate and manage Falco rules files")
    actions = p.add_subparsers(dest="rules_command", metavar="ACTION", required=True)
    register_lint(actions)
    register_cluster_actions(actions)
    register_validate(actions)
