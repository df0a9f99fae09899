"""Switching cluster context or Falco namespace: the app ends with a `Reconnect` and the entry point builds
fresh services for the new target (a clean engine, nothing of the old cluster left running)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from falcotui.falco.sanitize import sanitize
from falcotui.ui.widgets.common import titled

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


@dataclass(frozen=True, slots=True)
class Reconnect:
    """What `FalcoTuiApp.run()` returns when the operator asked for another context or namespace."""

    context: str | None  # None: keep the current one
    namespace: str
    contexts: tuple[str, ...] = ()  # several: follow these clusters side by side (the `:ctx` picker)


def namespace_problem(name: str) -> str:
    """Why `name` cannot be a namespace ("" when it can): Kubernetes wants a DNS label."""
    if not name:
        return "type a namespace"
    if not _DNS_LABEL.fullmatch(name):
        return "lower-case letters, digits and '-' (at most 63, alphanumeric at both ends)"
    return ""


def matching(names: list[str], typed: str) -> list[str]:
    """The namespaces that contain `typed`, those starting with it first (an exact match on top)."""
    typed = typed.strip().lower()
    hits = [n for n in names if typed in n]
    return sorted(hits, key=lambda n: (n != typed, not n.startswith(typed), n))


class NamespacePrompt(ModalScreen[str | None]):
    """Pick the Falco namespace k9s-style: the cluster's namespaces, narrowed as you type; ↑↓ move, enter
    switches to the highlighted one (or to what was typed when nothing matches); esc cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="namespace-prompt.cancel"),
        Binding("up", "move(-1)", "Up", show=False, id="namespace-prompt.up"),
        Binding("down", "move(1)", "Down", show=False, id="namespace-prompt.down"),
    ]

    def __init__(self, current: str, names: Callable[[], list[str]] | None = None) -> None:
        super().__init__()
        self.current = current
        self._load_names = names
        self.names: list[str] = []
        self.shown: list[str] = []

    def compose(self) -> ComposeResult:
        with titled(
            Vertical(id="ns-box"), "Falco namespace · type to narrow · ↑↓ · enter to switch · esc to cancel"
        ):
            yield Input(placeholder=f"now {self.current}: a namespace, or a new name", id="ns-input")
            yield OptionList(id="ns-list")
            yield Static("", id="ns-note")
            yield Static("", id="ns-error")

    def on_mount(self) -> None:
        self.query_one("#ns-list", OptionList).display = False
        if self._load_names is not None:
            self.query_one("#ns-note", Static).update(Text("listing the namespaces…", "dim"))
            self._fetch()

    @work(thread=True, exclusive=True)
    def _fetch(self) -> None:
        assert self._load_names is not None
        try:
            names, problem = self._load_names(), ""
        except Exception as exc:  # RBAC may forbid listing namespaces: typing one still works
            names, problem = [], f"cannot list namespaces ({type(exc).__name__}: {exc}): type one"
        self.app.call_from_thread(self._listed, names, problem)

    def _listed(self, names: list[str], problem: str) -> None:
        self.names = names
        note = Text(sanitize(problem, max_len=200), "yellow") if problem else ""
        self.query_one("#ns-note", Static).update(note)
        self._narrow(self.query_one("#ns-input", Input).value, first=True)

    def _narrow(self, typed: str, *, first: bool = False) -> None:
        olist = self.query_one("#ns-list", OptionList)
        self.shown = matching(self.names, typed)
        olist.clear_options()
        olist.add_options(
            [Option(f"{n}  (current)" if n == self.current else n, id=n) for n in self.shown[:200]]
        )
        olist.display = bool(self.shown)
        if self.shown:
            olist.highlighted = self.shown.index(self.current) if first and self.current in self.shown else 0

    @on(Input.Changed, "#ns-input")
    def _typed(self, event: Input.Changed) -> None:
        self.query_one("#ns-error", Static).update("")
        self._narrow(event.value)

    def action_move(self, step: int) -> None:
        olist = self.query_one("#ns-list", OptionList)
        if olist.option_count:
            now = olist.highlighted or 0
            olist.highlighted = max(0, min(olist.option_count - 1, now + step))

    @on(OptionList.OptionSelected, "#ns-list")
    def _clicked(self, event: OptionList.OptionSelected) -> None:
        self._choose(event.option.id or "")

    @on(Input.Submitted)
    def _submit(self, event: Input.Submitted) -> None:
        olist = self.query_one("#ns-list", OptionList)
        if self.shown and olist.highlighted is not None:
            self._choose(self.shown[olist.highlighted])
        else:
            self._choose(event.value.strip())

    def _choose(self, name: str) -> None:
        problem = namespace_problem(name)
        if problem:
            self.query_one("#ns-error", Static).update(problem)
            return
        self.dismiss(name if name != self.current else None)

    def action_cancel(self) -> None:
        self.dismiss(None)
