"""Property tests: the parser never fails with anything but its own error, and printing round-trips."""

from __future__ import annotations

from dataclasses import fields, is_dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from falcotui.falco.rules.ast import (
    And,
    ArgList,
    BinaryCheck,
    FieldRef,
    FieldValue,
    Identifier,
    Not,
    Or,
    Transformer,
    TransformerCall,
    UnaryCheck,
    Value,
    ValueList,
)
from falcotui.falco.rules.condition import parse_condition
from falcotui.falco.rules.condition_lex import (
    LIST_OPERATORS,
    NUMERIC_OPERATORS,
    STRING_OPERATORS,
    TRANSFORMERS,
    ConditionSyntaxError,
)
from falcotui.falco.rules.condition_print import to_text

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TREE_SETTINGS = settings(SETTINGS, max_examples=120)
CONDITIONISH = st.text(
    alphabet=list(" \t\n()[],=<>!\"'\\%*/.:-_0123456789") + list("andornotexistsinvalproc.nameABCxyz"),
    max_size=80,
)


def shape(node):
    if isinstance(node, tuple):
        return tuple(shape(item) for item in node)
    if not is_dataclass(node):
        return node
    return (
        type(node).__name__,
        {f.name: shape(getattr(node, f.name)) for f in fields(node) if f.name != "offset"},
    )


def _parses_or_raises_own_error(text: str) -> None:
    try:
        tree = parse_condition(text)
    except ConditionSyntaxError as err:
        assert 0 <= err.offset <= len(text)
        assert err.message
    else:
        assert shape(parse_condition(to_text(tree))) == shape(tree)


@SETTINGS
@given(st.text(max_size=120))
def test_any_text_parses_or_raises_a_condition_syntax_error(text):
    _parses_or_raises_own_error(text)


@SETTINGS
@given(CONDITIONISH)
def test_condition_like_text_parses_or_raises_a_condition_syntax_error(text):
    _parses_or_raises_own_error(text)


# -- generated trees -------------------------------------------------------------------------------

KEYWORDS = {"not", "and", "or"}
LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
names = st.builds(
    lambda head, tail: head + tail, st.sampled_from(LETTERS), st.text(LETTERS + "0123456789_", max_size=6)
).filter(lambda n: n not in KEYWORDS)
field_names = st.sampled_from(
    ["proc.name", "proc.aname", "fd.name", "evt.arg.flags", "k8s.ns.name", "a.b_1.c", "X9.y", "tolower.x"]
)
any_text = st.text(st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)), max_size=12)
bare_strings = st.text(alphabet=list("abcXYZ019/*.:-_[]!<>%\\~é"), min_size=1, max_size=10)
numbers = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    st.integers(0, 2**32).map(hex),
    st.floats(0, 1e6, allow_nan=False).map(lambda f: f"{f:.3f}"),
)
field_refs = st.builds(
    FieldRef,
    st.just(0),
    field_names,
    st.one_of(st.none(), st.text(alphabet=list("aZ09/*:._-"), min_size=1, max_size=6), any_text),
)


def _call(name, args):
    return TransformerCall(0, name, tuple(args))


def _wrap(name, operand):
    """`name(operand)` as the parser builds it."""
    if isinstance(operand, FieldRef | Transformer):
        return Transformer(0, name, operand)
    return TransformerCall(0, name, (operand,))


def _is_call(node):
    """A canonical call: one plain field argument would parse as a `Transformer`."""
    return not (len(node.args) == 1 and isinstance(node.args[0], FieldRef | Transformer))


def _field_exprs(inner):
    literals = st.one_of(
        st.builds(Value, st.just(0), numbers), st.builds(Value, st.just(0), any_text, st.just(True))
    )
    arg_lists = st.builds(ArgList, st.just(0), st.lists(st.one_of(inner, literals), max_size=3).map(tuple))
    args = st.one_of(inner, literals, arg_lists)
    return st.one_of(
        st.builds(_wrap, st.sampled_from(TRANSFORMERS), inner),
        st.builds(_call, st.sampled_from(TRANSFORMERS), st.lists(args, min_size=1, max_size=3)).filter(
            _is_call
        ),
    )


field_exprs = st.recursive(field_refs, _field_exprs, max_leaves=3)
field_values = st.one_of(
    st.builds(FieldValue, st.just(0), field_refs),
    st.builds(FieldValue, st.just(0), field_exprs.filter(lambda f: not isinstance(f, FieldRef))),
)
string_values = st.one_of(
    st.builds(Value, st.just(0), bare_strings), st.builds(Value, st.just(0), any_text, st.just(True))
)
checks = st.one_of(
    st.builds(UnaryCheck, st.just(0), field_exprs, st.just("exists")),
    st.builds(
        BinaryCheck,
        st.just(0),
        field_exprs,
        st.sampled_from(NUMERIC_OPERATORS),
        st.one_of(st.builds(Value, st.just(0), numbers), field_values),
    ),
    st.builds(
        BinaryCheck,
        st.just(0),
        field_exprs,
        st.sampled_from(STRING_OPERATORS),
        st.one_of(string_values, field_values),
    ),
    st.builds(
        BinaryCheck,
        st.just(0),
        field_exprs,
        st.sampled_from(LIST_OPERATORS),
        st.one_of(
            st.builds(ValueList, st.just(0), st.lists(string_values, max_size=4).map(tuple)),
            st.builds(Value, st.just(0), names),
            field_values,
        ),
    ),
)
leaves = st.one_of(st.builds(Identifier, st.just(0), names), checks)


def _grouped(node):
    """As the parser builds it when the node sits where it needs parentheses."""
    return Or(0, node.children, True) if isinstance(node, Or) else And(0, node.children, True)


def _extend(inner):
    def junction(kind, children, parenthesized):
        if kind is And:
            children = [_grouped(c) if isinstance(c, And | Or) else c for c in children]
        else:
            children = [_grouped(c) if isinstance(c, Or) else c for c in children]
        return kind(0, tuple(children), parenthesized)

    def negation(child):
        return Not(0, _grouped(child) if isinstance(child, And | Or) else child)

    return st.one_of(
        st.builds(
            junction, st.sampled_from([And, Or]), st.lists(inner, min_size=2, max_size=3), st.booleans()
        ),
        st.builds(negation, inner),
    )


trees = st.recursive(leaves, _extend, max_leaves=6)


@TREE_SETTINGS
@given(trees)
def test_printed_trees_parse_back_to_the_same_tree(tree):
    assert shape(parse_condition(to_text(tree))) == shape(tree)


@TREE_SETTINGS
@given(trees, st.data())
def test_damaged_conditions_fail_only_with_our_error(tree, data):
    text = to_text(tree)
    cut = data.draw(st.integers(0, len(text)))
    junk = data.draw(
        st.sampled_from(["", "(", ")", '"', "'", ",", "[", "]", " and", " or ", "not ", "\\", "="])
    )
    _parses_or_raises_own_error(text[:cut] + junk + text[cut + 1 :])
