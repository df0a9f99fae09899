"""`falcotui rules lint`: validate rules files on this machine the way Falco's loader does.

`falcotui rules lint [--with DEFAULT_RULES.yaml]... FILE... [--json] [--no-lints]` loads the files in order
(`--with` files first, as `falco -V a -V b`), prints `file:line:col: error CODE: message` with the source
line and a caret, and exits 1 when Falco would reject them. `--condition EXPR` checks one condition's
syntax alone. `format_message` is also how the cluster actions print a validation.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from falcotui.falco.rules.condition import check_condition_syntax
from falcotui.falco.rules.loader import DEFAULT_ENGINE_VERSION, LoadResult, load_rules
from falcotui.falco.rules.results import Message, Severity, TextIndex
from falcotui.falco.rules.rules_input import RulesBudget, RulesInputError
from falcotui.falco.sanitize import sanitize

CLEAN_MAX_LEN = 100_000  # a source line, a diff line or a message: bounded, but never cut in practice


def register_lint(actions: argparse._SubParsersAction) -> None:
    lint = actions.add_parser(
        "lint",
        help="validate rules files as Falco's loader would (plus falcotui's own lints)",
        description="Validate Falco rules files in order, as `falco -V a -V b` does; exit 1 on errors.",
    )
    lint.add_argument(
        "files", nargs="*", metavar="FILE", help="rules files (or directories, or - for stdin), in load order"
    )
    lint.add_argument(
        "--with",
        dest="with_files",
        action="append",
        default=[],
        metavar="RULES.yaml",
        help="rules loaded first, e.g. Falco's default falco_rules.yaml (repeatable)",
    )
    lint.add_argument("--json", action="store_true", help="print Falco's `-V ... -o json_output=true` shape")
    lint.add_argument("--no-lints", action="store_true", help="only Falco's own errors and warnings")
    lint.add_argument("--condition", metavar="EXPR", help="check the syntax of one condition and exit")
    lint.add_argument(
        "--engine-version",
        default=DEFAULT_ENGINE_VERSION,
        metavar="X.Y.Z",
        help=f"Falco rules engine version to check against (default {DEFAULT_ENGINE_VERSION})",
    )
    lint.set_defaults(handler=run_lint)


def clean(text: str) -> str:
    """`text` as it may reach the terminal: the project's one sanitizing policy (`falco.sanitize`)."""
    return sanitize(text, max_len=CLEAN_MAX_LEN)


def run_lint(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    if args.condition is not None:
        return _lint_condition(args.condition, args.json, out)
    if not args.files:
        print("falcotui rules lint: give at least one FILE (or --condition EXPR)", file=err)
        return 2
    files: list[tuple[str, str]] = []
    checked: set[str] = set()
    budget = RulesBudget()  # the files linted would share one ConfigMap; each --with file is the image's
    for name, lint_it in [*((n, False) for n in args.with_files), *((n, True) for n in args.files)]:
        try:
            for path, text in _read_rules_path(name, budget if lint_it else RulesBudget()):
                files.append((path, text))
                if lint_it:
                    checked.add(path)
        except OSError as exc:  # Falco's LOAD_ERR_FILE_READ: it exits 1 too
            why = clean(exc.strerror or str(exc))
            print(f"falcotui rules lint: cannot read {clean(name)}: {why}", file=err)
            return 1
        except RulesInputError as exc:
            print(f"falcotui rules lint: {clean(exc.message)}", file=err)
            return 1
    try:
        result = load_rules(files, engine_version=args.engine_version, lints=not args.no_lints)
    except ValueError as exc:  # a bad --engine-version
        print(f"falcotui rules lint: {exc}", file=err)
        return 2
    lints = [m for m in result.lints if m.file in checked]
    if args.json:
        doc = result.to_falco_json(include_lints=False)
        if not args.no_lints:
            doc["falcotui_lints"] = [m.as_dict() for m in lints]
        out.write(json.dumps(doc, indent=2) + "\n")
    else:
        _print_human(result, lints, out)
    return 0 if result.successful else 1


def _read_rules_path(name: str, budget: RulesBudget) -> list[tuple[str, str]]:
    """`-` is stdin; a directory stands for its files in name order, as Falco reads `rules.d`.
    Raises RulesInputError for bytes that are not UTF-8 or more than a ConfigMap holds."""
    if name == "-":
        return [("<stdin>", budget.read_stream(sys.stdin.buffer, "<stdin>"))]
    path = Path(name)
    if path.is_dir():
        members = sorted(p for p in path.iterdir() if p.is_file())
        return [(str(p), budget.read_file(p)) for p in members]
    return [(name, budget.read_file(path, name))]


def _print_human(result: LoadResult, lints: Sequence[Message], out: TextIO) -> None:
    rank = {f.name: i for i, f in enumerate(result.files)}

    def order(m: Message) -> tuple[int, int, int]:
        return rank.get(m.file, len(rank)), m.line, m.column

    falco = sorted(result.errors + result.warnings, key=order)
    for msg in [*falco, *sorted(lints, key=order)]:
        out.write(format_message(msg, result.texts.get(msg.file)))
    for f in result.files:
        status = "Ok" if f.successful else "Invalid"
        if f.successful and f.warnings:
            status += ", with warnings"
        out.write(f"{clean(f.name)}: {status}\n")
    n_err, n_warn = len(result.errors), len(result.warnings)
    out.write(
        f"{n_err} error{'s' * (n_err != 1)}, {n_warn} warning{'s' * (n_warn != 1)}, "
        f"{len(lints)} falcotui lint{'s' * (len(lints) != 1)} in {len(result.files)} "
        f"file{'s' * (len(result.files) != 1)}\n"
    )


def format_message(msg: Message, text: TextIndex | None) -> str:
    """`file:line:col: error CODE: message (item)` then the source line and a caret."""
    kind = "error" if msg.severity is Severity.ERROR else "warning"
    origin = "" if msg.falco else " (falcotui lint)"
    item = f" [{msg.item_type} '{msg.item_name}']" if msg.item_name else ""
    head = f"{msg.file}:{msg.line}:{msg.column}: {kind} {msg.code}{origin}: {msg.text}{item}"
    lines = [clean(head)]
    if text is not None:
        src = text.line_text(msg.line)
        if src.strip():
            lines.append(caret_lines(src, msg.column))
    return "\n".join(lines) + "\n"


def caret_lines(src: str, column: int) -> str:
    """The source line (tabs kept, so the caret lines up) and a `^` under 1-based `column`."""
    src = clean(src.expandtabs(1))
    pad = " " * max(0, column - 1)
    return f"    {src}\n    {pad}^"


def _lint_condition(expr: str, as_json: bool, out: TextIO) -> int:
    problem = check_condition_syntax(expr)
    if problem is None:
        if as_json:
            out.write(json.dumps({"condition": expr, "successful": True, "error": None}) + "\n")
        else:
            out.write("condition: Ok\n")
        return 0
    index = TextIndex("condition", expr)
    line, col = index.line_col(problem.offset)
    if as_json:
        error = {
            "code": "LOAD_ERR_COMPILE_CONDITION",
            "message": problem.message,
            "offset": problem.offset,
            "line": line,
            "column": col,
        }
        out.write(json.dumps({"condition": expr, "successful": False, "error": error}) + "\n")
    else:
        out.write(
            clean(f"condition:{line}:{col}: error LOAD_ERR_COMPILE_CONDITION: {problem.message}") + "\n"
        )
        out.write(caret_lines(index.line_text(line), col) + "\n")
    return 1
