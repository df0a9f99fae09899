"""The `falcotui` command: argument parsing and dispatch to the sub-command modules."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from falcotui import __version__
from falcotui.cli.common import CliError, apply_global_options

#: every sub-command, in `--help` order: (name, its module under falcotui.cli, its one-line help). A module
#: is imported, and its `register` builds the real sub-parser, only when its command is typed: `--help`,
#: `--version` and `rules lint` never import the Kubernetes client, the deployer or Textual.
#: tests/cli/test_lazy_imports.py checks each help line against what the module registers.
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("status", "status_cmd", "show the Falco fleet: nodes, pods, versions, reloads, alerts"),
    ("alerts", "alerts_cmd", "print Falco's alerts from every node (JSON lines with --json)"),
    ("apply", "apply_cmd", "deploy or update Falco (diff first, then follow the rollout)"),
    ("delete", "apply_cmd", "remove Falco and everything falcotui deployed"),
    ("restart", "restart_cmd", "restart Falco on every node (rollout restart) and follow the rollout"),
    (
        "act",
        "act_cmd",
        "respond to an alert: delete/quarantine/annotate its pod, cordon its node; the action log",
    ),
    (
        "report",
        "report_cmd",
        "write an incident report (HTML, Markdown, SVG charts, JSONL) of a window's alerts and actions",
    ),
    ("certs", "certs_cmd", "manage the gRPC profile's certificates"),
    ("rules", "rules_cmd", "validate and manage Falco rules files"),
    ("manifests", "manifests_cmd", "work with the Falco deployment manifests"),
    ("sim", "sim_cmd", "run a simulated Kubernetes cluster on loopback"),
    ("serve", "serve_cmd", "the terminal UI in a browser (127.0.0.1, a token, one falcotui per tab)"),
)


class LazySubParsers(argparse._SubParsersAction):
    """Sub-commands listed by name and help; a command's module registers its real parser when typed."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self._pending: dict[str, str] = {}

    def add_lazy(self, name: str, module: str, help: str) -> None:
        """List `name` in the usage and help; `falcotui.cli.<module>.register` fills it in when typed."""
        self._pending[name] = module
        self.add_parser(name, help=help)

    def load(self, name: str) -> None:
        """Replace `name`'s placeholder (and those of the other commands its module registers) with the
        parsers the module registers; a no-op once loaded."""
        module = self._pending.get(name)
        if module is None:
            return
        names = {n for n, m in self._pending.items() if m == module}
        for n in names:
            del self._pending[n]
            del self._name_parser_map[n]
        self._choices_actions[:] = [a for a in self._choices_actions if a.dest not in names]
        importlib.import_module(f"falcotui.cli.{module}").register(self)
        order = {n: i for i, (n, _m, _h) in enumerate(COMMANDS)}
        self._choices_actions.sort(key=lambda a: order.get(a.dest, len(order)))  # --help keeps its order

    def load_all(self) -> None:
        """Register every pending command (for code that walks the whole parser)."""
        for name in list(self._pending):
            self.load(name)

    def __call__(self, parser, namespace, values, option_string=None):  # type: ignore[no-untyped-def]
        if values:
            self.load(values[0])
        super().__call__(parser, namespace, values, option_string)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; a sub-command's module registers its sub-parsers when that command is typed."""
    from falcotui.cli import tui_cmd

    parser = FalcotuiParser(
        prog="falcotui",
        description="Run Falco across a Kubernetes cluster from the terminal.",
        # No prefix matching: argparse matches every option after the command against these too, so
        # `falcotui sim --tls` was ambiguous with the top-level --tlscert/--tlskey/--tlsca (NATS).
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"falcotui {__version__}")
    tui_cmd.add_arguments(parser)
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=argparse.ArgumentParser, action=LazySubParsers
    )
    for name, module, help_line in COMMANDS:
        sub.add_lazy(name, module, help_line)
    return parser


def command_name(args: argparse.Namespace) -> str | None:
    """`rules push`, `manifests render`, `status`, …, or None for the terminal UI."""
    if args.command is None:
        return None
    action = (
        getattr(args, "rules_command", None)
        or getattr(args, "manifests_command", None)
        or getattr(args, "certs_command", None)
    )
    return f"{args.command} {action}" if action else args.command


class FalcotuiParser(argparse.ArgumentParser):
    """The top-level parser: after parsing, options typed before the command take effect there or are
    refused with a usage error; never silently ignored (argparse alone lets a sub-parser's defaults win)."""

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        from falcotui.cli import tui_cmd

        parsed, rest = super().parse_known_args(args, namespace)
        command = command_name(parsed)
        try:
            if command is not None:
                tui_cmd.refuse_tui_options(parsed, command)
            apply_global_options(parsed, command)
        except CliError as exc:
            self.error(exc.message)
        return parsed, rest


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `falcotui` console script: the terminal UI unless a command is given."""
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")  # grpc's C core would write over the TUI
    parser = build_parser()
    if argv is None:
        from falcotui.cli.serve_cmd import served_argv

        try:  # a `falcotui serve` tab: its secret options come in its environment, not on its command line
            argv = served_argv(sys.argv[1:])
        except CliError as exc:
            parser.error(str(exc))
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    try:
        if handler is None:
            from falcotui.cli import tui_cmd

            return int(tui_cmd.run(args) or 0)  # the TUI owns the terminal (and sanitizes what it draws)
        from falcotui.cli.common import safe_std_streams

        with safe_std_streams():  # every byte of text a command prints goes through falco.sanitize
            return int(handler(args) or 0)
    except BrokenPipeError:
        # Output piped into `head` and friends: stop quietly, as Unix tools do.
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
