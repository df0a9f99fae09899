"""What the `falcotui rules` commands that talk to the cluster share: running one with a RulesService
(errors said in one line, the clients closed), reading the files given, printing a validation, and the
default rules to validate against."""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from falcotui.cli.rules_lint_cmd import clean, format_message
from falcotui.falco.rules.rules_input import RulesBudget, RulesInputError


def on_cluster(body: Callable[..., int]) -> Callable[..., int]:
    """Make a body `(svc, args, out, err, stdin)` a `falcotui rules …` handler: it runs with a RulesService
    on the cluster (closed afterwards), its failures said in one line on stderr after the command's name (a
    usage error keeps its exit code, anything else exits 1)."""
    from falcotui.cli.common import EXIT_FAILURE, CliError, KubeError, connect, with_streams

    @functools.wraps(body)
    def with_service(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO | None) -> int:
        from falcotui.ops.rules.model import RulesError
        from falcotui.ops.rules.service import RulesService

        try:
            clients = connect(args)
            # `--wait` follows every Falco pod's log from before the push on (the engine's log pipeline)
            svc = RulesService(clients, args.falco_namespace, pipeline=bool(getattr(args, "wait", False)))
            try:
                return body(svc, args, out, err, stdin)
            finally:
                svc.close()
                clients.close()
        except (RulesError, KubeError, OSError, RulesInputError) as exc:
            raise CliError(clean(str(exc)), EXIT_FAILURE) from exc

    return with_streams(with_service, lambda args: f"falcotui rules {args.rules_command}")


def gather_files(names: Sequence[str]) -> tuple[dict[str, str], Path | None]:
    """Files by ConfigMap key (base name; a directory gives its files) and where a marker may live."""
    files: dict[str, str] = {}
    marker_dir: Path | None = None
    budget = RulesBudget()  # every file given lands in the one ConfigMap
    for name in names:
        path = Path(name)
        members = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")) if (
            path.is_dir()) else [path]  # fmt: skip
        marker_dir = marker_dir or (path if path.is_dir() else path.parent)
        for p in members:
            if p.name in files:
                raise OSError(f"two files named {p.name}: a ConfigMap key must be unique")
            files[p.name] = budget.read_file(p)
    return files, marker_dir


def print_validation(validation, out: TextIO) -> None:
    for msg in [*validation.errors, *validation.warnings]:
        out.write(format_message(msg, validation.result.texts.get(msg.file)))
    if validation.target is not None:  # which Falco the nodes run, and a mixed cluster said out loud
        out.write(clean(validation.target.describe()) + "\n")
    out.write(f"{len(validation.errors)} error(s), {len(validation.warnings)} warning(s)\n")


def defaults_for(svc, args):
    if args.defaults_file:
        return RulesBudget().read_file(args.defaults_file)
    return svc.default_rules()
