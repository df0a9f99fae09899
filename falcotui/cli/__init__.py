"""The `falcotui` command: argument parsing and dispatch to the sub-command modules."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from falcotui import __version__
from falcotui.cli.common import CliError, apply_global_options


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser; each sub-command module registers its own sub-parsers."""
    from falcotui.cli import (
        alerts_cmd,
        apply_cmd,
        certs_cmd,
        manifests_cmd,
        restart_cmd,
        rules_cmd,
        sim_cmd,
        status_cmd,
        tui_cmd,
    )

    parser = FalcotuiParser(
        prog="falcotui",
        description="Run Falco across a Kubernetes cluster from the terminal.",
    )
    parser.add_argument("--version", action="version", version=f"falcotui {__version__}")
    tui_cmd.add_arguments(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=argparse.ArgumentParser)
    for module in (
        status_cmd,
        alerts_cmd,
        apply_cmd,
        restart_cmd,
        certs_cmd,
        rules_cmd,
        manifests_cmd,
        sim_cmd,
    ):
        module.register(sub)
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
