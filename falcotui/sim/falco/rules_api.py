"""The simulator's view of a rules load: the rules that can fire and the per-file results in Falco's words.

Validation belongs to the project's validator (`falcotui.falco.rules.loader.load_rules`); this module turns
its result into what a simulated Falco prints: `<file>: Ok` / `<file>: Invalid` reports with Falco's
context lines, snippet and `CODE (text): message`, and the `falco -V -o json_output=true` JSON.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from falcotui.falco.rules import results as R
from falcotui.falco.rules.dialect import PINNED_FALCO_VERSION
from falcotui.falco.rules.loader import LoadResult, load_rules


@dataclass(frozen=True, slots=True)
class LoadedRule:
    name: str
    priority: str
    output: str
    tags: tuple[str, ...]
    source: str
    enabled: bool
    condition: object = field(default=None, compare=False)  # the resolved `ast` tree


@dataclass(slots=True)
class RulesLoad:
    result: LoadResult
    rules: list[LoadedRule]

    @property
    def ok(self) -> bool:
        return self.result.successful

    @property
    def files(self) -> list[R.FileResult]:
        return self.result.files

    def file_reports(self, only_failed: bool) -> list[str]:
        return [
            file_report(f, self.result.texts) for f in self.result.files if not (only_failed and f.successful)
        ]

    def json_results(self) -> dict:
        return self.result.to_falco_json(include_lints=False)


def _position(loc: R.Location, texts: Mapping[str, R.TextIndex]) -> str:
    index = texts.get(loc.file)
    line, col = index.line_col(loc.index) if index is not None else (1, 1)
    if loc.item_type == R.RULES_CONTENT:
        line, col = 1, 1
    name = loc.display_name if loc.display_name is not None else loc.file
    return f"({name}:{line - 1}:{col - 1})"


def message_text(msg: R.Message, texts: Mapping[str, R.TextIndex]) -> list[str]:
    """One error/warning as Falco's text report shows it."""
    lines = []
    for i, loc in enumerate(msg.context):
        label = f"{loc.item_type} '{loc.item_name}'" if loc.item_name else loc.item_type
        lines.append(f"{'In ' if i == 0 else '    '}{label}: {_position(loc, texts)}")
    snippet = R.snippet(texts, msg)
    lines.append("------")
    lines.extend(snippet.rstrip("\n").split("\n"))
    lines.append("------")
    lines.append(f"{msg.code} ({msg.code_text}): {msg.message}")
    return lines


def file_report(result: R.FileResult, texts: Mapping[str, R.TextIndex]) -> str:
    head = f"{result.name}: {'Ok' if result.successful else 'Invalid'}"
    if result.successful and result.warnings:
        head += ", with warnings"
    lines = [head]
    for title, items in (("Errors", result.errors), ("Warnings", result.warnings)):
        if items:
            lines.append(f"{len(items)} {title}:")
            for msg in items:
                lines.extend(message_text(msg, texts))
    return "\n".join(lines) + "\n"


def load_ruleset(files: Sequence[tuple[str, str]], falco_version: str = PINNED_FALCO_VERSION) -> RulesLoad:
    """Load `(path, content)` pairs in order as one collection, through the project's validator, as the
    loader of `falco_version` does."""
    result = load_rules(list(files), lints=False, falco_version=falco_version)
    rules = [
        LoadedRule(r.name, r.priority, r.output, r.tags, r.source, r.enabled, r.condition)
        for r in result.rules
    ]
    return RulesLoad(result, rules)
