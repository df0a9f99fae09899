"""Switching cluster context or Falco namespace: the app ends with a `Reconnect` and the entry point builds
fresh services for the new target (a clean engine, nothing of the old cluster left running)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


@dataclass(frozen=True, slots=True)
class Reconnect:
    """What `FalcoTuiApp.run()` returns when the operator asked for another context or namespace."""

    context: str | None  # None: keep the current one
    namespace: str


def namespace_problem(name: str) -> str:
    """Why `name` cannot be a namespace ("" when it can): Kubernetes wants a DNS label."""
    if not name:
        return "type a namespace"
    if not _DNS_LABEL.fullmatch(name):
        return "lower-case letters, digits and '-' (at most 63, alphanumeric at both ends)"
    return ""


class NamespacePrompt(ModalScreen[str | None]):
    """Ask for the Falco namespace; enter switches, esc cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="ns-box") as box:
            box.border_title = "Falco namespace · enter to switch · esc to cancel"
            yield Input(value=self.current, id="ns-input")
            yield Static("", id="ns-error")

    @on(Input.Submitted)
    def _submit(self, event: Input.Submitted) -> None:
        name = event.value.strip()
        problem = namespace_problem(name)
        if problem:
            self.query_one("#ns-error", Static).update(problem)
            return
        self.dismiss(name if name != self.current else None)

    def action_cancel(self) -> None:
        self.dismiss(None)
