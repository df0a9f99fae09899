"""Compile the collected lists, macros and rules as Falco's rule_loader::compiler does, minus the filters.

Per rule: exceptions become `and not (...)` clauses, lists are substituted, the condition is parsed,
macros expanded, fields checked against the catalog, the output's `%fields` checked, and the evt.type
restriction worked out (LOAD_NO_EVTTYPE). Unused macros and lists are reported when nothing failed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from falcotui.falco.rules import ast as A
from falcotui.falco.rules import results as R
from falcotui.falco.rules.checks import DEPRECATED_FIELDS, check_compiled_node, too_many_evttypes, walk
from falcotui.falco.rules.collector import (
    Collector,
    ExceptionInfo,
    LoadError,
    RuleInfo,
    is_operator_for_list,
)
from falcotui.falco.rules.condition import parse_condition
from falcotui.falco.rules.condition_lex import ConditionSyntaxError
from falcotui.falco.rules.dialect import DEFAULT_DIALECT, Dialect
from falcotui.falco.rules.fields import FieldCatalog
from falcotui.falco.rules.output_format import check_output
from falcotui.falco.rules.resolve import (
    Composed,
    Condition,
    Expansion,
    MacroResolver,
    Problem,
    append_fixed,
    compose,
    expand_lists,
    quote_item,
    substitute_lists,
    wrap,
)
from falcotui.falco.rules.results import Context, Location

NA_VALUE = "<NA>"
_NA_UNSAFE_PREFIXES = ("ka.", "jevt.")
_EQUALITY_OPS = frozenset({"=", "==", "!=", "in", "intersects", "pmatch"})
# Falco's parser stops at the first error; after a syntax error falcotui still reports unknown fields
# written in field position (`name op`), outside quotes.
_QUOTED = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'")
_FIELD_POSITION = re.compile(
    r"(?:(?<=^)|(?<=[\s(]))([a-zA-Z][\w-]*(?:\.[\w-]+)+(?:\[[^\]]*\])?)\s*"
    r"(?:==|=|!=|<=|>=|<|>|\b(?:b?contains|icontains|b?startswith|endswith|i?glob|regex|in|intersects"
    r"|pmatch|exists)\b)"
)

Emit = Callable[[R.Severity, str, str, Context], None]


@dataclass(slots=True)
class CompiledRule:
    info: RuleInfo
    tree: A.Expr
    text: str


@dataclass(slots=True)
class CompileOutput:
    macros: dict[str, Condition] = field(default_factory=dict)
    rule_conditions: dict[str, Condition] = field(default_factory=dict)
    macro_trees: dict[str, A.Expr] = field(default_factory=dict)
    rules: list[CompiledRule] = field(default_factory=list)
    lists: dict[str, list[str]] = field(default_factory=dict)


def _cond_ctx(cond: Condition, offset: int, base: Context, texts: Mapping[str, R.TextIndex]) -> Context:
    file, index = cond.composed.locate(offset, texts)
    text = cond.composed.text
    name = '"' + (text[:17] + '..."' if len(text) > 20 else text + '"')
    name = name.replace("\n", " ").replace("\r", " ")
    return (*base, Location(R.CONDITION_EXPRESSION, "", file, index, display_name=name))


@lru_cache(maxsize=8192)
def parse_cached(text: str, dialect: Dialect = DEFAULT_DIALECT) -> A.Expr | ConditionSyntaxError:
    """Parse trees are immutable, so re-validating while the operator types reuses every unchanged
    condition (the default rules' macros above all)."""
    try:
        return parse_condition(text, dialect=dialect)
    except ConditionSyntaxError as exc:
        return exc


def exception_clauses(
    c: Composed, exceptions: list[ExceptionInfo], dialect: Dialect = DEFAULT_DIALECT
) -> Composed:
    """Falco's build_rule_exception_infos: `(cond) and not (...)` per exception with values; a value for
    a list operator or (0.44+) a compound one like `startswith oneof` is wrapped in parentheses."""
    c = wrap(c, "(", ")")
    for ex in exceptions:
        if not ex.fields.is_list:
            vals = []
            for val in ex.values:
                if val.is_list:
                    raise LoadError(
                        "LOAD_ERR_VALIDATE", "Expected values array to contain a list of strings", ex.ctx
                    )
                vals.append(quote_item(val.item))
            icond = f"({ex.fields.item} {ex.comps.item} ({', '.join(vals)}))" if vals else ""
        else:
            ors = []
            for values in ex.values:
                if len(ex.fields.items) != len(values.items):
                    raise LoadError(
                        "LOAD_ERR_VALIDATE", "Fields and values lists must have equal length", ex.ctx
                    )
                ands = []
                for k, fld in enumerate(ex.fields.items):
                    value = values.items[k]
                    comp = ex.comps.items[k].item
                    if value.is_list:
                        istr = "(" + ", ".join(quote_item(v.item) for v in value.items) + ")"
                    elif is_operator_for_list(comp, dialect):
                        istr = value.item if value.item.startswith("(") else f"({value.item})"
                    else:
                        istr = quote_item(value.item)
                    ands.append(f" {fld.item} {comp} {istr}")
                ors.append("(" + " and ".join(ands) + ")")
            icond = "(" + " or ".join(ors) + ")" if ors else ""
        if icond:
            loc = ex.ctx[-1]
            c = append_fixed(c, " and not " + icond, loc.file, loc.index)
    return c


class Compiler:
    def __init__(
        self,
        col: Collector,
        catalogs: Mapping[str, FieldCatalog],
        texts: Mapping[str, R.TextIndex],
        emit: Emit,
        dialect: Dialect = DEFAULT_DIALECT,
    ) -> None:
        self.dialect = dialect
        self.col = col
        self.catalogs = catalogs
        self.texts = texts
        self.emit = emit
        self.failed = False
        self._reported: set[tuple[str, str, int, str]] = set()  # a bad macro is reported once

    def error(self, code: str, message: str, ctx: Context) -> None:
        self.failed = True
        self.emit(R.Severity.ERROR, code, message, ctx)

    def warn(self, code: str, message: str, ctx: Context) -> None:
        self.emit(R.Severity.WARNING, code, message, ctx)

    def _once(self, severity: R.Severity, code: str, message: str, ctx: Context) -> None:
        """Report a problem found in a condition once, however many rules share the macro it is in."""
        key = (code, ctx[-1].file, ctx[-1].index, message)
        if severity is R.Severity.ERROR:
            self.failed = True
        if key not in self._reported:
            self._reported.add(key)
            self.emit(severity, code, message, ctx)

    def _parse(self, c: Composed, base: Context, catalog: FieldCatalog | None) -> Condition:
        parsed = parse_cached(c.text, self.dialect)
        if not isinstance(parsed, ConditionSyntaxError):
            return Condition(c, parsed)
        cond = Condition(c, None, (parsed.message, parsed.offset))
        ctx = _cond_ctx(cond, parsed.offset, base, self.texts)
        self.error("LOAD_ERR_COMPILE_CONDITION", parsed.message, ctx)
        if catalog is not None:
            self._scan_fields_after_syntax_error(cond, base, catalog)
        return cond

    def _scan_fields_after_syntax_error(self, cond: Condition, base: Context, catalog: FieldCatalog) -> None:
        text = _QUOTED.sub(lambda m: " " * len(m.group(0)), cond.composed.text)
        for m in _FIELD_POSITION.finditer(text):
            name = m.group(1)
            arg = None
            if name.endswith("]") and "[" in name:
                name, arg = name[:-1].split("[", 1)
            problem = catalog.check_name(name, arg)
            if problem is not None:
                self.error(
                    "LOAD_ERR_COMPILE_CONDITION", problem, _cond_ctx(cond, m.start(1), base, self.texts)
                )

    def compile(self) -> CompileOutput:
        out = CompileOutput()
        col = self.col
        out.lists, used_lists = expand_lists(col.lists)
        ordered_lists = [
            (li.name, out.lists[li.name]) for li in sorted(col.lists.values(), key=lambda x: x.index)
        ]
        syscall_catalog = self.catalogs.get("syscall")
        macros_in_order = sorted(col.macros.values(), key=lambda m: m.index)
        for m in macros_in_order:
            c = substitute_lists(compose(m.parts), ordered_lists, used_lists)
            out.macros[m.name] = self._parse(c, m.ctx, syscall_catalog)
        resolver = MacroResolver(col.macros, out.macros)
        used_macros: set[str] = set()
        for m in macros_in_order:
            exp = resolver.expand(out.macros[m.name], m.visibility, path=(m.name,))
            used_macros |= exp.used_macros
            if self._macro_errors(exp, m.ctx):
                continue
            if exp.tree is not None and not exp.broken_dependency:
                out.macro_trees[m.name] = exp.tree
        for r in sorted(col.rules.values(), key=lambda r: r.index):
            if r.unknown_source:
                continue
            compiled = self._rule(r, ordered_lists, used_lists, resolver, used_macros, out)
            if compiled is not None:
                out.rules.append(compiled)
        if not self.failed:
            for m in macros_in_order:
                if m.name not in used_macros:
                    self.warn("LOAD_UNUSED_MACRO", "Macro not referred to by any other rule/macro", m.ctx)
            for li in sorted(col.lists.values(), key=lambda x: x.index):
                if li.name not in used_lists:
                    self.warn("LOAD_UNUSED_LIST", "List not referred to by any other rule/macro", li.ctx)
        return out

    def _macro_errors(self, exp: Expansion, base: Context) -> bool:
        """Report the first loop, else the first undefined macro (Falco's order); True if any."""
        for kind in ("loop", "undefined"):
            for p in exp.problems:
                if p.kind == kind:
                    self.error("LOAD_ERR_VALIDATE", p.message, _cond_ctx(p.where, p.offset, base, self.texts))
                    return True
        return False

    def _rule(
        self,
        r: RuleInfo,
        ordered_lists: list[tuple[str, list[str]]],
        used_lists: set[str],
        resolver: MacroResolver,
        used_macros: set[str],
        out: CompileOutput,
    ) -> CompiledRule | None:
        catalog = self.catalogs[r.source]
        ok = self._output(r, catalog)
        try:
            c = compose(r.parts)
            if r.exceptions:
                c = exception_clauses(c, r.exceptions, self.dialect)
        except LoadError as exc:
            self.error(exc.code, exc.message, exc.ctx)
            return None
        c = substitute_lists(c, ordered_lists, used_lists)
        cond = self._parse(c, r.ctx, catalog)
        out.rule_conditions[r.name] = cond
        if cond.tree is None:
            return None

        def check_node(node: A.UnaryCheck | A.BinaryCheck, where: Condition, problems: list[Problem]) -> None:
            check_compiled_node(node, where, problems, catalog, self.dialect)

        exp = resolver.expand(cond, None, check_node)
        used_macros |= exp.used_macros
        if self._macro_errors(exp, r.ctx):
            return None
        if exp.broken_dependency or exp.tree is None:
            return None
        # Falco's filter_warning_resolver runs before the filter is compiled: its warnings come first and
        # stay even when the compile fails, once per rule, where the dialect's Falco puts them.
        where = (
            _cond_ctx(cond, 0, r.ctx, self.texts)
            if self.dialect.warnings_at_condition_text
            else (r.parts[0].ctx if r.parts else r.ctx)
        )
        self._na_checks(exp.tree, where)
        for p in exp.problems:
            if p.kind == "deprecated":
                self._once(R.Severity.WARNING, "LOAD_DEPRECATED_ITEM", p.message, where)
        failures = [p for p in exp.problems if p.kind in ("field", "compile")]
        if failures:
            p = failures[0]
            ctx = _cond_ctx(p.where, p.offset, r.ctx, self.texts)
            if r.skip_if_unknown_filter and p.kind == "field":
                self._once(R.Severity.WARNING, "LOAD_UNKNOWN_FILTER", p.message, ctx)
            else:
                self._once(R.Severity.ERROR, "LOAD_ERR_COMPILE_CONDITION", p.message, ctx)
            return None
        for p in exp.problems:
            if p.kind == "warning":
                ctx = _cond_ctx(p.where, p.offset, r.ctx, self.texts)
                self._once(R.Severity.WARNING, "LOAD_COMPILE_CONDITION", p.message, ctx)
        if not ok:
            return None
        if r.source == "syscall" and r.warn_evttypes and too_many_evttypes(exp.tree, self.dialect):
            self.warn(
                "LOAD_NO_EVTTYPE",
                "Rule matches too many evt.type values. This has a significant performance penalty.",
                r.ctx,
            )
        return CompiledRule(r, exp.tree, c.text)

    def _output(self, r: RuleInfo, catalog: FieldCatalog) -> bool:
        if not r.output_parts:
            return True
        c = compose(r.output_parts)
        text = c.text
        base = r.output_parts[0].ctx
        if "%container.info" in text:
            self.warn(
                "LOAD_DEPRECATED_ITEM",
                "%container.info is deprecated and no more useful, and will be dropped by Falco 1.0.0. "
                "The container plugin will automatically add required fields to the output message.",
                r.ctx,
            )
        problems = check_output(text, catalog)
        if problems:
            offset, message = problems[0]
            file, index = c.locate(offset, self.texts)
            ctx = (*base[:-1], Location(base[-1].item_type, "", file, index))
            if r.skip_if_unknown_filter:
                self.warn("LOAD_UNKNOWN_FILTER", message, ctx)
            else:
                self.error("LOAD_ERR_COMPILE_OUTPUT", message, ctx)
            return False
        for name in DEPRECATED_FIELDS:
            if name in text:
                self.warn(
                    "LOAD_DEPRECATED_ITEM",
                    f"usage of deprecated field '{name}' has been detected in the rule output",
                    base,
                )
        return True

    def _na_checks(self, tree: A.Expr, where: Context) -> None:
        for node in walk(tree):
            if (
                isinstance(node, A.BinaryCheck)
                and isinstance(node.field, A.FieldRef)
                and node.field.name.startswith(_NA_UNSAFE_PREFIXES)
                and node.op in _EQUALITY_OPS
            ):
                values = node.value.items if isinstance(node.value, A.ValueList) else (node.value,)
                if any(isinstance(v, A.Value) and v.text == NA_VALUE for v in values):
                    self.warn("LOAD_UNSAFE_NA_CHECK", "", where)
                    return
