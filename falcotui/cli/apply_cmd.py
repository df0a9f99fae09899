"""`falcotui apply` and `falcotui delete`: deploy Falco with a diff first and follow the rollout node by node.

`apply [--grpc] [--dry-run] [--yes] [--force] [--tolerate-all] [--privileged] [--image-tag T]
[--namespace NS] [--timeout S]`
prints the server's dry-run diff per object, asks before changing anything (on a terminal; without one
`--yes` is required), applies, then shows the rollout per node (a progress bar on a terminal, plain lines
when piped).
Exit 0 when the rollout completes on every node, 1 when it is stuck or fails, or when nodes are left out
(an untolerated taint, a Windows node; `--allow-uncovered` accepts those) - the nodes, why and the way
out are printed - 2 for a usage problem. An existing namespace falcotui did not create keeps its labels
unless the user agrees (`--label-namespace`, or a yes on the terminal). `delete [--yes]` lists what
falcotui created and will remove (and what it keeps, and why), asks, deletes, and waits for the pods to go.
The `rules` cluster actions share its cluster options and confirmation prompt.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import sys
from collections.abc import Callable
from typing import TextIO

from falcotui.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    Body,
    CliError,
    Handler,
    KubeError,
    add_cluster_options,
    connect,
    with_streams,
    write_trusted,
)
from falcotui.falco.sanitize import sanitize
from falcotui.ops.deploy.deployer import Deployer, DeployPlan, ObjectChange
from falcotui.ops.deploy.manifests import IMAGE_TAG_HELP
from falcotui.ops.deploy.results import DeployConflictError, DeployError, RolloutResult, UninstallProgress


def add_cluster_args(p: argparse.ArgumentParser, *, writes: bool = False) -> None:
    """The shared cluster options; `writes`: the command changes the cluster (refused by --read-only)."""
    add_cluster_options(p, writes=writes)


def confirm(question: str, args: argparse.Namespace, out: TextIO, stdin: TextIO | None = None) -> bool:
    """True with --yes; asks on a terminal; without a terminal refuses (exit 2) and says to pass --yes."""
    if getattr(args, "yes", False):
        return True
    stdin = stdin or sys.stdin
    if not stdin.isatty():
        raise CliError(
            f"{question.rstrip('?')}: refusing without --yes (stdin is not a terminal)", EXIT_USAGE
        )
    out.write(f"{question} [y/N] ")
    out.flush()
    answer = stdin.readline().strip().lower()
    return answer in ("y", "yes")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "apply",
        help="deploy or update Falco (diff first, then follow the rollout)",
        description="Render falcotui's manifests, show the server's dry-run diff, apply them (server-side, "
        "field manager falcotui) and follow the DaemonSet rollout per node. Exit 1 if it gets stuck.",
    )
    add_cluster_args(p, writes=True)
    p.add_argument("--grpc", action="store_true", help="the gRPC profile (Falco 0.43.1, mTLS certificates)")
    p.add_argument("--image-tag", metavar="TAG", help=IMAGE_TAG_HELP + " (default: the pinned version)")
    p.add_argument("--dry-run", action="store_true", help="only show the diff")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    p.add_argument("--force", action="store_true", help="take over fields another field manager owns")
    p.add_argument(
        "--tolerate-all",
        action="store_true",
        help="tolerate every taint (tolerations: [{operator: Exists}]) so Falco runs on every Linux node, "
        "GPU and dedicated pools included",
    )
    p.add_argument(
        "--privileged",
        action="store_true",
        help="run Falco as a privileged container (the Helm chart's default) instead of the least-privilege "
        "capability set: needed on nodes with kernel.perf_event_paranoid > 2 (Ubuntu's default is 4) "
        "unless you lower that sysctl; the container then holds every capability",
    )
    p.add_argument(
        "--label-namespace",
        action="store_true",
        help="when the namespace exists and falcotui did not create it, set its Pod Security labels to "
        "privileged (Falco's pods need it) without asking; without this flag falcotui asks on a terminal "
        "and otherwise leaves the namespace's labels alone",
    )
    add_rollout_args(p)
    p.set_defaults(handler=run_apply)
    d = sub.add_parser(
        "delete",
        help="remove Falco and everything falcotui deployed",
        description="Delete what falcotui created (objects annotated falcotui.io/ownership=created), in "
        "reverse order, and wait for Falco's pods to go. Objects it adopted, and a namespace it did not "
        "create or that holds anything else, are kept. The list is shown before asking.",
    )
    add_cluster_args(d, writes=True)
    d.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    d.add_argument(
        "--timeout", type=float, default=120.0, metavar="S", help="wait for the pods (default 120)"
    )
    d.set_defaults(handler=run_delete)


def add_rollout_args(p: argparse.ArgumentParser) -> None:
    """--timeout, --stuck-after and --allow-uncovered of every command that follows a rollout."""
    p.add_argument("--timeout", type=float, default=300.0, metavar="S", help="rollout timeout (default 300)")
    p.add_argument(
        "--stuck-after",
        type=float,
        default=30.0,
        metavar="S",
        help="report the rollout stuck once a node makes no progress this long (default 30)",
    )
    p.add_argument(
        "--allow-uncovered",
        action="store_true",
        help="exit 0 when the rollout completes even if some nodes cannot run Falco (an untolerated taint, "
        "a Windows node); they are still listed",
    )


# ---- apply ------------------------------------------------------------------------------------------------
def print_plan(plan: DeployPlan, out: TextIO) -> None:
    for c in plan.changes:
        note = f"  ({c.note})" if c.note else ""
        conflict = "  (CONFLICT: fields owned by another manager)" if c.conflict else ""
        out.write(f"{c.status:>9}  {c.ref}{note}{conflict}\n")
    for c in plan.changes:
        if c.diff:
            out.write("\n" + c.diff if c.diff.endswith("\n") else "\n" + c.diff + "\n")
    n = len(plan.pending)
    out.write(f"\n{n} object(s) to create or change, image {plan.image}\n")
    for note in plan.notes:
        out.write(f"note: {note}\n")


class RolloutDisplay:
    """Per-node lines whenever a node's state changes; on a terminal also a one-line progress bar."""

    def __init__(self, out: TextIO, tty: bool, width: int = 30):
        self.out = out
        self.tty = tty
        self.width = width
        self._nodes: dict[str, tuple] = {}
        self._message = ""
        self._bar = False

    def _clear_bar(self) -> None:
        if self._bar:
            write_trusted(self.out, "\r\x1b[2K")
            self._bar = False

    def __call__(self, status) -> None:
        lines = []
        for n in status.nodes:
            # Not the reason: a pull back-off flips between ErrImagePull and ImagePullBackOff.
            key = (n.state, n.pod, n.revision)
            if self._nodes.get(n.node) != key:
                self._nodes[n.node] = key
                why = f" {n.reason}" if n.reason else ""
                msg = sanitize(n.message, max_len=160)  # the cluster's text (a webhook's, a registry's)
                msg = f": {msg}" if msg and n.state in ("stuck", "not-eligible") else ""
                pod = f" pod {n.pod} ({n.revision})" if n.pod else ""
                lines.append(f"  {n.node}: {n.state}{pod}{why}{msg}")
        if status.message != self._message:
            self._message = status.message
            if not self.tty and not status.done:  # the final message comes with the result
                lines.append(status.message)
        if lines:
            self._clear_bar()
            self.out.write("\n".join(lines) + "\n")
        if self.tty:
            eligible = [n for n in status.nodes if n.eligible]
            ready = sum(1 for n in eligible if n.state == "ready")
            total = max(1, len(eligible))
            filled = round(self.width * ready / total)
            bar = "#" * filled + "-" * (self.width - filled)
            write_trusted(self.out, "\r\x1b[2K")
            message = sanitize(status.message, max_len=70)
            self.out.write(f"[{bar}] {ready}/{len(eligible)} nodes ready  {message}")
            self._bar = True
        self.out.flush()

    def finish(self) -> None:
        if self._bar:
            self.out.write("\n")
            self._bar = False


def _report_rollout(result: RolloutResult, out: TextIO, err: TextIO, allow_uncovered: bool = False) -> int:
    """Exit 0 only when Falco runs on every node (or the nodes left out are accepted)."""
    if result.done:
        out.write(f"{result.message}\n")
        if not result.uncovered:
            return EXIT_OK
        (out if allow_uncovered else err).write(result.explain() + "\n")
        return EXIT_OK if allow_uncovered else EXIT_FAILURE
    err.write(result.explain() + "\n")
    return EXIT_FAILURE


def guarded(name: str) -> Callable[[Body], Handler]:
    """Make a body that changes the Falco DaemonSet (apply, restart, certs rotate, delete) a command handler:
    its failures said in one line on stderr after `name` (a usage error keeps its exit code, anything else
    exits 1)."""

    def wrap(body: Body) -> Handler:
        @functools.wraps(body)
        def explained(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO | None) -> int:
            try:
                return body(args, out, err, stdin)
            except DeployConflictError as exc:
                raise CliError(f"conflicts:\n{exc}\nre-run with --force to take these fields over") from exc
            except (DeployError, KubeError) as exc:
                raise CliError(str(exc)) from exc

        return with_streams(explained, lambda _args: name)

    return wrap


def check_rollout_bounds(args: argparse.Namespace) -> None:
    """`--timeout` and `--stuck-after` (add_rollout_args) must be positive."""
    if args.timeout <= 0 or args.stuck_after <= 0:
        raise CliError("--timeout and --stuck-after must be positive", EXIT_USAGE)


@guarded("falcotui apply")
def run_apply(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO | None) -> int:
    check_rollout_bounds(args)
    clients = connect(args)
    try:
        deployer = Deployer(clients, args.falco_namespace)
        label_ns = bool(getattr(args, "label_namespace", False))
        options = {"image_tag": args.image_tag, "grpc": args.grpc, "force": args.force,
                   "tolerate_all": args.tolerate_all, "privileged": args.privileged}  # fmt: skip
        plan = deployer.plan(**options, label_namespace=label_ns)
        print_plan(plan, out)
        if plan.namespace_labels and not label_ns and not args.dry_run:
            if _ask_namespace_labels(plan, args, out, err, stdin):
                plan = deployer.plan(**options, label_namespace=True)
                print_plan(plan, out)
        if plan.conflicts:
            for c in plan.conflicts:
                err.write(c.conflict + "\n")
            err.write("falcotui apply: nothing applied; re-run with --force to take these fields over\n")
            return EXIT_FAILURE
        if args.dry_run:
            return EXIT_OK
        if plan.pending and not confirm("Apply these changes?", args, out, stdin):
            err.write("falcotui apply: aborted, nothing changed\n")
            return EXIT_FAILURE

        def applied(c: ObjectChange) -> None:
            out.write(f"{c.ref}: {'serverside-applied' if c.status != 'kept' else 'kept'} ({c.status})\n")

        deployer.apply(plan, force=args.force, on_object=applied)
        return follow_and_report(deployer, args, out, err)
    finally:
        clients.close()


def follow_and_report(deployer: Deployer, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Unless `--no-wait`: follow the rollout a write just started and give the command's exit code."""
    if getattr(args, "no_wait", False):
        return EXIT_OK
    return _report_rollout(follow_rollout_lines(deployer, args, out), out, err, args.allow_uncovered)


def follow_rollout_lines(deployer: Deployer, args: argparse.Namespace, out: TextIO) -> RolloutResult:
    """Follow the DaemonSet rollout (`--timeout`, `--stuck-after`) with per-node lines, and a progress
    bar on a terminal, until it completes or gets stuck."""
    display = RolloutDisplay(out, bool(getattr(out, "isatty", lambda: False)()))
    out.write("Waiting for the rollout...\n")
    out.flush()
    try:
        follow = deployer.follow_rollout(
            timeout=args.timeout, stuck_grace=args.stuck_after, on_progress=display
        )
        return asyncio.run(follow)
    finally:
        display.finish()


def _ask_namespace_labels(
    plan: DeployPlan, args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO | None
) -> bool:
    """An existing namespace falcotui did not create needs other Pod Security labels: ask on a terminal;
    otherwise (or when declined) say that they stay as they are and what that means."""
    labels = plan.namespace_labels.items()
    changes = "\n".join(f"  {k}: {old or '(unset)'} -> {new}" for k, (old, new) in labels)
    out.write(
        f"\nNamespace {plan.namespace} exists and was not created by falcotui. Falco's pods need Pod "
        f"Security 'privileged' there, which changes its labels:\n{changes}\n"
        f"That exempts every pod in {plan.namespace} from Pod Security admission, not only Falco's.\n"
    )
    stdin = stdin or sys.stdin
    if not getattr(args, "yes", False) and stdin.isatty():
        out.write("Change these labels? [y/N] ")
        out.flush()
        if stdin.readline().strip().lower() in ("y", "yes"):
            return True
    err.write(
        f"falcotui apply: the labels of namespace {plan.namespace} are left as they are (pass "
        "--label-namespace to set them); if it enforces a Pod Security level below 'privileged', "
        "Falco's pods will be refused\n"
    )
    return False


# ---- delete -----------------------------------------------------------------------------------------------
@guarded("falcotui delete")
def run_delete(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO | None) -> int:
    clients = connect(args)
    try:
        deployer = Deployer(clients, args.falco_namespace)
        removals = deployer.uninstall_plan()
        doomed = [r for r in removals if r.action == "delete"]
        for r in removals:
            out.write(r.line() + "\n")
        if not doomed:
            out.write(f"Nothing that falcotui created is left in {args.falco_namespace}\n")
            return EXIT_OK
        question = f"Delete these {len(doomed)} object(s) from {args.falco_namespace}?"
        if not confirm(question, args, out, stdin):
            err.write("falcotui delete: aborted, nothing deleted\n")
            return EXIT_FAILURE

        def progress(p: UninstallProgress) -> None:
            out.write(f"{p.ref}: {p.status}\n")
            out.flush()

        uninstall = deployer.uninstall(removals=removals, timeout=args.timeout, on_progress=progress)
        gone = asyncio.run(uninstall)
    finally:
        clients.close()
    if not gone:
        err.write(f"falcotui delete: Falco pods still present after {args.timeout:g}s\n")
        return EXIT_FAILURE
    out.write("Falco removed\n")
    return EXIT_OK
