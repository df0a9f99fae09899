"""Lend the terminal to an exec credential plugin that needs the user (a re-login) while a UI owns it.

The UI hands over a `suspend(fn)` hook that runs `fn` with the screen restored to the shell (Textual's
`App.suspend()`, as for `$EDITOR`) and gives it back afterwards; the credentials of the connected cluster
then use it instead of the process's terminal, so a plugin's prompt never writes into the TUI.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from falcotui.kube.client import KubeClients
from falcotui.kube.credentials import ProcessTerminal, stdin_is_terminal

T = TypeVar("T")
Suspend = Callable[[Callable[[], Any]], Any]


@dataclass
class SuspendingTerminal:
    """The terminal behind a UI: available when the process has one; `run` suspends the UI around `fn`."""

    suspend: Suspend
    shared: bool = True

    def available(self) -> bool:
        return stdin_is_terminal()

    def run(self, fn: Callable[[], T]) -> T:
        return self.suspend(fn)


def lend_terminal(clients: KubeClients, suspend: Suspend) -> bool:
    """From now on an exec plugin of `clients` that needs the user runs inside `suspend`; False when the
    credentials come from no plugin (nothing to do)."""
    creds = clients.credentials
    if creds is None:
        return False
    creds.terminal = SuspendingTerminal(suspend)
    return True


def reclaim_terminal(clients: KubeClients) -> None:
    """The UI is gone: plugins use the process's terminal again."""
    if clients.credentials is not None:
        clients.credentials.terminal = ProcessTerminal()


def credential_problem(clients: KubeClients) -> str:
    """The exec plugin's last failure, while it has not succeeded since ("" otherwise)."""
    creds = clients.credentials
    return creds.last_error if creds is not None else ""
