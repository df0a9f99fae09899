"""Falco rule output templates: split into literal text and `%field` tokens, check the fields, render.

Tokenising follows libsinsp's event formatter: a leading `*` is a flag (print even when values are
missing), not text; every `%` starts a field, optionally after a width (`%20proc.name`) and inside
transformers (`%tolower(proc.name)`); the field is the longest known field name the text starts with
(so `%proc.namex` is `proc.name` then `x`), plus its `[arg]` or `.arg` where the field takes one. There
is no `%%` escape: a `%` not followed by a field is an "invalid formatting token"
(LOAD_ERR_COMPILE_OUTPUT). `%container.info` is deprecated: Falco removes it from rule outputs before
checking them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from falcotui.falco.rules.condition_lex import TRANSFORMERS
from falcotui.falco.rules.fields import DOTTED_ARG_FIELDS, FieldCatalog, default_catalog

CONTAINER_INFO = "%container.info"
NA = "<NA>"
_DOTTED_ARG = re.compile(r"\.([A-Za-z0-9_]+)")
_NAME_RUN = re.compile(r"[A-Za-z0-9_.]+")
_CALLS = tuple((name, name + "(") for name in TRANSFORMERS)


@dataclass(frozen=True, slots=True)
class OutputToken:
    """A piece of a template. Literal text has `field=None`; a `%field` token carries the key Falco
    uses for it in `output_fields` (`proc.aname[2]`, `evt.arg.flags`, `tolower(proc.name)`)."""

    offset: int
    text: str
    field: str | None = None
    name: str | None = None
    arg: str | None = None
    transformers: tuple[str, ...] = ()
    width: int = 0

    @property
    def is_field(self) -> bool:
        return self.field is not None


@dataclass(frozen=True, slots=True)
class _Scan:
    tokens: tuple[OutputToken, ...]
    problems: tuple[tuple[int, str], ...]


def parse_output(text: str, catalog: FieldCatalog | None = None) -> list[OutputToken]:
    """Literal and field tokens in order; a `%` that starts no field stays literal text."""
    return list(_scan(text, _catalog(catalog)).tokens)


def check_output(text: str, catalog: FieldCatalog | None = None) -> list[tuple[int, str]]:
    """(offset, message) for each spot Falco's formatter rejects (unknown or misused fields)."""
    return list(_scan(text, _catalog(catalog)).problems)


def render_output(text: str, values: Mapping[str, str], catalog: FieldCatalog | None = None) -> str:
    """The template with each field replaced by `values[key]`, `<NA>` when missing."""
    parts = []
    for token in _scan(text, _catalog(catalog)).tokens:
        if token.field is None:
            parts.append(token.text)
        elif token.text != CONTAINER_INFO:
            value = values.get(token.field, NA)
            # Falco pads or cuts a value to the token's width (`%20proc.name`).
            parts.append(value.ljust(token.width)[: token.width] if token.width else value)
    return "".join(parts)


def _catalog(catalog: FieldCatalog | None) -> FieldCatalog:
    return default_catalog() if catalog is None else catalog


@lru_cache(maxsize=512)
def _scan(text: str, catalog: FieldCatalog) -> _Scan:
    tokens: list[OutputToken] = []
    problems: list[tuple[int, str]] = []
    literal_start = pos = 1 if text.startswith("*") else 0
    end = len(text)
    if not text:
        problems.append((0, "empty formatting token"))

    def flush(upto: int) -> None:
        if upto > literal_start:
            tokens.append(OutputToken(literal_start, text[literal_start:upto]))

    while (pos := text.find("%", pos)) != -1:
        start = pos
        if pos == end - 1:
            problems.append((pos, "invalid formatting syntax: formatting cannot end with a %"))
            break
        pos += 1
        digits = pos
        while pos < end and "0" <= text[pos] <= "9":
            pos += 1
        width = int(text[digits:pos]) if pos > digits else 0
        if pos == end:
            problems.append((start, "invalid formatting syntax: formatting cannot end with a number"))
            break
        transformers = []
        while True:
            call = next((c for c in _CALLS if text.startswith(c[1], pos)), None)
            if call is None:
                break
            transformers.append(call[0])
            pos += len(call[1])
        field = _match_field(text, pos, catalog)
        if field is None:
            problems.append((start, f"invalid formatting token {text[pos:]}"))
            pos = start + 1
            continue
        name, arg, field_end = field
        key = text[pos:field_end]
        if name != CONTAINER_INFO[1:]:
            bracketed = key.endswith("]")
            problem = catalog.check_output(name, arg) if bracketed else catalog.check_output(key)
            if problem is not None:
                problems.append((start, problem))
        pos = field_end
        for _ in transformers:
            if not text.startswith(")", pos):
                problems.append((pos, f"missing closing transformer parenthesis: {text[pos:]}"))
                break
            pos += 1
        for name_ in reversed(transformers):
            key = f"{name_}({key})"
        flush(start)
        tokens.append(OutputToken(start, text[start:pos], key, name, arg, tuple(transformers), width))
        literal_start = pos
    flush(end)
    return _Scan(tuple(tokens), tuple(problems))


def _match_field(text: str, pos: int, catalog: FieldCatalog) -> tuple[str, str | None, int] | None:
    """(field name, argument, end offset) of the longest known field starting at `pos`."""
    run = _NAME_RUN.match(text, pos)
    names = _names(catalog)
    best = None
    if run is not None:
        word = run[0]
        best = next((word[:n] for n in range(len(word), 0, -1) if word[:n] in names), None)
    if best is None:
        if text.startswith(CONTAINER_INFO[1:], pos):
            return CONTAINER_INFO[1:], None, pos + len(CONTAINER_INFO) - 1
        return None
    info = catalog.lookup(best)
    end = pos + len(best)
    if info is None or info.arg == "none":
        return best, None, end
    if text.startswith("[", end):
        close = text.find("]", end + 1)
        if close != -1:
            return best, text[end + 1 : close], close + 1
    if best in DOTTED_ARG_FIELDS:
        match = _DOTTED_ARG.match(text, end)
        if match:
            return best, match[1], match.end()
    return best, None, end


@lru_cache(maxsize=8)
def _names(catalog: FieldCatalog) -> frozenset[str]:
    return frozenset(catalog.names())
