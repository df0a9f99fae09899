"""falcotui's own lints: traps Falco accepts silently. Not Falco's; codes start with `FALCOTUI_`.

- FALCOTUI_MIXED_AND_OR: `and` and `or` side by side without parentheses. `and` binds tighter, so
  `A and B or C` is `(A and B) or C`. Works on the text, so it also fires when the condition has a
  syntax error elsewhere.
- FALCOTUI_GUARD_ESCAPE: the `container and X or Y` shape: a guard (macro or check) written first in an
  `and`, with an `or` branch that does not carry it, so that branch matches without the guard.

A rule with no event-type restriction is Falco's own LOAD_NO_EVTTYPE, so it is not repeated here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from falcotui.falco.rules import ast as A
from falcotui.falco.rules import results as R
from falcotui.falco.rules.checks import walk
from falcotui.falco.rules.collector import Collector, Part
from falcotui.falco.rules.compile import CompileOutput
from falcotui.falco.rules.condition import parse_condition
from falcotui.falco.rules.condition_print import to_text
from falcotui.falco.rules.dialect import DEFAULT_DIALECT, Dialect
from falcotui.falco.rules.resolve import Composed, Condition, compose
from falcotui.falco.rules.results import Message, Severity

MIXED_AND_OR = "FALCOTUI_MIXED_AND_OR"
_TOKEN = re.compile(r"\"(?:[^\"\\]|\\.)*\"?|'(?:[^'\\]|\\.)*'?|[(),]|[^\s()\"',]+")
GUARD_ESCAPE = "FALCOTUI_GUARD_ESCAPE"


def mixed_and_or_offsets(text: str) -> list[int]:
    """Offsets of the first `or` of every parenthesis group that also has an `and` at the same level
    (groups with commas are value lists and are skipped)."""
    groups: list[list] = [[None, None, False]]  # first `and`, first `or`, has a comma
    found: list[int] = []

    def close(group: list) -> None:
        if group[0] is not None and group[1] is not None and not group[2]:
            found.append(group[1])

    for m in _TOKEN.finditer(text):
        tok = m.group(0)
        if tok == "(":
            groups.append([None, None, False])
        elif tok == ")":
            if len(groups) > 1:
                close(groups.pop())
        elif tok == ",":
            groups[-1][2] = True
        elif tok == "and":
            if groups[-1][0] is None:
                groups[-1][0] = m.start()
        elif tok == "or" and groups[-1][1] is None:
            groups[-1][1] = m.start()
    while groups:
        close(groups.pop())
    return sorted(found)


def guard_escapes(tree: A.Expr) -> Iterator[tuple[A.Node, A.Node]]:
    """(guard, escaping branch) for every `g and X or Y` where branch Y does not carry guard g."""
    for node in walk(tree):
        if not isinstance(node, A.Or):
            continue
        for child in node.children:
            if not isinstance(child, A.And) or child.parenthesized:
                continue
            guard = child.children[0]
            if not isinstance(guard, A.Identifier | A.UnaryCheck | A.BinaryCheck):
                continue
            key = to_text(guard)
            for other in node.children:
                if other is child:
                    continue
                carried = isinstance(other, A.And) and any(to_text(c) == key for c in other.children)
                if not carried:
                    yield guard, other
                    break


def _ctx(item: R.Context, c: Composed, offset: int, texts: Mapping[str, R.TextIndex]) -> R.Context:
    file, index = c.locate(offset, texts)
    return (*item, R.Location(R.CONDITION_EXPRESSION, "", file, index))


def lint_condition(
    parts: list[Part],
    item: R.Context,
    texts: Mapping[str, R.TextIndex],
    compiled: Condition | None = None,
    dialect: Dialect = DEFAULT_DIALECT,
) -> list[Message]:
    """The lints for one macro or rule condition: the text as written, and its compiled tree if any."""
    if not parts:
        return []
    c = compose(parts)
    out: list[Message] = []
    for offset in mixed_and_or_offsets(c.text):
        out.append(
            R.make_message(
                Severity.WARNING,
                MIXED_AND_OR,
                "'and' binds tighter than 'or': 'A and B or C' means '(A and B) or C'; "
                "add parentheses to say which one you mean",
                _ctx(item, c, offset, texts),
                texts,
                falco=False,
            )
        )
    if compiled is None:
        try:
            compiled = Condition(c, parse_condition(c.text, dialect=dialect))
        except ValueError:
            compiled = None
    if compiled is not None and compiled.tree is not None:
        for guard, branch in guard_escapes(compiled.tree):
            out.append(
                R.make_message(
                    Severity.WARNING,
                    GUARD_ESCAPE,
                    f"the 'or' escapes the guard '{to_text(guard)}': '{_short(to_text(branch))}' matches "
                    f"even when '{to_text(guard)}' is false; write '{to_text(guard)} and (... or ...)' "
                    "if the guard should apply to every branch",
                    _ctx(item, compiled.composed, guard.offset, texts),
                    texts,
                    falco=False,
                )
            )
    return out


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def lint_conditions(
    col: Collector, out: CompileOutput, texts: Mapping[str, R.TextIndex], dialect: Dialect = DEFAULT_DIALECT
) -> list[Message]:
    """Lints for every macro and rule condition in the collection."""
    msgs: list[Message] = []
    for m in sorted(col.macros.values(), key=lambda x: x.index):
        msgs.extend(lint_condition(m.parts, m.ctx, texts, out.macros.get(m.name), dialect))
    for r in sorted(col.rules.values(), key=lambda x: x.index):
        if not r.unknown_source:
            msgs.extend(lint_condition(r.parts, r.ctx, texts, out.rule_conditions.get(r.name), dialect))
    return msgs
