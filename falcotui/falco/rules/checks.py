"""What libsinsp's filter compiler and Falco's event-type index say about one resolved condition.

- per check: unknown or misused fields (`filter_check called with nonexistent field ...`), deprecated
  fields, and the compiler's warnings on constant values (a field name or transformer written as a
  string, a regex that a plain operator could do, `bcontains` values that are not hex);
- per rule: the event types the condition can match, worked out like libsinsp's `ppm_event_codes`
  (an `evt.type` check restricts, `not` complements, any other check matches every event).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from falcotui.falco.rules import ast as A
from falcotui.falco.rules.dialect import DEFAULT_DIALECT, Dialect
from falcotui.falco.rules.fields import FieldCatalog, check_value, value_warnings
from falcotui.falco.rules.resolve import Condition, Problem, field_refs

DEPRECATED_FIELDS: dict[str, str] = {
    "evt.dir": "due to the drop of enter events, 'evt.dir = <' always evaluates to true, and 'evt.dir = >' "
    "always evaluates to false. The rule expression can be simplified by removing the condition on 'evt.dir'",
    **{
        f: "field is not available due to the drop of enter events."
        for f in ("evt.latency", "evt.latency.s", "evt.latency.ns", "evt.latency.human", "evt.wait_latency")
    },
}
EVTTYPE_LIMIT = 100
"""Falco warns when a rule matches no or more than this many event codes."""


def check_compiled_node(
    node: A.UnaryCheck | A.BinaryCheck,
    where: Condition,
    problems: list[Problem],
    catalog: FieldCatalog,
    dialect: Dialect = DEFAULT_DIALECT,
) -> None:
    """What libsinsp's filter compiler says about one check, in its visiting order: unknown fields
    (left side first), deprecated fields, the operator against the field's type, then each constant
    value's warnings and errors."""
    refs = field_refs(node.field)
    if isinstance(node, A.BinaryCheck):
        refs += field_refs(node.value)
    for ref in refs:
        problem = catalog.check(ref)
        if problem is not None:
            problems.append(Problem("field", problem, where, ref.offset))
            return
        if ref.name in DEPRECATED_FIELDS:
            problems.append(Problem("deprecated", DEPRECATED_FIELDS[ref.name], where, ref.offset))
    problem = catalog.check_operator(node.field, node.op)
    if problem is not None:
        problems.append(Problem("compile", problem, where, node.field.offset))
        return
    if not isinstance(node, A.BinaryCheck) or isinstance(node.value, A.FieldValue):
        return
    values = node.value.items if isinstance(node.value, A.ValueList) else (node.value,)
    at = node.value.offset
    for v in values:
        for warning in value_warnings(node.op, v.text, catalog, dialect.transformers):
            problems.append(Problem("warning", warning, where, at))
        problem = check_value(node.op, v.text)
        if problem is not None:
            problems.append(Problem("compile", problem, where, at))
            return


def walk(node: A.Node) -> Iterator[A.Node]:
    """Every node of a tree, depth first, in source order."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        if isinstance(n, A.And | A.Or):
            stack.extend(reversed(n.children))
        elif isinstance(n, A.Not):
            stack.append(n.child)


# -- evt.type restriction -------------------------------------------------------------------------------

EvtSet = tuple[bool, frozenset[str]]  # (complemented, names): (True, {}) is "every event"
_ALL: EvtSet = (True, frozenset())


_NONE: EvtSet = (False, frozenset())
_UINT = re.compile(r"[0-9]+\Z")


def evttypes(node: A.Node, dialect: Dialect = DEFAULT_DIALECT) -> EvtSet:
    """The event types a condition can match, like libsinsp's ppm_event_codes(ast)."""
    return _may(node, dialect.evt_num_invariants)[0]


def _evt_num_invariant(node: A.BinaryCheck) -> EvtSet | None:
    """libs 891c837d3 (`evaluate_field_invariant`, ppm_codes.cpp): `evt.num` starts at 1, so a check on a
    bare `evt.num` against an unsigned literal may be known false (no event) or known true (every event).
    None when undecided. Literals follow tryparseu64 closely enough for decimal numbers; anything else
    (hex, signs) is left undecided."""
    if not (isinstance(node.field, A.FieldRef) and node.field.name == "evt.num" and node.field.arg is None):
        return None
    op = node.op
    if op == "in":
        if not isinstance(node.value, A.ValueList):
            return None
        if all(_UINT.match(v.text) and int(v.text) == 0 for v in node.value.items):
            return _NONE
        return None
    if not isinstance(node.value, A.Value) or not _UINT.match(node.value.text):
        return None
    n = int(node.value.text)
    if (op in ("=", "==", "<=") and n == 0) or (op == "<" and n <= 1):
        return _NONE
    if (op in ("!=", ">") and n == 0) or (op == ">=" and n <= 1):
        return _ALL
    return None


def _may(node: A.Node, invariants: bool = False) -> tuple[EvtSet, EvtSet]:
    """(event types where `node` may be true, event types where it may be false)."""
    if isinstance(node, A.And | A.Or):
        pairs = [_may(c, invariants) for c in node.children]
        t, f = pairs[0]
        for ct, cf in pairs[1:]:
            if isinstance(node, A.And):
                t, f = _and(t, ct), _or(f, cf)
            else:
                t, f = _or(t, ct), _and(f, cf)
        return t, f
    if isinstance(node, A.Not):
        t, f = _may(node.child, invariants)
        return f, t
    if invariants and isinstance(node, A.BinaryCheck):
        known = _evt_num_invariant(node)
        if known is not None:
            return (known, _ALL if known == _NONE else _NONE)
    if (
        isinstance(node, A.BinaryCheck)
        and isinstance(node.field, A.FieldRef)
        and node.field.name == "evt.type"
        and node.field.arg is None
    ):
        names: frozenset[str] | None = None
        if node.op in ("=", "==", "!=") and isinstance(node.value, A.Value):
            names = frozenset({node.value.text})
        elif node.op == "in" and isinstance(node.value, A.ValueList):
            names = frozenset(v.text for v in node.value.items)
        if names is not None:
            pos, neg = (False, names), (True, names)
            return (neg, pos) if node.op == "!=" else (pos, neg)
    return _ALL, _ALL


def _and(a: EvtSet, b: EvtSet) -> EvtSet:
    if not a[0] and not b[0]:
        return (False, a[1] & b[1])
    if not a[0]:
        return (False, a[1] - b[1])
    if not b[0]:
        return (False, b[1] - a[1])
    return (True, a[1] | b[1])


def _or(a: EvtSet, b: EvtSet) -> EvtSet:
    if not a[0] and not b[0]:
        return (False, a[1] | b[1])
    if not a[0]:
        return (True, b[1] - a[1])
    if not b[0]:
        return (True, a[1] - b[1])
    return (True, a[1] & b[1])


def too_many_evttypes(tree: A.Expr, dialect: Dialect = DEFAULT_DIALECT) -> bool:
    """True when Falco would warn LOAD_NO_EVTTYPE: more than 100 event codes (each event type name counts
    as its enter and exit codes; a complement counts as every event) or, before Falco master 188630e2
    (rule_loader_compiler.cpp, after 0.44.1: "an empty set means the condition is statically
    unsatisfiable"), no event type at all."""
    complemented, names = evttypes(tree, dialect)
    if complemented:
        return True
    if not names:
        return not dialect.no_evttype_warning_when_empty
    return 2 * len(names) > EVTTYPE_LIMIT
