"""`falcotui rules pull|push|history|rollback`: the rules in the cluster, through the RulesService.

They work on the `falco-rules` ConfigMap: `pull [-o DIR]` writes its files and a `.falcotui-rv` marker (the
resourceVersion the edit starts from); `push FILE...` validates (defaults first, then the files in key
order), pushes with the marker's resourceVersion (a newer version in the cluster is a conflict, shown as a
diff, never overwritten) and with `--wait` prints every node's reload; `history` lists the kept versions;
`rollback [VERSION]` pushes one of them again. Exit 1 when validation fails, on a conflict, or when a node
rejects the rules or crash-loops.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import time
from pathlib import Path
from typing import TextIO

from falcotui.cli.rules_common import defaults_for, gather_files, on_cluster, print_validation
from falcotui.cli.rules_incluster_cmd import add_push_option, push_gate
from falcotui.cli.rules_lint_cmd import DEFAULTS_DIR, clean

RV_MARKER = ".falcotui-rv"
PULLED_MARKER = ".falcotui-pulled"  # sha256 of each file as the last pull or push left it
BACKUP_DIR = ".falcotui-backup"  # dot-named: a push of the directory skips it


def register_cluster_actions(actions: argparse._SubParsersAction) -> None:
    from falcotui.cli.common import add_cluster_options as add_cluster_args

    pull = actions.add_parser(
        "pull",
        help="download the rules ConfigMap's files into a directory",
        description="Write the ConfigMap's files into DIR. A file you edited since it was pulled is never "
        "overwritten: pull refuses, or with --backup first copies your edits to DIR/.falcotui-backup/TIME/.",
    )
    add_cluster_args(pull)
    pull.add_argument("-o", "--output", default="falco-rules", metavar="DIR", help="(default ./falco-rules)")
    pull.add_argument(
        "--backup", action="store_true", help="copy locally edited files to DIR/.falcotui-backup/ and pull"
    )
    pull.set_defaults(handler=run_pull)

    push = actions.add_parser(
        "push",
        help="validate and push rules files (no lost updates), optionally wait for every node's reload",
        description="Each FILE (or every file of a DIR) replaces the ConfigMap key of its name; other keys "
        "stay. The edit's base resourceVersion comes from the .falcotui-rv marker `rules pull` wrote.",
    )
    add_cluster_args(push, writes=True)
    push.add_argument("files", nargs="+", metavar="FILE", help="rules files or a pulled directory")
    push.add_argument("--rv", metavar="RV", help="base resourceVersion (default: the .falcotui-rv marker)")
    push.add_argument("-m", "--message", default="", help="a note for the history")
    push.add_argument("--force-warnings", action="store_true", help="push despite validation warnings")
    push.add_argument("--force", action="store_true", help="push INVALID rules (emergencies; needs --yes)")
    push.add_argument("--prune", action="store_true", help="remove ConfigMap keys not given as FILEs")
    add_push_option(push)
    _add_push_common(push)
    push.set_defaults(handler=run_push)

    hist = actions.add_parser("history", help="list the kept versions of the rules")
    add_cluster_args(hist)
    hist.set_defaults(handler=run_history)

    back = actions.add_parser("rollback", help="push a kept version again (default: the previous one)")
    add_cluster_args(back, writes=True)
    back.add_argument("version", nargs="?", type=int, metavar="VERSION", help="a version from `history`")
    back.add_argument("--force", action="store_true", help="roll back even to invalid rules (needs --yes)")
    _add_push_common(back)
    back.set_defaults(handler=run_rollback)


def _add_push_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    p.add_argument(
        "--with",
        dest="defaults_file",
        metavar="RULES.yaml",
        help="validate against this default rules file instead of reading it from a running Falco pod",
    )
    p.add_argument("--wait", action="store_true", help="wait for every node's reload and report it")
    p.add_argument(
        "--timeout",
        type=float,
        default=150.0,
        metavar="S",
        help="how long to wait for the reloads; covers the kubelet's ConfigMap sync (default 150)",
    )
    p.add_argument("--poll", type=float, default=0.2, metavar="S", help=argparse.SUPPRESS)


@on_cluster
def run_pull(svc, args, out: TextIO, err: TextIO, stdin) -> int:
    from falcotui.cli.common import CliError

    snap = svc.pull()
    target = Path(args.output)
    target.mkdir(parents=True, exist_ok=True)
    edited = local_edits(target, snap.files)
    if edited and not args.backup:
        names = ", ".join(clean(str(target / k)) for k in edited)
        keep = clean(str(target / BACKUP_DIR))
        raise CliError(
            f"{names}: changed since the last pull or push; nothing was overwritten. Pull into another "
            f"directory (-o DIR) and merge, or pass --backup to keep a copy in {keep}/"
        )
    if edited:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        backup = target / BACKUP_DIR / stamp
        backup.mkdir(parents=True, exist_ok=True)
        for key in edited:
            shutil.copy2(target / key, backup / key)
        err.write(f"your edits of {', '.join(edited)} are kept in {clean(str(backup))}/\n")
    for key, text in snap.files.items():
        (target / key).write_text(text, encoding="utf-8")
        out.write(f"{clean(str(target / key))}\n")
    (target / RV_MARKER).write_text(snap.resource_version + "\n", encoding="utf-8")
    record_pulled(target, snap.files, replace=True)
    for stale in sorted(p.name for p in target.iterdir() if p.is_file() and not p.name.startswith(".")):
        if stale not in snap.files:
            err.write(f"note: {target / stale} is not in the ConfigMap; a push of {target} would add it\n")
    _pull_defaults(svc, target, out, err)
    out.write(f"pulled {len(snap.files)} file(s) at resourceVersion {snap.resource_version} into {target}\n")
    return 0


def _pull_defaults(svc, target: Path, out: TextIO, err: TextIO) -> None:
    """Write the running image's default rules to DIR/.falco-image/ (read-only), for `rules lint DIR`."""
    from falcotui.ops.rules.model import RulesError

    try:
        defaults = svc.default_rules()
    except RulesError as exc:
        err.write(f"note: the image's default rules were not fetched: {clean(str(exc))}\n")
        return
    folder = target / DEFAULTS_DIR
    folder.mkdir(exist_ok=True)
    path = folder / Path(defaults.path).name
    if path.exists():
        path.chmod(0o644)
    path.write_text(defaults.text, encoding="utf-8")
    path.chmod(0o444)
    out.write(
        f"{clean(str(path))} (read-only: {clean(defaults.path)} of {clean(defaults.image)}, from pod "
        f"{clean(defaults.pod)}; `rules lint {clean(str(target))}` loads it first)\n"
    )


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _recorded(target: Path) -> dict[str, str]:
    try:
        found = json.loads((target / PULLED_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in found.items() if isinstance(v, str)} if isinstance(found, dict) else {}


def local_edits(target: Path, incoming: dict[str, str]) -> list[str]:
    """Files in `target` a pull would overwrite that differ from what the last pull or push left there
    (a file with no record counts as edited unless it already equals the incoming text)."""
    recorded = _recorded(target)
    edited = []
    for key, text in incoming.items():
        path = target / key
        if not path.is_file():
            continue
        current = path.read_bytes()
        if current == text.encode("utf-8") or recorded.get(key) == _digest(current):
            continue
        edited.append(key)
    return edited


def record_pulled(target: Path, files: dict[str, str], *, replace: bool = False) -> None:
    """Remember the content the cluster has for `files` as written in `target` (what is not an edit)."""
    recorded = {} if replace else _recorded(target)
    recorded.update({k: _digest(t.encode("utf-8")) for k, t in files.items()})
    text = json.dumps(recorded, indent=1, sort_keys=True) + "\n"
    (target / PULLED_MARKER).write_text(text, encoding="utf-8")


@on_cluster
def run_push(svc, args, out: TextIO, err: TextIO, stdin) -> int:
    from falcotui.cli.common import EXIT_USAGE, CliError

    given, marker_dir = gather_files(args.files)
    marker = marker_dir / RV_MARKER if marker_dir else None
    base_rv = args.rv
    if base_rv is None:
        if marker is None or not marker.is_file():
            raise CliError(
                f"no {RV_MARKER} beside the files: `falcotui rules pull` first, or pass --rv", EXIT_USAGE
            )
        base_rv = marker.read_text(encoding="utf-8").strip()
    live = svc.pull()
    files = dict(given) if args.prune else {**live.files, **given}
    if not _confirm_change(
        live.files, files, f"Push these rules to {svc.namespace}/{svc.configmap}?", args, out, stdin
    ):
        err.write("falcotui rules push: aborted, nothing pushed\n")
        return 1
    if not push_gate(svc, args, files, out, err):
        return 1
    result = _do_push(svc, args, out, err, stdin, files, base_rv, args.message, "push")
    if result is not None and result.status == "pushed" and marker is not None and args.rv is None:
        marker.write_text(result.resource_version + "\n", encoding="utf-8")
        record_pulled(marker.parent, {k: t for k, t in given.items() if (marker.parent / k).is_file()})
    return 0 if result is None else _after_push(svc, args, result, out, err)


def _confirm_change(
    live: dict[str, str], new: dict[str, str], question: str, args, out: TextIO, stdin
) -> bool:
    """On a terminal (and without --yes): the change as a diff against the cluster's rules, then a question.
    Scripts (no terminal) and --yes go straight on, as before; the validation still gates the push."""
    from falcotui.cli.apply_cmd import confirm
    from falcotui.ops.rules.model import files_diff

    stdin = stdin or sys.stdin
    if args.yes or not stdin.isatty() or live == new:
        return True
    out.write("The cluster's rules (-) against what would be pushed (+):\n")
    out.write(_clean_diff(files_diff(live, new, "cluster", "push")))
    return confirm(question, args, out, stdin)


def _do_push(svc, args, out, err, stdin, files, base_rv, message, kind):
    """Validate and push, asking where needed; returns the PushResult, None when the user declined."""
    from falcotui.cli.apply_cmd import confirm
    from falcotui.cli.common import CliError

    defaults = defaults_for(svc, args)
    if args.force:
        validation = svc.validate(files, defaults)
        if not validation.ok:
            print_validation(validation, out)
            if not confirm("Push INVALID rules anyway (every node will refuse them)?", args, out, stdin):
                err.write(f"falcotui rules {args.rules_command}: aborted, nothing pushed\n")
                return None
    allow_warnings = getattr(args, "force_warnings", False) or kind == "rollback"

    def push(allow: bool):
        if kind == "rollback":
            return svc.rollback(
                args.version, allow_warnings=allow, force_invalid=args.force, defaults=defaults
            )
        return svc.push(
            files, base_rv, message=message, allow_warnings=allow, force_invalid=args.force, defaults=defaults
        )

    result = push(allow_warnings)
    if result.status == "needs confirmation":
        print_validation(result.validation, out)
        if not (stdin or sys.stdin).isatty():
            raise CliError("the rules have warnings; nothing pushed (--force-warnings pushes anyway)")
        if not confirm("Push with these warnings?", args, out, stdin):
            return None
        result = push(True)
    return result


def _after_push(svc, args, result, out: TextIO, err: TextIO) -> int:
    name = f"falcotui rules {args.rules_command}"
    status = str(result.status)
    if status == "invalid":
        print_validation(result.validation, out)
        err.write(f"{name}: the rules are invalid; nothing was pushed\n")
        return 1
    if status == "unchanged":
        out.write("the cluster already has these rules; nothing pushed\n")
        return 0
    if status == "conflict":
        c = result.conflict
        err.write(
            f"{name}: conflict: the rules changed in the cluster since your edit started "
            f"(your base resourceVersion {c.base_rv}, now {c.theirs_rv}); nothing was overwritten.\n"
            "Their version (-) against yours (+):\n"
        )
        err.write(_clean_diff(c.diff))
        err.write(
            "to merge: `falcotui rules pull -o OTHER_DIR` (a pull never overwrites edited files), "
            "merge your change, and push\n"
        )
        return 1
    version = f" as version {result.version}" if result.version is not None else ""
    forced = " (INVALID, forced)" if result.forced else ""
    out.write(f"pushed{forced}{version}: resourceVersion {result.resource_version}\n")
    if result.history_error:
        err.write(f"{name}: warning: {result.history_error}\n")
    if not args.wait:
        return 0
    return _wait(svc, args, result.pushed_at_ns, out)


def _clean_diff(diff: str) -> str:
    return "".join(clean(line.rstrip("\n")) + "\n" for line in diff.splitlines())


def _wait(svc, args, since_ns: int, out: TextIO) -> int:
    import asyncio

    out.write(f"waiting for every node to reload (up to {args.timeout:g}s)...\n")

    def event(ev) -> None:
        detail = f": {clean(ev.detail)}" if ev.detail else ""
        out.write(f"  {ev.node} ({ev.pod}): {ev.state}{detail}\n")
        out.flush()

    summary = asyncio.run(svc.track_reload(since_ns, timeout=args.timeout, poll=args.poll, on_event=event))
    out.write(summary.line() + "\n")
    return 0 if summary.ok else 1


@on_cluster
def run_history(svc, args, out: TextIO, err: TextIO, stdin) -> int:
    entries = svc.list_history()
    if not entries:
        out.write("no history yet: it starts with the first `falcotui rules push`\n")
        return 0
    live = svc.pull().files
    out.write(f"{'VERSION':>7}  {'TIME':<20}  {'KIND':<8}  {'AUTHOR':<20}  MESSAGE\n")
    for e in entries:
        mark = "*" if e.files == live else " "
        out.write(
            clean(f"{e.version:>6}{mark}  {e.time:<20}  {e.kind:<8}  {e.author or '-':<20}  {e.message}")
            + "\n"
        )
    out.write("* = the rules in the cluster now\n")
    return 0


@on_cluster
def run_rollback(svc, args, out: TextIO, err: TextIO, stdin) -> int:
    target = svc.rollback_target(args.version)
    out.write(f"rolling back to version {target.version} ({target.time}, {target.kind})\n")
    question = f"Roll {svc.namespace}/{svc.configmap} back to version {target.version}?"
    if not _confirm_change(svc.pull().files, target.files, question, args, out, stdin):
        err.write("falcotui rules rollback: aborted, nothing pushed\n")
        return 1
    result = _do_push(svc, args, out, err, stdin, target.files, "", "", "rollback")
    return 0 if result is None else _after_push(svc, args, result, out, err)
