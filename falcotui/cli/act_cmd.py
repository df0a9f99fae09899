"""`falcotui act`: response actions from the command line, and their log.

`act ACTION (--alert JSON | --alert-file FILE | --pod NS/NAME | --node NAME) [--yes]` where ACTION is
delete-pod, cordon, uncordon, quarantine, unquarantine or annotate. The target comes from an alert as
`falcotui alerts --json` prints it (its node, and its pod when Falco's suggested output named one), or is
given directly. The exact change is printed, RBAC is asked first (SelfSubjectAccessReview), then it asks
(or --yes) and records the outcome in the action log. `act log [--jsonl] [-o FILE]` lists or exports it.
Exit 0 done, 1 refused or failed, 2 usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from falcotui.cli.apply_cmd import add_cluster_args, confirm
from falcotui.cli.common import EXIT_FAILURE, EXIT_USAGE, CliError, cli_command, connect
from falcotui.falco.sanitize import sanitize


def register(sub: argparse._SubParsersAction) -> None:
    from falcotui.ops.alerts.response_actions import ACTIONS, TITLES

    p = sub.add_parser(
        "act",
        help="respond to an alert: delete/quarantine/annotate its pod, cordon its node; the action log",
        description="Response actions on an alert's pod or node, each shown, checked (RBAC) and asked "
        "before it runs, and recorded in the action log (act log).",
    )
    acts = p.add_subparsers(dest="act_command", metavar="ACTION", required=True)
    for action in ACTIONS:
        a = acts.add_parser(action, help=TITLES[action].lower())
        add_cluster_args(a, writes=True)
        where = a.add_mutually_exclusive_group(required=True)
        where.add_argument(
            "--alert", metavar="JSON", help="the alert, one JSON line of `falcotui alerts --json`"
        )
        where.add_argument(
            "--alert-file", metavar="FILE", type=Path, help="read that line from FILE (- stdin)"
        )
        if action in ("cordon", "uncordon"):
            where.add_argument("--node", metavar="NAME", help="the node")
        elif action != "annotate":
            where.add_argument("--pod", metavar="NS/NAME", help="the pod")
        a.add_argument("--yes", "-y", action="store_true", help="do not ask")
        a.add_argument(
            "--action-log", metavar="FILE", type=Path, help="the action log (default: user data dir)"
        )
        a.set_defaults(handler=cli_command(lambda args: run_act(args)), action=action)
    lg = acts.add_parser("log", help="list the action log, or export it as JSONL")
    lg.add_argument("--jsonl", action="store_true", help="print the records as JSON lines")
    lg.add_argument("-o", "--output", metavar="FILE", type=Path, help="export the log as JSONL to FILE")
    lg.add_argument("--action-log", metavar="FILE", type=Path, help="the action log (default: user data dir)")
    lg.set_defaults(handler=cli_command(lambda args: run_log(args)))


def _target(args: argparse.Namespace):
    from falcotui.falco.alerts import AlertParseError, parse_json_alert
    from falcotui.ops.alerts.response_actions import Target

    line = args.alert
    if args.alert_file is not None:
        line = (
            sys.stdin.readline()
            if str(args.alert_file) == "-"
            else args.alert_file.read_text().split("\n")[0]
        )
    if line is not None:
        try:
            alert = parse_json_alert(line.strip().encode())
        except (AlertParseError, ValueError) as exc:
            raise CliError(f"--alert is not a Falco JSON alert: {exc}", EXIT_USAGE) from None
        data = json.loads(line)
        node = data.get("node") if isinstance(data.get("node"), str) else None
        if node:
            alert.node = node
        return Target.of_alert(alert)
    if getattr(args, "node", None):
        return Target(node=args.node)
    ns, _, pod = (args.pod or "").partition("/")
    if not ns or not pod:
        raise CliError("--pod takes NAMESPACE/NAME", EXIT_USAGE)
    return Target(namespace=ns, pod=pod)


def run_act(args: argparse.Namespace, out: TextIO | None = None, stdin: TextIO | None = None) -> int:
    from falcotui.ops.alerts.action_log import ActionLog
    from falcotui.ops.alerts.response_actions import TITLES, ActionError, ResponseActions

    out = out or sys.stdout
    target = _target(args)
    clients = connect(args)
    try:
        actions = ResponseActions(clients, ActionLog(args.action_log), read_only=bool(args.read_only))
        if target.alert is not None:
            a = target.alert
            out.write(f"alert: {a.priority} {a.rule} at {a.time} on node {a.node or '?'}\n")
        available = actions.availability(args.action, target)
        if not available.enabled:
            raise CliError(f"{TITLES[args.action]}: not possible: {available.reason}")
        try:
            plan = actions.plan(args.action, target)
        except ActionError as exc:
            raise CliError(str(exc)) from None
        out.write(f"{TITLES[args.action]}: {plan.ref} (as {actions.who}, context {clients.context or '-'})\n")
        out.write(sanitize(plan.change, max_len=20_000, multiline=True) + "\n")
        if plan.note:
            out.write(f"note: {plan.note}\n")
        if not confirm(f"{TITLES[args.action]}?", args, out, stdin):
            out.write("cancelled\n")
            return EXIT_FAILURE
        try:
            record = actions.run(plan)
        except ActionError as exc:
            raise CliError(str(exc)) from None
        out.write(f"{record.result}: {record.action} {record.target} at {record.at}\n")
        return 0
    finally:
        clients.close()


def run_log(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from falcotui.ops.alerts.action_log import ActionLog

    out = out or sys.stdout
    log = ActionLog(args.action_log)
    if args.output is not None:
        n = log.export(args.output)
        out.write(f"{n} action{'s' * (n != 1)} exported to {args.output}\n")
        return 0
    for r in log.records():
        if args.jsonl:
            out.write(json.dumps(r.to_json(), ensure_ascii=True, sort_keys=True) + "\n")
            continue
        alert = f"  alert: {r.alert.priority} {r.alert.rule} at {r.alert.time}" if r.alert else ""
        undo = f"  (undoes {r.undo_of})" if r.undo_of else ""
        out.write(f"{r.at}  {r.who}@{r.context}  {r.action} {r.target}  {r.result}{undo}{alert}\n")
        if r.detail:
            out.write(f"    {r.detail}\n")
    return 0
