"""Property tests for the libs 0.25 forms (Falco 0.44+): generated conditions with string-operator
modifiers, multi-argument transformers and transformer `[arg]`s print back to the same tree, and
Falco 0.43's parser refuses every printed modifier check."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from falcotui.falco.rules.ast import (
    BinaryCheck,
    FieldRef,
    FieldValue,
    Transformer,
    TransformerCall,
    Value,
    ValueList,
)
from falcotui.falco.rules.checks import walk
from falcotui.falco.rules.condition import parse_condition
from falcotui.falco.rules.condition_lex import ConditionSyntaxError
from falcotui.falco.rules.condition_print import to_text
from falcotui.falco.rules.dialect import MODIFIABLE_OPERATORS, MODIFIERS, dialect_for

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_condition_props import SETTINGS, TREE_SETTINGS, _extend, field_exprs, names, shape, string_values

F43, F45 = dialect_for("0.43.1"), dialect_for("0.45.0")
# libs 0.25 bool_keyword_follows: a list name starting `and`/`or`/`not` + a non-alphanumeric is not read
# as a list name after a modifier (the modifier becomes the string value), so such names cannot stand there.
_KEYWORD_START = re.compile(r"(?:and|or|not)(?![A-Za-z0-9])")
list_names = names.filter(lambda n: not _KEYWORD_START.match(n))
field_args = st.one_of(st.none(), st.text(alphabet=list("aZ09/*:._- "), min_size=1, max_size=6))


def _with_arg(field, arg):
    """A transformer carrying a libs 0.25 `[arg]` after its `)` (plain fields keep their own)."""
    if isinstance(field, Transformer):
        return Transformer(field.offset, field.name, field.operand, arg)
    if isinstance(field, TransformerCall):
        return TransformerCall(field.offset, field.name, field.args, arg)
    return field


fields_with_args = st.builds(_with_arg, field_exprs, field_args)
modifier_ops = st.builds(
    lambda op, mod: f"{op} {mod}", st.sampled_from(sorted(MODIFIABLE_OPERATORS)), st.sampled_from(MODIFIERS)
)
modifier_values = st.one_of(
    st.builds(ValueList, st.just(0), st.lists(string_values, max_size=4).map(tuple)),
    st.builds(Value, st.just(0), list_names),
)
modifier_checks = st.builds(BinaryCheck, st.just(0), fields_with_args, modifier_ops, modifier_values)
val_with_arg = st.builds(
    BinaryCheck,
    st.just(0),
    fields_with_args,
    st.sampled_from(["=", "!=", "contains"]),
    st.builds(FieldValue, st.just(0), st.builds(FieldRef, st.just(0), st.just("proc.aname")), field_args),
)
modifier_trees = st.recursive(st.one_of(modifier_checks, val_with_arg), _extend, max_leaves=5)


@TREE_SETTINGS
@given(modifier_trees)
def test_printed_modifier_trees_parse_back_to_the_same_tree(tree) -> None:
    text = to_text(tree)
    assert shape(parse_condition(text, dialect=F45)) == shape(tree)


@SETTINGS
@given(modifier_checks)
def test_falco_043_refuses_every_modifier_check(check) -> None:
    text = to_text(check)
    with pytest.raises(ConditionSyntaxError):
        parse_condition(text, dialect=F43)
    if isinstance(check.field, FieldRef | Transformer) and getattr(check.field, "arg", None) is None:
        # the plain left side parses in 0.43 too, so the refusal is at the modifier
        if not _has_call(check.field):
            with pytest.raises(ConditionSyntaxError) as err:
                parse_condition(text, dialect=F43)
            assert err.value.message == f"unexpected token after '{check.modifier}', expecting 'or', 'and'"


def _has_call(field) -> bool:
    while isinstance(field, Transformer):
        if field.name not in F43.transformers or field.arg is not None:
            return True
        field = field.operand
    return isinstance(field, TransformerCall)


@TREE_SETTINGS
@given(modifier_trees)
def test_modifier_trees_keep_their_checks(tree) -> None:
    """Every modifier check survives printing with its two-word operator."""
    ops = [n.op for n in walk(tree) if isinstance(n, BinaryCheck)]
    parsed = parse_condition(to_text(tree), dialect=F45)
    assert [n.op for n in walk(parsed) if isinstance(n, BinaryCheck)] == ops
