"""falcotui's own lints: and/or precedence and guards escaped by `or`; marked as not Falco's."""

from __future__ import annotations

import textwrap

import pytest

from falcotui.falco.rules.lints import GUARD_ESCAPE, MIXED_AND_OR, mixed_and_or_offsets
from falcotui.falco.rules.loader import LoadResult, load_rules


def load_condition(condition: str, kind: str = "rule") -> tuple[LoadResult, str]:
    if kind == "rule":
        text = f"- rule: r\n  desc: d\n  condition: {condition}\n  output: o %proc.name\n  priority: INFO\n"
    else:
        text = f"- macro: m\n  condition: {condition}\n"
    return load_rules([("f.yaml", text)]), text


@pytest.mark.parametrize(
    ("condition", "first_or"),
    [
        ("a and b or c", 8),
        ("a or b and c", 2),
        ("x and (a and b or c)", 15),
        ('proc.name = "a or b" and c or d', 27),
    ],
)
def test_mixed_and_or_found_at_the_first_or_of_the_group(condition: str, first_or: int) -> None:
    assert mixed_and_or_offsets(condition) == [first_or]


@pytest.mark.parametrize(
    "condition",
    [
        "(a and b) or c",
        "a and (b or c)",
        "a and b and c",
        "proc.name in (and, or) and x",
        "fd.name = 'x and y or z'",
        "not (a or b) and c",
    ],
)
def test_parenthesized_or_uniform_conditions_are_clean(condition: str) -> None:
    assert mixed_and_or_offsets(condition) == []


def test_lints_are_warnings_not_from_falco_with_positions() -> None:
    res, text = load_condition("evt.type = execve and proc.name = sh or proc.name = bash")
    mixed = [m for m in res.lints if m.code == MIXED_AND_OR]
    guard = [m for m in res.lints if m.code == GUARD_ESCAPE]
    assert len(mixed) == 1 and len(guard) == 1
    line3 = text.splitlines()[2]
    assert (mixed[0].line, mixed[0].column) == (3, line3.index(" or ") + 2)
    assert (guard[0].line, guard[0].column) == (3, line3.index("evt.type") + 1)
    assert "evt.type = execve" in guard[0].text and "'proc.name = bash'" in guard[0].text
    assert all(not m.falco and m.severity.value == "warning" for m in res.lints)
    # Lints never make a load unsuccessful and never show up among Falco's warnings.
    assert res.successful and not any(m.code.startswith("FALCOTUI_") for m in res.warnings)


def test_guard_carried_by_every_branch_is_fine() -> None:
    res, _ = load_condition("evt.type = execve and proc.name = sh or evt.type = execve and proc.name = bash")
    assert [m.code for m in res.lints] == [MIXED_AND_OR]
    res, _ = load_condition("evt.type = execve and (proc.name = sh or proc.name = bash)")
    assert res.lints == []


def test_macros_are_linted_too_and_lints_can_be_turned_off() -> None:
    res, _ = load_condition("container and proc.name = sh or proc.name = bash", kind="macro")
    assert {m.code for m in res.lints} == {MIXED_AND_OR, GUARD_ESCAPE}
    assert {m.item_type for m in res.lints} == {"macro"}
    text = textwrap.dedent(
        """
        - macro: m
          condition: a and b or c
        """
    )
    assert load_rules([("f.yaml", text)], lints=False).lints == []


def test_precedence_lint_fires_even_when_the_condition_does_not_parse() -> None:
    res, _ = load_condition('syscall="open" and evt.type = open or evt.type = openat')
    assert not res.successful
    assert [m.code for m in res.lints] == [MIXED_AND_OR]
