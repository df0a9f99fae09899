"""`falcotui rules validate [--in-cluster]` and the `--validate-in-cluster` gate of `rules push`.

`validate` checks the rules the ConfigMap would hold (its files, with each FILE given replacing the key of
its name) with falcotui's validator for the Falco the nodes run, and with `--in-cluster` also with the
cluster's own Falco: `falco -V` in one Falco pod of each version present (`ops.rules_incluster`), each
verdict printed beside falcotui's, a disagreement said as such. Exit 0 when every Falco asked loads the
rules, 1 when one refuses them or could not be asked, or a temporary directory was left in a pod.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import TextIO

from falcotui.cli.rules_common import defaults_for, gather_files, on_cluster, print_validation
from falcotui.cli.rules_lint_cmd import clean


def register_validate(actions: argparse._SubParsersAction) -> None:
    from falcotui.cli.common import add_cluster_options

    p = actions.add_parser(
        "validate",
        help="check the rules the cluster would load, optionally with the cluster's own Falco (falco -V)",
        description="Check the ConfigMap's rules, each FILE replacing the key of its name, with falcotui's "
        "validator for the Falco the nodes run; with --in-cluster also with `falco -V` inside one Falco pod "
        "of each version present (files copied to the pod's /tmp and removed afterwards; needs pods/exec).",
    )
    add_cluster_options(p)
    p.add_argument("files", nargs="*", metavar="FILE", help="rules files or a pulled directory")
    p.add_argument(
        "--in-cluster", action="store_true", help="also run `falco -V` in a Falco pod of each version"
    )
    p.add_argument("--prune", action="store_true", help="check only the FILEs given, not the other keys")
    p.add_argument(
        "--json", action="store_true", help="one JSON document: falcotui's verdict and each Falco's"
    )
    p.add_argument(
        "--with",
        dest="defaults_file",
        metavar="RULES.yaml",
        help="falcotui's check loads this default rules file instead of the one in a running Falco pod",
    )
    p.set_defaults(handler=run_validate)


def add_push_option(push: argparse.ArgumentParser) -> None:
    push.add_argument(
        "--validate-in-cluster",
        action="store_true",
        help="before pushing, run `falco -V` in a Falco pod of each version; any refusal stops the push",
    )


@on_cluster
def run_validate(svc, args, out: TextIO, err: TextIO, stdin) -> int:
    from falcotui.cli.common import EXIT_USAGE, CliError

    if args.in_cluster and getattr(args, "read_only", False):
        raise CliError(
            "--read-only: --in-cluster copies the rules into a Falco pod's /tmp and runs falco there (exec)",
            EXIT_USAGE,
        )
    given, _ = gather_files(args.files) if args.files else ({}, None)
    files = dict(given) if args.prune else {**svc.pull().files, **given}
    if not files:
        raise CliError("no rules to check: give FILEs or leave out --prune", EXIT_USAGE)
    defaults = defaults_for(svc, args)
    ours = svc.validate(files, defaults)
    if args.json:
        return _json_report(svc, args, files, defaults, ours, out)
    out.write("falcotui's check:\n")
    print_validation(ours, out)
    if not args.in_cluster:
        return 0 if ours.ok else 1
    ok = in_cluster_report(svc, files, defaults, out, err)
    return 0 if ok and ours.ok else 1


def _json_report(svc, args, files: Mapping[str, str], defaults, ours, out: TextIO) -> int:
    """`--json`: {"falcotui": {...}, "cluster": [...] (with --in-cluster), "note": ...}; same exit codes."""
    import json

    from falcotui.ops.rules.incluster import validate_in_cluster

    doc: dict = {
        "falcotui": {
            "ok": ours.ok,
            "falco_version": ours.target.falco_version if ours.target is not None else None,
            "errors": [m.as_dict() for m in ours.errors],
            "warnings": [m.as_dict() for m in ours.warnings],
        }
    }
    ok = ours.ok
    if args.in_cluster:
        text = defaults if isinstance(defaults, str) else None
        result = validate_in_cluster(svc, files, defaults=text)
        doc["cluster"] = [verdict_json(v) for v in result.verdicts]
        doc["note"] = result.note
        unasked = [v for v in result.verdicts if v.ok is None]
        ok = ok and result.all_valid and not unasked and not result.leftovers
    out.write(json.dumps(doc, indent=1) + "\n")
    return 0 if ok else 1


def verdict_json(v) -> dict:
    def message(m) -> dict:
        return {"code": m.code, "message": m.message, "file": m.file, "line": m.line, "column": m.column,
                "item": m.item}  # fmt: skip

    return {
        "version": v.version,
        "pod": v.pod,
        "node": v.node,
        "ok": v.ok,
        "exit_code": v.exit_code,
        "errors": [message(m) for m in v.errors],
        "warnings": [message(m) for m in v.warnings],
        "fatal": v.fatal,
        "not_asked": v.problem,
        "falcotui_ok": v.ours_ok,
        "disagrees": v.disagrees,
        "cleaned": v.cleaned,
        "cleanup_error": v.cleanup_error,
    }


def in_cluster_report(svc, files: Mapping[str, str], defaults, out: TextIO, err: TextIO) -> bool:
    """Ask the cluster's Falco and print each version's verdict beside falcotui's; True when every Falco
    asked loads the rules, none was left unasked and nothing was left behind in a pod."""
    from falcotui.ops.rules.incluster import validate_in_cluster

    text = defaults if isinstance(defaults, str) else None
    result = validate_in_cluster(svc, files, defaults=text)
    out.write("the cluster's Falco (falco -V in one pod of each version):\n")
    for v in result.verdicts:
        out.write(clean(verdict_line(v)) + "\n")
        for m in [*v.errors, *v.warnings]:
            item = f" [{m.item}]" if m.item else ""
            head = f"    {m.file}:{m.line}:{m.column}: {m.severity} {m.code}: {m.message}{item}"
            out.write(clean(head) + "\n")
        if v.fatal and not v.errors:
            out.write(clean(f"    Error: {v.fatal}") + "\n")
        if v.problem:
            out.write(clean(f"    not asked: {v.problem}") + "\n")
        if v.cleanup_error:
            err.write(clean(f"warning: {v.cleanup_error}") + "\n")
        if v.disagrees:
            err.write(clean(f"warning: {disagreement_text(v)}") + "\n")
        elif v.detail_differs:
            out.write("    (same verdict; falcotui's errors differ in code, file or line)\n")
    if result.note:
        out.write(clean(f"note: {result.note}") + "\n")
    unasked = [v for v in result.verdicts if v.ok is None]
    return result.all_valid and not unasked and not result.leftovers


def verdict_line(v) -> str:
    where = f"pod {v.pod}" + (f" on {v.node}" if v.node else "")
    mark = "DISAGREE" if v.disagrees else ("agree" if v.ok is not None and v.ours_ok is not None else "")
    return f"  Falco {v.version} ({where}): {v.verdict_text()}   falcotui: {v.ours_text()}   {mark}".rstrip()


def disagreement_text(v) -> str:
    falco = "loads the rules" if v.ok else "refuses the rules"
    ours = "refuses them" if v.ok else "loads them"
    return (
        f"Falco {v.version} in pod {v.pod} {falco}, but falcotui's check for Falco {v.version} {ours}: "
        "the pod may run another Falco than its image tag says, or falcotui's validator differs from Falco"
    )


def push_gate(svc, args, files: Mapping[str, str], out: TextIO, err: TextIO) -> bool:
    """`rules push --validate-in-cluster`: True when the push may go on."""

    if not getattr(args, "validate_in_cluster", False):
        return True
    if in_cluster_report(svc, files, defaults_for(svc, args), out, err):
        return True
    if args.force:
        err.write("falcotui rules push: the cluster's Falco did not accept the rules; pushing anyway\n")
        return True
    err.write(
        "falcotui rules push: the cluster's Falco did not accept the rules (or could not be asked); nothing "
        "pushed (--force pushes anyway)\n"
    )
    return False
