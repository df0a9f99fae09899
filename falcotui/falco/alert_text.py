"""Falco's text-mode alerts (`json_output: false`): `<time>: <Priority> <output>` lines, and recognising
which rule produced one from the rules' output templates."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence

from falcotui.falco.alerts import (
    PRIORITY_WORD,
    TEXT_TIME,
    Alert,
    AlertParseError,
    Priority,
    excerpt,
    parse_iso8601_ns,
)

_NS = 1_000_000_000
_TEXT_ALERT = re.compile(rf"({TEXT_TIME}): ({PRIORITY_WORD}) (.*)", re.DOTALL)
_OUTPUT_TOKEN = re.compile(r"%(\w+\([^)]*\)|[A-Za-z_][\w.]*\w(?:\[[^\]]*\])?|[A-Za-z_])")

RuleTemplate = tuple[str, "Priority | str", str]


class OutputTemplates:
    """Rules' output templates compiled for recognising which rule produced a text-mode alert.

    `appended` is the `extra_output` Falco adds after every rule's output (falco.yaml `append_output`,
    e.g. the container plugin's `container_id=%container.id ...`); lines with and without it match.
    """

    def __init__(self, rules: Iterable[RuleTemplate], *, appended: str | None = None) -> None:
        self._by_priority: dict[Priority, list[tuple[str, list[str], list[str], int]]] = {}
        for name, priority, template in rules:
            prio = priority if isinstance(priority, Priority) else Priority.parse(priority)
            variants = [template.strip()]
            if appended:
                variants.append(f"{variants[0]} {appended.strip()}")
            for variant in variants:
                parts = _OUTPUT_TOKEN.split(variant)
                literals, fields = parts[0::2], parts[1::2]
                score = sum(len(s) for s in literals)
                if score == 0:
                    continue  # a template of fields alone would claim every line
                self._by_priority.setdefault(prio, []).append((name, literals, fields, score))

    def match(self, priority: Priority, message: str) -> tuple[str, dict[str, str]] | None:
        """The rule whose template fits `message` best (most literal text matched) and its field values."""
        best: tuple[int, str, dict[str, str]] | None = None
        for name, literals, fields, score in self._by_priority.get(priority, ()):
            if best is not None and score <= best[0]:
                continue
            values = _fit(literals, fields, message)
            if values is not None:
                best = (score, name, values)
        return (best[1], best[2]) if best else None


def _fit(literals: list[str], fields: list[str], message: str) -> dict[str, str] | None:
    # Left-to-right str.find: linear time whatever the (attacker-controlled) values contain. The last
    # literal is searched from the right because Falco may append fields after the rule's own output.
    if not message.startswith(literals[0]):
        return None
    pos = len(literals[0])
    values: dict[str, str] = {}
    last = len(literals) - 1
    for i in range(1, last + 1):
        lit = literals[i]
        if i == last:
            at = message.rfind(lit, pos) if lit else len(message)
        else:
            at = message.find(lit, pos)
        if at < 0:
            return None
        values.setdefault(fields[i - 1], message[pos:at])
        pos = at + len(lit)
    return values


def parse_text_alert(
    line: str,
    *,
    rules: OutputTemplates | Sequence[RuleTemplate] | None = None,
    hostname: str = "",
    node: str | None = None,
    pod: str | None = None,
    reference_ns: int | None = None,
) -> Alert:
    """Parse a `json_output: false` alert line `<time>: <Priority> <output>`.

    The time is `13:44:05.478445995` (a time of day, UTC; the date is the one that puts it nearest to
    `reference_ns`, default now) or a full ISO 8601 time (`time_format_iso_8601: true`). The rule name is
    not in the line: it is inferred from `rules` (templates as `(name, priority, output)`; compile once with
    OutputTemplates for many lines) and left empty when none fits. Raises AlertParseError.
    """
    line = line.rstrip("\r\n")
    m = _TEXT_ALERT.fullmatch(line)
    if m is None:
        raise AlertParseError(
            f"not a Falco text alert (expected '<time>: <Priority> <output>'): {excerpt(line)}"
        )
    time_text, prio_text, message = m.groups()
    priority = Priority.parse(prio_text)
    if time_text[2] != ":":
        try:
            time_ns = parse_iso8601_ns(time_text)
        except ValueError as exc:
            raise AlertParseError(f"malformed text alert: {exc}") from None
    else:
        time_ns = _time_of_day_ns(time_text, reference_ns)
    rule, fields = "", {}
    if rules is not None:
        templates = rules if isinstance(rules, OutputTemplates) else OutputTemplates(rules)
        found = templates.match(priority, message)
        if found is not None:
            rule, fields = found
    return Alert(time_ns, priority, rule, line, "", hostname, fields, (), node, pod, "log")


def _time_of_day_ns(text: str, reference_ns: int | None) -> int:
    hms, _, frac = text.partition(".")
    h, mi, s = (int(x) for x in hms.split(":"))
    if h > 23 or mi > 59 or s > 60:
        raise AlertParseError(f"malformed text alert: time of day out of range: {text!r}")
    of_day = (h * 3600 + mi * 60 + s) * _NS + (int(frac.ljust(9, "0")) if frac else 0)
    ref = time.time_ns() if reference_ns is None else reference_ns
    midnight = ref - ref % (86400 * _NS)
    return min((midnight + d * 86400 * _NS + of_day for d in (-1, 0, 1)), key=lambda t: abs(t - ref))
