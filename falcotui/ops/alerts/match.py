"""Matching alerts against a parsed AlertQuery: the query compiled once into a chain of small closures.

Semantics: every term must hold; positive terms with the same key are alternatives (`ns:a ns:b`); text
terms each must appear (case-insensitive) in the rule, the output or a field value; identifiers compare
whole values case-insensitively with `*` as a wildcard; `node:` also takes a name's start or its last part
(`node_matches`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from falcotui.falco.alerts import Alert
from falcotui.ops.alerts.store import NAMESPACE_FIELD, POD_FIELD, alert_node

if TYPE_CHECKING:
    from falcotui.ops.alerts.query import AlertQuery, Term

#: `(alert, channels it came through) -> bool`
Predicate = Callable[[Alert, tuple[str, ...]], bool]
_Getter = Callable[[Alert, tuple[str, ...]], Iterable[str | None]]


def _value_test(value: str) -> Callable[[str | None], bool]:
    want = value.lower()
    if "*" in want:
        pattern = re.compile(".*".join(re.escape(p) for p in want.split("*")), re.DOTALL)
        return lambda got: got is not None and pattern.fullmatch(got.lower()) is not None
    return lambda got: got is not None and got.lower() == want


def node_matches(pattern: str, node: str | None) -> bool:
    """Whether `node` is what `node:PATTERN` means: the name itself, a name starting with it
    (`ip-10-0-1` → every node of that subnet), or its end after a `-`, `.` or `_` (`03` → `sim-node-03`);
    with `*` the pattern is a wildcard over the whole name. Case-insensitive."""
    if node is None:
        return False
    want, got = pattern.lower(), node.lower()
    if "*" in want:
        return _value_test(want)(got)
    return got.startswith(want) or got.endswith(("-" + want, "." + want, "_" + want))


def _field(name: str) -> _Getter:
    def get(alert: Alert, _channels: tuple[str, ...]) -> tuple[str | None]:
        value = alert.output_fields.get(name)
        return (None if value is None else value if isinstance(value, str) else str(value),)

    return get


def _text_contains(needle: str) -> Predicate:
    want = needle.lower()

    def test(alert: Alert, _channels: tuple[str, ...]) -> bool:
        if want in alert.rule.lower() or want in alert.output.lower():
            return True
        return any(
            want in (v if isinstance(v, str) else str(v)).lower() for v in alert.output_fields.values()
        )

    return test


_GETTERS: dict[str, _Getter] = {
    "ns": _field(NAMESPACE_FIELD),
    "pod": _field(POD_FIELD),
    "tag": lambda a, _c: a.tags,
    "source": lambda a, _c: (a.source,),
    "channel": lambda _a, c: c,
}


def _term_test(term: Term) -> Predicate:
    if term.key == "text":
        return _text_contains(term.value)
    if term.key == "rule":
        want = term.value.lower()
        return lambda a, _c: want in a.rule.lower()
    if term.key == "rule=":
        want = term.value
        return lambda a, _c: a.rule == want
    if term.key == "node":
        pattern = term.value
        return lambda a, _c: node_matches(pattern, alert_node(a))
    if term.key == "node=":
        exact = term.value.lower()
        return lambda a, _c: (alert_node(a) or "").lower() == exact
    getter = _GETTERS.get(term.key) or _field(term.key)
    test = _value_test(term.value)
    return lambda a, c: any(test(v) for v in getter(a, c))


def compile_query(query: AlertQuery, now_ns: int | None) -> Predicate:
    """A predicate `(alert, channels) -> bool` for `query`; relative windows resolved against `now_ns`."""
    checks: list[Predicate] = []
    hi = 7 if query.least_severe is None else int(query.least_severe)
    lo = 0 if query.most_severe is None else int(query.most_severe)
    if (lo, hi) != (0, 7):
        checks.append(lambda a, _c: lo <= a.priority <= hi)
    t_lo, t_hi = query.time_bounds(now_ns)
    if t_lo is not None:
        checks.append(lambda a, _c: a.time_ns >= t_lo)
    if t_hi is not None:
        checks.append(lambda a, _c: a.time_ns <= t_hi)
    alternatives: dict[str, list[Predicate]] = {}
    for term in query.terms:
        test = _term_test(term)
        if term.negated:
            checks.append(lambda a, c, t=test: not t(a, c))
        elif term.key == "text":
            checks.append(test)
        else:
            alternatives.setdefault(term.key.rstrip("="), []).append(test)
    for tests in alternatives.values():
        if len(tests) == 1:
            checks.append(tests[0])
        else:
            checks.append(lambda a, c, ts=tuple(tests): any(t(a, c) for t in ts))
    if not checks:
        return lambda _a, _c: True
    if len(checks) == 1:
        return checks[0]
    all_checks = tuple(checks)
    return lambda a, c: all(check(a, c) for check in all_checks)
