"""The problems list of the Rules screen: one line per error/warning/lint (`✗ 12:14 CODE message`);
choosing one asks the screen to jump the editor there."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.message import Message as TMessage
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from falcotui.falco.rules.results import Message, Severity
from falcotui.falco.sanitize import sanitize


@dataclass(frozen=True, slots=True)
class Problem:
    key: str  # the ConfigMap key (file name) it is in
    severity: str  # error | warning | lint
    line: int
    column: int
    code: str
    text: str

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


def problems_from(messages: list[Message], prefix: str, *, lint: bool = False) -> list[Problem]:
    """Messages about files under `prefix` ("/etc/falco/rules.d/"), keyed by their file name."""
    out = []
    for m in messages:
        if not m.file.startswith(prefix):
            continue
        severity = "error" if m.severity is Severity.ERROR else ("lint" if lint else "warning")
        out.append(Problem(m.file[len(prefix) :], severity, m.line, m.column, m.code, m.text))
    return out


_MARK = {"error": ("✗", "bold red"), "warning": ("⚠", "yellow"), "lint": ("·", "cyan")}


def problem_text(p: Problem, *, show_file: bool) -> Text:
    mark, style = _MARK[p.severity]
    text = Text()
    text.append(f"{mark} ", style)
    if show_file:
        text.append(sanitize(p.key, max_len=40) + ":", "dim")
    text.append(f"{p.line}:{p.column} ", "bold")
    text.append(sanitize(p.code, max_len=60), style)
    text.append(" " + sanitize(p.text, max_len=400))
    return text


class ProblemsList(OptionList):
    """Errors first, then warnings, then lints; `enter`/click posts `ProblemsList.Jump`."""

    DEFAULT_CSS = """
    ProblemsList { height: 1fr; border: none; padding: 0; }
    """

    @dataclass
    class Jump(TMessage):
        problem: Problem

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.problems: list[Problem] = []

    def show(self, problems: list[Problem], *, current_key: str, note: str = "") -> None:
        rank = {"error": 0, "warning": 1, "lint": 2}
        self.problems = sorted(problems, key=lambda p: (rank[p.severity], p.key != current_key, p.key,
                                                        p.line, p.column))  # fmt: skip
        keys = {p.key for p in self.problems}
        show_file = len(keys) > 1 or (bool(keys) and current_key not in keys)
        options: list[Option] = [
            Option(problem_text(p, show_file=show_file), id=f"p{i}") for i, p in enumerate(self.problems)
        ]
        if not options:
            options.append(Option(Text(note or "✓ no problems", "green"), id="none", disabled=True))
        highlighted = self.highlighted
        self.clear_options()
        self.add_options(options)
        if self.problems and highlighted is not None:
            self.highlighted = min(highlighted, len(self.problems) - 1)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        option_id = event.option.id or ""
        if option_id.startswith("p"):
            self.post_message(self.Jump(self.problems[int(option_id[1:])]))
