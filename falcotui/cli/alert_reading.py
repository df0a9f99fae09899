"""What the commands that read alerts share (`alerts`, `report`, several clusters at once): the warnings
that keep an empty answer from reading as "no alerts" (a --node that matched no node, lines that looked like
alerts but could not be read) and the signal that ends a follow (Ctrl-C: exit 130, SIGTERM: 0)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import TYPE_CHECKING

from falcotui.cli.common import EXIT_INTERRUPTED, EXIT_OK, warn
from falcotui.falco.sanitize import sanitize

if TYPE_CHECKING:
    from falcotui.ops.alerts.query import AlertQuery


def warn_unmatched_nodes(query: AlertQuery | None, nodes: list[str]) -> None:
    """`--node X` that names no node running Falco reads as "no alerts": say it matched nothing."""
    if query is None:
        return
    known = sorted({n for n in nodes if n})
    for pattern in query.unmatched_nodes(known):
        listed = ", ".join(known[:8]) + (f", … ({len(known)} in all)" if len(known) > 8 else "")
        warn(
            f"--node {sanitize(pattern, max_len=100)} matches none of the nodes running Falco"
            f" ({sanitize(listed, max_len=600) or 'none'})"
        )


def report_unreadable(count: int, last) -> None:
    """The stderr summary of alert lines that could not be read (they are counted, never silently lost)."""
    if count:
        why = f" (last: {sanitize(last.error, max_len=200)})" if last is not None and last.error else ""
        warn(f"{count} log line{'s' * (count != 1)} looked like alerts but could not be read{why}")


class StopSignal(asyncio.Event):
    """Set by Ctrl-C (exit code EXIT_INTERRUPTED) or SIGTERM (EXIT_OK) on the running loop."""

    def __init__(self) -> None:
        super().__init__()
        self.code = EXIT_OK
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, self._interrupted, signum)

    def _interrupted(self, signum: int) -> None:
        self.code = EXIT_INTERRUPTED if signum == signal.SIGINT else EXIT_OK
        self.set()
