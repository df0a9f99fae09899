"""`falcotui rules lint`: validate rules files on this machine the way Falco's loader does.

`falcotui rules lint [--with DEFAULT_RULES.yaml]... FILE... [--json] [--no-lints]` loads the files in order
(`--with` files first, as `falco -V a -V b`), prints `file:line:col: error CODE: message` with the source
line and a caret, and exits 1 when Falco would reject them. `--condition EXPR` checks one condition's
syntax alone. `format_message` is also how the cluster actions print a validation.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from falcotui.falco.rules.dialect import PINNED_FALCO_VERSION, dialect_for
from falcotui.falco.rules.loader import LoadResult, load_rules
from falcotui.falco.rules.results import Message, Severity, TextIndex
from falcotui.falco.rules.rules_input import RulesBudget, RulesInputError
from falcotui.falco.sanitize import json_text, sanitize

CLEAN_MAX_LEN = 100_000  # a source line, a diff line or a message: bounded, but never cut in practice


#: the image's default rules as `pull` fetched them from a running Falco pod: read-only (mode 0444) and in
#: a dot-named folder, so a push of the directory never sends them and `rules lint DIR` loads them first
DEFAULTS_DIR = ".falco-image"


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
    lint.add_argument(
        "--condition",
        metavar="EXPR",
        help="check one condition as a rule's (syntax, fields, macros and lists of --with files, lints)",
    )
    lint.add_argument(
        "--falco-version",
        default=PINNED_FALCO_VERSION,
        metavar="X.Y[.Z]",
        help=f"the Falco whose loader to imitate (default {PINNED_FALCO_VERSION}, the version the manifests "
        "pin); 0.43 refuses the 0.44+ syntax such as `startswith oneof (...)`",
    )
    lint.add_argument(
        "--engine-version",
        default=None,
        metavar="X.Y.Z",
        help="Falco rules engine version to check against (default: that of --falco-version)",
    )
    lint.set_defaults(handler=run_lint)


def clean(text: str) -> str:
    """`text` as it may reach the terminal: the project's one sanitizing policy (`falco.sanitize`)."""
    return sanitize(text, max_len=CLEAN_MAX_LEN)


def run_lint(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    if args.condition is None and not args.files:
        print("falcotui rules lint: give at least one FILE (or --condition EXPR)", file=err)
        return 2
    files: list[tuple[str, str]] = []
    checked: set[str] = set()
    budget = RulesBudget()  # the files linted would share one ConfigMap; each --with file is the image's
    with_files = list(args.with_files) or pulled_defaults(args.files, err)
    for name, lint_it in [*((n, False) for n in with_files), *((n, True) for n in args.files)]:
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
    if args.condition is not None:
        files.append((CONDITION_FILE, condition_rule(args.condition)))
        checked.add(CONDITION_FILE)
    try:
        dialect = dialect_for(args.falco_version)
        result = load_rules(
            files, engine_version=args.engine_version, lints=not args.no_lints, falco_version=dialect
        )
    except ValueError as exc:  # a bad --engine-version or --falco-version
        print(f"falcotui rules lint: {clean(str(exc))}", file=err)
        return 2
    lints = [m for m in result.lints if m.file in checked]
    if args.condition is not None:
        return _report_condition(args.condition, result, lints, bool(with_files), args.json, out)
    if args.json:
        doc = result.to_falco_json(include_lints=False)
        if not args.no_lints:
            doc["falcotui_lints"] = [m.as_dict() for m in lints]
        d = result.dialect  # beside Falco's shape, like the lints: which Falco's loader was imitated
        doc["falcotui_target"] = {"falco": d.text, "libs": d.libs_version, "engine": d.engine_text}
        out.write(json_text(doc, indent=True) + "\n")
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
        # dot files are falcotui's markers (.falcotui-rv, …), not rules: Falco's rules.d never holds them
        members = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        return [(str(p), budget.read_file(p)) for p in members]
    return [(name, budget.read_file(path, name))]


def _print_human(result: LoadResult, lints: Sequence[Message], out: TextIO) -> None:
    rank = {f.name: i for i, f in enumerate(result.files)}

    def order(m: Message) -> tuple[int, int, int]:
        return rank.get(m.file, len(rank)), m.line, m.column

    falco = sorted(result.errors + result.warnings, key=order)
    for msg in [*falco, *sorted(lints, key=order)]:
        out.write(format_message(msg, result.texts.get(msg.file)))
    d = result.dialect
    out.write(f"checked as Falco {d.text}'s loader (libs {d.libs_version}, rules engine {d.engine_text})\n")
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


#: the file name `--condition` is checked under: a one-rule file made around the expression
CONDITION_FILE = "condition"
_CONDITION_FIRST_LINE = 4  # the rule below: the expression starts on line 4, indented 4 spaces
_CONDITION_INDENT = 4


def condition_rule(expr: str) -> str:
    """A one-rule file whose condition is `expr` (a literal block keeps every character as typed)."""
    body = "\n".join(" " * _CONDITION_INDENT + line for line in expr.split("\n"))
    return (
        "- rule: condition given with --condition\n"
        "  desc: the expression given on the command line\n"
        "  condition: |-\n"
        f"{body}\n"
        "  output: condition matched\n"
        "  priority: INFORMATIONAL\n"
    )


def pulled_defaults(names: Sequence[str], err: TextIO) -> list[str]:
    """The default rules `rules pull` fetched beside a linted directory (DIR/.falco-image/*.yaml)."""
    found: list[str] = []
    for name in names:
        folder = Path(name) / DEFAULTS_DIR
        if name != "-" and folder.is_dir():
            found += [str(p) for p in sorted(folder.iterdir()) if p.suffix in (".yaml", ".yml")]
    for path in found:
        err.write(
            f"note: loading {clean(path)} first (the image's default rules, as `rules pull` fetched them)\n"
        )
    return found


def _report_condition(
    expr: str, result: LoadResult, lints: Sequence[Message], with_defaults: bool, as_json: bool, out: TextIO
) -> int:
    """Messages about the `--condition` rule, placed on the expression; exit 1 on an error."""
    index = TextIndex(CONDITION_FILE, expr)
    mine = [m for m in (*result.errors, *result.warnings) if m.file == CONDITION_FILE]
    others = [m for m in result.errors if m.file != CONDITION_FILE]  # a --with file that does not load
    ok = not [m for m in mine if m.severity is Severity.ERROR] and not others
    hint = (
        ""
        if with_defaults
        else " (no default rules loaded: give --with falco_rules.yaml, or lint a pulled DIR)"
    )

    def place(m: Message) -> tuple[int, int]:
        line = m.line - _CONDITION_FIRST_LINE + 1
        if 1 <= line <= expr.count("\n") + 1:
            return line, max(1, m.column - _CONDITION_INDENT)
        return 1, 1

    def undefined(m: Message) -> bool:
        return "undefined" in m.text.lower()

    if as_json:

        def item(m: Message) -> dict[str, object]:
            line, col = place(m)
            return {"code": m.code, "message": m.text, "line": line, "column": col}

        errors = [item(m) for m in mine if m.severity is Severity.ERROR] + [m.as_dict() for m in others]
        doc = {
            "condition": expr,
            "successful": ok,
            "error": errors[0] if errors else None,
            "errors": errors,
            "warnings": [item(m) for m in mine if m.severity is not Severity.ERROR],
            "falcotui_lints": [item(m) for m in lints],
        }
        out.write(json_text(doc) + "\n")
        return 0 if ok else 1
    for m in others:
        out.write(format_message(m, result.texts.get(m.file)))
    for m in [*mine, *lints]:
        line, col = place(m)
        kind = "error" if m.severity is Severity.ERROR else "warning"
        origin = "" if m.falco else " (falcotui lint)"
        extra = hint if undefined(m) else ""
        out.write(clean(f"condition:{line}:{col}: {kind} {m.code}{origin}: {m.text}{extra}") + "\n")
        out.write(caret_lines(index.line_text(line), col) + "\n")
    status = "Ok" if ok else "Invalid"
    if ok and (mine or lints):
        status += ", with warnings"
    out.write(f"condition: {status}\n")
    return 0 if ok else 1
