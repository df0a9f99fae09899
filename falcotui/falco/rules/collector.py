"""The collection of lists, macros and rules as several files load into it (Falco's rule_loader::collector).

Definitions, `append`/`override: append` and `override: replace` are applied in load order; every
definition or update bumps a global counter that drives Falco's visibility rules (a macro sees the
macros defined before its last definition; rules see all of them).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields

from yaml.nodes import ScalarNode

from falcotui.falco.rules.dialect import DEFAULT_DIALECT, MODIFIABLE_OPERATORS, MODIFIERS, Dialect
from falcotui.falco.rules.results import Context

SUPPORTED_OPERATORS = frozenset(
    {
        "=",
        "==",
        "!=",
        "<=",
        ">=",
        "<",
        ">",
        "contains",
        "bcontains",
        "icontains",
        "startswith",
        "bstartswith",
        "endswith",
        "glob",
        "iglob",
        "pmatch",
        "in",
        "intersects",
        "exists",
        "regex",
    }
)
LIST_OPERATORS = frozenset({"in", "intersects", "pmatch"})
ERROR_SINGLE_FIELD_COMPS = "When fields is a single value, comps must be one of (in, pmatch, intersects)"
# Falco 0.44.0 rule_loader_collector.cpp validate_exception_info, once modifiers exist.
ERROR_SINGLE_FIELD_COMPS_MODIFIERS = (
    "When fields is a single value, comps must be one of "
    "(in, pmatch, intersects) or a modifier operator (e.g. startswith oneof)"
)
ERROR_DIFFERENT_SOURCE = "Rule has been re-defined with a different source"

ERROR_NO_PREVIOUS_MACRO = (
    "Macro uses 'append' or 'override.condition: append' but no macro by that name already exists"
)
ERROR_NO_PREVIOUS_LIST = (
    "List uses 'append' or 'override.items: append' but no list by that name already exists"
)
ERROR_NO_PREVIOUS_RULE_APPEND = (
    "Rule uses 'append' or 'override.<key>: append' but no rule by that name already exists"
)
ERROR_NO_PREVIOUS_RULE_REPLACE = (
    "An 'override.<key>: replace' to a rule was requested but no rule by that name already exists"
)

_FIELD_WITH_ARG = re.compile(r"([^\[\s]+)(?:\[(.*)\])?\Z")
# The RuleUpdate attributes an `override: replace` copies onto the rule unchanged (same name on both).
_REPLACED_AS_IS = ("desc", "priority", "enabled", "warn_evttypes", "skip_if_unknown_filter", "capture",
                   "capture_duration")  # fmt: skip


class LoadError(Exception):
    """Falco's rule_load_exception: one error that stops the item being read or compiled."""

    def __init__(self, code: str, message: str, ctx: Context) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ctx = ctx


def validate_error(cond: bool, message: str, ctx: Context) -> None:
    if cond:
        raise LoadError("LOAD_ERR_VALIDATE", message, ctx)


@dataclass(slots=True)
class Part:
    """A piece of condition or output text and the YAML scalar it came from (for positions)."""

    text: str
    node: ScalarNode | None
    file: str
    ctx: Context


@dataclass(slots=True)
class Entry:
    """An exception's fields/comps/values entry: a string or a list of entries."""

    is_list: bool = False
    item: str = ""
    items: list[Entry] = field(default_factory=list)
    defined: bool = False

    @property
    def valid(self) -> bool:
        return (self.is_list and bool(self.items)) or (not self.is_list and bool(self.item))


@dataclass(slots=True)
class ExceptionInfo:
    name: str
    ctx: Context
    fields: Entry = field(default_factory=Entry)
    comps: Entry = field(default_factory=Entry)
    values: list[Entry] = field(default_factory=list)


@dataclass(slots=True)
class ListInfo:
    name: str
    items: list[str]
    ctx: Context
    index: int = 0
    visibility: int = 0


@dataclass(slots=True)
class MacroInfo:
    name: str
    parts: list[Part]
    ctx: Context
    index: int = 0
    visibility: int = 0


@dataclass(slots=True)
class RuleInfo:
    name: str
    ctx: Context
    parts: list[Part] = field(default_factory=list)
    output_parts: list[Part] = field(default_factory=list)
    desc: str = ""
    priority: str = "Debug"
    source: str = "syscall"
    tags: list[str] = field(default_factory=list)
    exceptions: list[ExceptionInfo] = field(default_factory=list)
    enabled: bool = True
    warn_evttypes: bool = True
    skip_if_unknown_filter: bool = False
    capture: bool = False
    capture_duration: int = 0
    unknown_source: bool = False
    index: int = 0
    visibility: int = 0


@dataclass(slots=True)
class RuleUpdate:
    """The keys an `append`/`override` item carries; None means "not given"."""

    name: str
    ctx: Context
    source: str = ""  # Falco sets it only with a condition (or a legacy `append: true`); "" matches any
    cond: Part | None = None
    output: Part | None = None
    desc: str | None = None
    tags: list[str] | None = None
    exceptions: list[ExceptionInfo] | None = None
    priority: str | None = None
    enabled: bool | None = None
    warn_evttypes: bool | None = None
    skip_if_unknown_filter: bool | None = None
    capture: bool | None = None
    capture_duration: int | None = None

    def has_any_value(self) -> bool:
        skip = ("name", "ctx", "source")
        return any(getattr(self, f.name) is not None for f in fields(self) if f.name not in skip)


FieldDefined = Callable[[str, str], bool]  # (source, field text) -> is the field known


def split_field(text: str) -> tuple[str, str | None]:
    """`proc.aname[2]` -> ("proc.aname", "2")."""
    m = _FIELD_WITH_ARG.match(text.strip())
    if not m:
        return text.strip(), None
    return m.group(1), m.group(2)


def is_str_operator_with_modifier(op: str) -> bool:
    """Falco 0.44 `is_str_operator_with_modifier` (rule_loader_cmpop.h): `startswith oneof`, `== anyof`;
    libs' str_to_cmpop_with_modifier splits at the first space, so `startswith  oneof` is not one."""
    base, space, modifier = op.partition(" ")
    return bool(space) and base in MODIFIABLE_OPERATORS and modifier in MODIFIERS


def is_operator_for_list(op: str, dialect: Dialect = DEFAULT_DIALECT) -> bool:
    """Falco's is_operator_for_list (rule_loader_compiler.cpp): the list operators and, from 0.44, the
    compound operators, whose exception values are wrapped in parentheses."""
    return op in LIST_OPERATORS or (dialect.modifiers and is_str_operator_with_modifier(op))


def _normalize_comp(comp: Entry, dialect: Dialect) -> None:
    """Falco 0.44 normalize_comp: surrounding ASCII whitespace is stripped from a comp (not in 0.43)."""
    if dialect.modifiers:
        comp.item = comp.item.strip(" \t\r\n")


def validate_exception(
    ex: ExceptionInfo, source: str | None, field_defined: FieldDefined, dialect: Dialect = DEFAULT_DIALECT
) -> None:
    """Falco's validate_exception_info, filling in default comps."""
    if ex.fields.is_list:
        if not ex.comps.valid:
            ex.comps = Entry(is_list=True, items=[Entry(item="=") for _ in ex.fields.items], defined=True)
        validate_error(
            len(ex.fields.items) != len(ex.comps.items),
            "Fields and comps lists must have equal length",
            ex.ctx,
        )
        for comp in ex.comps.items:
            _normalize_comp(comp, dialect)
            validate_error(
                comp.item not in SUPPORTED_OPERATORS
                and not (dialect.modifiers and is_str_operator_with_modifier(comp.item)),
                f"'{comp.item}' is not a supported comparison operator",
                ex.ctx,
            )
        if source is not None:
            for f in ex.fields.items:
                validate_error(
                    not field_defined(source, f.item), f"'{f.item}' is not a supported filter field", ex.ctx
                )
    else:
        if not ex.comps.valid:
            ex.comps = Entry(item="in", defined=True)
        validate_error(ex.comps.is_list, "Fields and comps must both be strings", ex.ctx)
        _normalize_comp(ex.comps, dialect)
        validate_error(
            not is_operator_for_list(ex.comps.item, dialect),
            ERROR_SINGLE_FIELD_COMPS_MODIFIERS if dialect.modifiers else ERROR_SINGLE_FIELD_COMPS,
            ex.ctx,
        )
        if source is not None:
            validate_error(
                not field_defined(source, ex.fields.item),
                f"'{ex.fields.item}' is not a supported filter field",
                ex.ctx,
            )


class Collector:
    """Lists, macros and rules in definition order, with Falco's define/append/replace semantics."""

    def __init__(
        self, sources: frozenset[str], field_defined: FieldDefined, dialect: Dialect = DEFAULT_DIALECT
    ) -> None:
        self.dialect = dialect
        self.lists: dict[str, ListInfo] = {}
        self.macros: dict[str, MacroInfo] = {}
        self.rules: dict[str, RuleInfo] = {}
        self.sources = sources
        self.field_defined = field_defined
        self._counter = 0
        self.required_engine_version: tuple[int, int, int] | None = None
        self.required_plugins: list[list[tuple[str, str]]] = []

    def _next(self) -> int:
        n = self._counter
        self._counter += 1
        return n

    def _define(self, table: dict, info: ListInfo | MacroInfo | RuleInfo) -> None:
        n = self._next()
        prev = table.get(info.name)
        info.index = prev.index if prev is not None else n
        info.visibility = n
        table[info.name] = info  # a redefinition keeps its place in the ordering

    def define_list(self, info: ListInfo) -> None:
        self._define(self.lists, info)

    def append_list(self, info: ListInfo) -> None:
        prev = self.lists.get(info.name)
        validate_error(prev is None, ERROR_NO_PREVIOUS_LIST, info.ctx)
        assert prev is not None
        prev.items.extend(info.items)
        prev.visibility = self._next()

    def define_macro(self, info: MacroInfo) -> None:
        self._define(self.macros, info)

    def append_macro(self, info: MacroInfo) -> None:
        prev = self.macros.get(info.name)
        validate_error(prev is None, ERROR_NO_PREVIOUS_MACRO, info.ctx)
        assert prev is not None
        prev.parts.extend(info.parts)
        prev.visibility = self._next()

    def define_rule(self, info: RuleInfo, warn: Callable[[str, str, Context], None]) -> None:
        self._find_prev_rule(info.name, info.source, info.ctx)
        known = info.source in self.sources
        if not known:
            info.unknown_source = True
            warn("LOAD_UNKNOWN_SOURCE", f"Unknown source {info.source}, skipping", info.ctx)
        self._validate_exceptions(info.exceptions, info.source if known else None)
        self._define(self.rules, info)

    def _find_prev_rule(self, name: str, source: str, ctx: Context) -> RuleInfo | None:
        """Falco's find_prev_rule: a rule by that name; an error when both it and the new item name a
        source and they differ (an update without a `source`, or one that only touches exceptions,
        output, tags..., applies across sources)."""
        prev = self.rules.get(name)
        validate_error(
            prev is not None and prev.source != "" and source != "" and prev.source != source,
            ERROR_DIFFERENT_SOURCE,
            ctx,
        )
        return prev

    def _validate_exceptions(self, exceptions: list[ExceptionInfo], source: str | None) -> None:
        """A rule's own (not appended) exceptions, as Falco checks them; fills in default comps."""
        for ex in exceptions:
            validate_error(
                not ex.fields.valid,
                "Rule exception item must have fields property with a list of fields",
                ex.ctx,
            )
            validate_exception(ex, source, self.field_defined, self.dialect)

    def append_rule(self, upd: RuleUpdate) -> None:
        prev = self._find_prev_rule(upd.name, upd.source, upd.ctx)
        validate_error(prev is None, ERROR_NO_PREVIOUS_RULE_APPEND, upd.ctx)
        validate_error(
            not upd.has_any_value(), "Appended rule must have exceptions or condition property", upd.ctx
        )
        assert prev is not None
        source = None if prev.unknown_source else prev.source
        if upd.cond is not None and upd.cond.text:
            prev.parts.append(upd.cond)
        if upd.output is not None and upd.output.text:
            prev.output_parts.append(upd.output)
        if upd.desc:
            prev.desc = f"{prev.desc} {upd.desc}"
        if upd.tags is not None:
            prev.tags.extend(t for t in upd.tags if t not in prev.tags)
        for ex in upd.exceptions or ():
            existing = next((e for e in prev.exceptions if e.name == ex.name), None)
            if existing is None:
                validate_error(
                    not ex.fields.valid,
                    "Rule exception must have fields property with a list of fields",
                    ex.ctx,
                )
                validate_error(
                    not ex.values, "Rule exception must have values property with a list of values", ex.ctx
                )
                validate_exception(ex, source, self.field_defined, self.dialect)
                prev.exceptions.append(ex)
            else:
                validate_error(
                    ex.fields.valid,
                    "Can not append exception fields to existing exception, only values",
                    ex.ctx,
                )
                validate_error(
                    ex.comps.valid,
                    "Can not append exception comps to existing exception, only values",
                    ex.ctx,
                )
                existing.values.extend(ex.values)
        prev.visibility = self._next()

    def replace_rule(self, upd: RuleUpdate) -> None:
        prev = self._find_prev_rule(upd.name, upd.source, upd.ctx)
        validate_error(prev is None, ERROR_NO_PREVIOUS_RULE_REPLACE, upd.ctx)
        validate_error(
            not upd.has_any_value(), "The rule must have at least one field that can be replaced", upd.ctx
        )
        assert prev is not None
        if upd.exceptions is not None:
            # Falco skips this check here and its compiler then reads past the comps; we report instead.
            self._validate_exceptions(upd.exceptions, None if prev.unknown_source else prev.source)
        if upd.cond is not None:
            prev.parts = [upd.cond]
        if upd.output is not None:
            prev.output_parts = [upd.output]
        if upd.tags is not None:
            prev.tags = list(upd.tags)
        if upd.exceptions is not None:
            prev.exceptions = list(upd.exceptions)
        for attr in _REPLACED_AS_IS:
            value = getattr(upd, attr)
            if value is not None:
                setattr(prev, attr, value)
        prev.visibility = self._next()

    def enable_rule(self, name: str, enabled: bool, ctx: Context) -> None:
        prev = self.rules.get(name)
        validate_error(prev is None, "Rule has 'enabled' key but no rule by that name already exists", ctx)
        assert prev is not None
        prev.enabled = enabled
