"""Alert filter queries: the filter-bar language operators type, parsed into an AlertQuery that matches.

Syntax (whitespace separates terms; every term must hold, repeated keys are alternatives):

    priority>=warning node:ip-10-0-1-23 ns:shop rule:"Terminal shell" tag:mitre_* -source:internal shell

- `priority` (`prio`, `p`) with `>=` `>` `<=` `<` `=` `:` and a priority name (`warn`, `crit`, `info` …);
  `>=warning` means Warning or more severe.
- `rule:` is a case-insensitive substring, `rule=` the exact name; `node=` is exactly one node.
- `node:` matches a node name, its start (`node:ip-10-0-1`) or its last part (`node:03` is `sim-node-03`).
- `ns:`/`namespace:` `pod:` (the workload pod, `k8s.pod.name`) `tag:` `source:` `channel:`
  (`log`/`grpc`) and any Falco output field by its dotted name (`proc.name:bash`) compare the whole value,
  case-insensitively; `*` is a wildcard (for `node:` too).
- `since:` / `until:` take a duration back from now (`90s`, `5m`, `1h`, `24h`, `2d`) or an ISO 8601 time.
- a leading `-` negates a term; `!=` is the same as `-key:`.
- anything else is free text: every word must appear (case-insensitive) in the rule, the output or a field
  value; `"quoted phrases"` keep their spaces; quote `"a:b"` to search for text containing a colon.

Bad input raises QueryError with the position of the offending character.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace

from falcotui.falco.alerts import Alert, Priority, format_iso8601_ns, parse_iso8601_ns
from falcotui.ops.alerts.match import Predicate, compile_query, node_matches

_NS = 1_000_000_000

#: The time-window presets the UI offers (label → seconds).
SINCE_PRESETS: dict[str, int] = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "6h": 21600, "24h": 86400}

_KEY_ALIASES = {
    "priority": "priority",
    "prio": "priority",
    "p": "priority",
    "rule": "rule",
    "node": "node",
    "ns": "ns",
    "namespace": "ns",
    "pod": "pod",
    "tag": "tag",
    "tags": "tag",
    "source": "source",
    "channel": "channel",
    "via": "channel",
    "cluster": "cluster",  # the `cluster` output field (Falcosidekick's customfields, or the NATS subject)
    "since": "since",
    "last": "since",
    "until": "until",
}
KEYS = ("priority", "rule", "node", "ns", "pod", "tag", "source", "channel", "cluster", "since", "until")
_EXACT = frozenset({"rule=", "node="})  # keys that compare the whole value
_KEY_OP = re.compile(r"([A-Za-z][\w.-]*?)(>=|<=|!=|:|=|>|<)")
_OPERATOR_START = frozenset(":=<>!")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(\d{1,7})([smhd])", re.IGNORECASE)


class QueryError(ValueError):
    """A filter the parser cannot accept; `position`/`length` point at the offending text (0-based)."""

    def __init__(self, message: str, position: int, length: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.position = position
        self.length = max(1, length)

    def __str__(self) -> str:
        return f"{self.message} (at column {self.position + 1})"

    def caret(self, text: str) -> str:
        """The query and a marker line under the offending part, for a monospace error display."""
        return f"{text}\n{' ' * self.position}{'^' * self.length}"


@dataclass(frozen=True, slots=True)
class Term:
    """One condition: `key` is rule, rule=, node, ns, pod, tag, source, channel, text or a dotted field."""

    key: str
    value: str
    negated: bool = False


@dataclass(frozen=True, slots=True)
class AlertQuery:
    """A parsed filter. Priorities: `most_severe` ≤ priority ≤ `least_severe` in Falco's numbering
    (Emergency = 0), so `priority>=warning` is `least_severe=WARNING`."""

    least_severe: Priority | None = None
    most_severe: Priority | None = None
    terms: tuple[Term, ...] = ()
    since_seconds: int | None = None
    since_ns: int | None = None
    until_seconds: int | None = None
    until_ns: int | None = None

    @property
    def is_empty(self) -> bool:
        return self == EMPTY_QUERY

    @property
    def is_relative(self) -> bool:
        """Whether the time window moves with the clock (alerts age out of a view)."""
        return self.since_seconds is not None or self.until_seconds is not None

    def time_bounds(self, now_ns: int | None = None) -> tuple[int | None, int | None]:
        """(earliest, latest) event time in ns that matches, None for open ends."""
        if self.is_relative and now_ns is None:
            now_ns = time.time_ns()
        lo = self.since_ns if self.since_seconds is None else now_ns - self.since_seconds * _NS  # type: ignore[operator]
        hi = self.until_ns if self.until_seconds is None else now_ns - self.until_seconds * _NS  # type: ignore[operator]
        return lo, hi

    @classmethod
    def from_options(
        cls,
        *,
        min_priority: str | Priority | None = None,
        rule: str | None = None,
        node: str | None = None,
        namespace: str | None = None,
        pod: str | None = None,
        tag: str | None = None,
        text: str | None = None,
        since: str | None = None,
    ) -> AlertQuery:
        """A query from command-line style options (`--min-priority warning --since 10m`); `rule` is a
        substring, the others whole values. Raises QueryError naming the option."""
        given = {"--min-priority": min_priority, "--rule": rule, "--node": node, "--namespace": namespace,
                 "--pod": pod, "--tag": tag, "--since": since}  # fmt: skip
        for option, value in given.items():
            # `--node "$NODE"` with NODE unset must not quietly mean "every node"
            if isinstance(value, str) and not value.strip():
                raise QueryError(f"{option}: empty value (leave the option out for no filter)", 0)
        least = None
        if isinstance(min_priority, Priority):
            least = min_priority
        elif min_priority is not None:
            try:
                least = Priority.parse(min_priority, lenient=True)
            except ValueError as exc:
                raise QueryError(f"--min-priority: {exc}", 0) from None
        terms = tuple(
            Term(key, value)
            for key, value in (("rule", rule), ("node", node), ("ns", namespace), ("pod", pod), ("tag", tag))
            if value
        )
        if text:
            terms += (Term("text", text),)
        since_s = since_ns = None
        if since is not None:
            try:
                since_s, since_ns = _parse_time(since, 0)
            except QueryError as exc:
                raise QueryError(f"--since: {exc.message}", 0) from None
        return cls(least, None, terms, since_s, since_ns)

    def with_since(self, seconds: int | None) -> AlertQuery:
        """This query with a relative window of the last `seconds` (None: no lower bound)."""
        return replace(self, since_seconds=seconds, since_ns=None)

    def with_term(self, key: str, value: str, *, negated: bool = False) -> AlertQuery:
        """This query narrowed by one more term (click-to-filter); `key` as typed (`ns`, `rule=` …)."""
        return parse_query(f"{self.to_text()} {_render_term(Term(_canonical_key(key, 0), value, negated))}")

    def line_gate(self) -> tuple[frozenset[str], int | None] | None:
        """For a query of priority bounds and fixed time bounds alone (no terms, nothing relative, no upper
        time bound): the priorities it lets through as Falco spells them in a JSON alert, and the earliest
        event time (None: any) — what `matcher()` decides, for a consumer that reads those two off a line
        without building an Alert (ops/alerts/relay.py). None for any other query."""
        if self.terms or self.is_relative or self.until_ns is not None:
            return None
        hi = 7 if self.least_severe is None else int(self.least_severe)
        lo = 0 if self.most_severe is None else int(self.most_severe)
        return frozenset(p.label for p in Priority if lo <= p <= hi), self.since_ns

    def matcher(self, *, now_ns: int | None = None) -> Predicate:
        """A predicate `(alert, channels) -> bool` with everything precomputed; relative time windows
        are resolved against `now_ns` (default: now)."""
        return compile_query(self, now_ns)

    def unmatched_nodes(self, nodes: Iterable[str]) -> list[str]:
        """The `node:`/`node=` values of this query that match none of `nodes` (say so rather than show
        nothing)."""
        known = list(nodes)
        lowered = {n.lower() for n in known}

        def matches(t: Term) -> bool:
            return (
                t.value.lower() in lowered
                if t.key == "node="
                else any(node_matches(t.value, n) for n in known)
            )

        return [
            t.value for t in self.terms if t.key in ("node", "node=") and not t.negated and not matches(t)
        ]

    def matches(
        self, alert: Alert, *, channels: tuple[str, ...] | None = None, now_ns: int | None = None
    ) -> bool:
        """Whether `alert` (received through `channels`, default its own channel) passes the filter.
        For many alerts build `matcher()` once."""
        return compile_query(self, now_ns)(alert, channels if channels is not None else (alert.channel,))

    def to_text(self) -> str:
        """The query in filter-bar syntax; `parse_query(q.to_text()) == q`."""
        parts: list[str] = []
        lo, hi = self.least_severe, self.most_severe
        if lo is not None and lo == hi:
            parts.append(f"priority={lo.label.lower()}")
        else:
            if lo is not None:
                parts.append(f"priority>={lo.label.lower()}")
            if hi is not None:
                parts.append(f"priority<={hi.label.lower()}")
        parts.extend(_render_term(t) for t in self.terms)
        for key, seconds, ns in (
            ("since", self.since_seconds, self.since_ns),
            ("until", self.until_seconds, self.until_ns),
        ):
            if seconds is not None:
                parts.append(f"{key}:{format_duration(seconds)}")
            elif ns is not None:
                parts.append(f"{key}:{format_iso8601_ns(ns)}")
        return " ".join(parts)


EMPTY_QUERY = AlertQuery()


def format_duration(seconds: int) -> str:
    """`5m`, `1h`, `90s`: the largest unit that divides `seconds` exactly."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


# ---------------------------------------------------------------- rendering


_SAFE_VALUE = re.compile(r'[^\s"\\]+')


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _render_term(term: Term) -> str:
    sign = "-" if term.negated else ""
    if term.key == "text":
        plain = _SAFE_VALUE.fullmatch(term.value) and not _KEY_OP.match(term.value)
        plain = plain and term.value[0] != "-" and term.value[0] not in _OPERATOR_START
        return sign + (term.value if plain else _quote(term.value))
    key, op = (term.key[:-1], "=") if term.key in _EXACT else (term.key, ":")
    value = term.value if _SAFE_VALUE.fullmatch(term.value) else _quote(term.value)
    return f"{sign}{key}{op}{value}"


# ---------------------------------------------------------------- parsing


def _canonical_key(key: str, pos: int) -> str:
    if key in _EXACT:
        return key
    found = _KEY_ALIASES.get(key.lower())
    if found is not None:
        return found
    if "." in key and key[-1] != ".":
        return key  # a Falco output field, e.g. proc.name
    raise QueryError(
        f"unknown filter key {key!r} (known: {', '.join(KEYS)}, or a Falco field like proc.name; "
        'quote the word, "like:this", to search for it as text)',
        pos,
        len(key),
    )


def _read_quoted(text: str, pos: int) -> tuple[str, int]:
    """The string of the quote at `pos` (escapes `\\"` and `\\\\`) and the position after it."""
    out: list[str] = []
    i = pos + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in '"\\':
            out.append(text[i + 1])
            i += 2
        elif ch == '"':
            return "".join(out), i + 1
        else:
            out.append(ch)
            i += 1
    raise QueryError('unterminated quote: add the closing "', pos, len(text) - pos)


def _read_value(text: str, pos: int) -> tuple[str, int]:
    if pos < len(text) and text[pos] == '"':
        value, end = _read_quoted(text, pos)
    else:
        end = pos
        while end < len(text) and not text[end].isspace():
            if text[end] == '"':
                raise QueryError('a quote inside a word: quote the whole value, key:"a b"', end)
            end += 1
        value = text[pos:end]
    if end < len(text) and not text[end].isspace():
        raise QueryError("expected a space after the quoted value", end)
    return value, end


def _parse_priority(value: str, pos: int) -> Priority:
    try:
        return Priority.parse(value, lenient=True)
    except ValueError:
        names = ", ".join(p.label.lower() for p in Priority)
        raise QueryError(f"unknown priority {value!r} (expected one of {names})", pos, len(value)) from None


def _parse_time(value: str, pos: int) -> tuple[int | None, int | None]:
    """(seconds back from now, None) or (None, absolute ns)."""
    if m := _DURATION.fullmatch(value):
        return int(m[1]) * _UNITS[m[2].lower()], None
    try:
        return None, parse_iso8601_ns(value)
    except (ValueError, OverflowError):
        raise QueryError(
            f"bad time {value!r}: use a duration like 5m, 1h, 24h or an ISO 8601 time", pos, len(value)
        ) from None


class _Builder:
    def __init__(self) -> None:
        self.least: Priority | None = None
        self.most: Priority | None = None
        self.terms: list[Term] = []
        self.times: dict[str, tuple[int | None, int | None]] = {}

    def priority(self, op: str, value: str, negated: bool, pos: int, vpos: int) -> None:
        if negated or op == "!=":
            raise QueryError("a priority cannot be negated: use priority<… or priority>…", pos)
        p = int(_parse_priority(value, vpos))
        lo: int | None = None  # most severe allowed
        hi: int | None = None  # least severe allowed
        if op in (">=", ":", "="):
            hi = p
        if op in ("<=", ":", "="):
            lo = p
        if op == ">":
            hi = p - 1
        if op == "<":
            lo = p + 1
        if (hi is not None and hi < 0) or (lo is not None and lo > 7):
            raise QueryError(f"no priority is {op} {Priority(p).label}", pos, vpos - pos + len(value))
        if self.least is not None:
            hi = int(self.least) if hi is None else min(hi, int(self.least))
        if self.most is not None:
            lo = int(self.most) if lo is None else max(lo, int(self.most))
        if lo is not None and hi is not None and lo > hi:
            raise QueryError("this priority bound excludes every priority the others allow", pos)
        self.most = None if lo is None else Priority(lo)
        self.least = None if hi is None else Priority(hi)

    def build(self, text_pos: int) -> AlertQuery:
        since_s, since_ns = self.times.get("since", (None, None))
        until_s, until_ns = self.times.get("until", (None, None))
        if since_ns is not None and until_ns is not None and since_ns > until_ns:
            raise QueryError("since is after until", text_pos)
        if since_s is not None and until_s is not None and since_s < until_s:
            raise QueryError("since is after until (since:5m until:10m is empty)", text_pos)
        return AlertQuery(self.least, self.most, tuple(self.terms), since_s, since_ns, until_s, until_ns)


def parse_query(text: str) -> AlertQuery:
    """Parse the filter bar's text. Raises QueryError (with a position) for anything it cannot accept."""
    if not isinstance(text, str):
        raise QueryError(f"a filter is text, got {type(text).__name__}", 0)
    b = _Builder()
    i, n = 0, len(text)
    last_pos = 0
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        start = last_pos = i
        negated = text[i] == "-" and i + 1 < n and not text[i + 1].isspace()
        if negated:
            i += 1
        if text[i] == '"':
            value, i = _read_quoted(text, i)
            if i < n and not text[i].isspace():
                raise QueryError("expected a space after the quoted text", i)
            if value:
                b.terms.append(Term("text", value, negated))
            continue
        m = _KEY_OP.match(text, i)
        if m is None:
            if text[i] in _OPERATOR_START:
                raise QueryError(
                    "an operator needs a key before it and no spaces around it (priority>=warning, "
                    'node:NAME); quote it, "like this", to search for it as text',
                    i,
                )
            value, i = _read_value(text, i)
            b.terms.append(Term("text", value, negated))
            continue
        key, op = m[1], m[2]
        vpos = m.end()
        value, i = _read_value(text, vpos)
        if not value:
            raise QueryError(f"{key}{op} needs a value", start, vpos - start)
        canonical = _canonical_key(key, m.start(1))
        if canonical == "priority":
            b.priority(op, value, negated, start, vpos)
            continue
        if op in (">=", "<=", ">", "<"):
            raise QueryError(f"{key} takes ':' or '=', not {op!r}", m.start(2), len(op))
        if canonical in ("since", "until"):
            if negated or op == "!=":
                raise QueryError(f"{canonical} cannot be negated", start)
            if canonical in b.times:
                raise QueryError(f"{canonical} given twice", start, i - start)
            b.times[canonical] = _parse_time(value, vpos)
            continue
        if op == "!=":
            negated = True
        if canonical in ("rule", "node") and op == "=":
            canonical += "="  # rule= and node= are exact; rule: a substring, node: a start or an end
        b.terms.append(Term(canonical, value, negated))
    return b.build(last_pos)
