"""Decode rules-file YAML values the way Falco's reader does: yaml-cpp `decode_val` semantics, Falco's
LOAD_ERR_YAML_VALIDATE texts and contexts, priorities, overrides and rule exceptions."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

from yaml.nodes import MappingNode, Node, ScalarNode

from falcotui.falco.rules import results as R
from falcotui.falco.rules import source as Y
from falcotui.falco.rules.collector import Entry, ExceptionInfo, LoadError, Part
from falcotui.falco.rules.results import Context

_SEMVER = re.compile(r"\s*(\d+)\.(\d+)\.(\d+)")

PRIORITIES = ("Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug")
_PRIORITY_BY_NAME = {p.lower(): p for p in PRIORITIES} | {"info": "Informational"}

Warn = Callable[[str, str, Context], None]
T = TypeVar("T")


def parse_priority(text: str) -> str | None:
    """Falco's parse_priority: case-insensitive, `info` accepted for Informational."""
    return _PRIORITY_BY_NAME.get(text.strip().lower())


def parse_semver(text: str) -> tuple[int, int, int] | None:
    m = _SEMVER.match(text)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def yaml_error(message: str, ctx: Context) -> LoadError:
    return LoadError("LOAD_ERR_YAML_VALIDATE", message, ctx)


class Decoder:
    """Value decoding for the items of one file; `warn` records warnings, errors raise LoadError."""

    def __init__(self, file: str, warn: Warn) -> None:
        self.file = file
        self.warn = warn

    # -- scalar decoding (yaml-cpp decode_val semantics) -------------------------------------------------

    def _value(self, item: MappingNode, key: str, ctx: Context, optional: bool = False) -> ScalarNode | None:
        val = Y.get(item, key)
        if val is None:
            if optional:
                return None
            raise yaml_error(f"Item has no mapping for key '{key}'", ctx)
        if Y.is_null(val):
            raise yaml_error(f"Mapping for key '{key}' is empty", ctx)
        vctx = R.child(ctx, R.VALUE_FOR, key, Y.start(val))
        if not isinstance(val, ScalarNode):
            raise yaml_error("Value is not a scalar value", vctx)
        if val.value == "":
            raise yaml_error("Value must be non-empty", vctx)
        return val

    def _str(self, item: MappingNode, key: str, ctx: Context, optional: bool = False) -> str | None:
        node = self._value(item, key, ctx, optional)
        return None if node is None else node.value

    def _decoded(
        self,
        item: MappingNode,
        key: str,
        ctx: Context,
        decode: Callable[[ScalarNode], T | None],
        optional: bool,
    ) -> T | None:
        """The scalar at `key` read by `decode` (None when it is absent and optional); a scalar `decode`
        cannot read is an error, as libs' `decode_val` throws."""
        node = self._value(item, key, ctx, optional)
        if node is None:
            return None
        value = decode(node)
        if value is None:
            raise yaml_error("Can't decode YAML scalar value", R.child(ctx, R.VALUE_FOR, key, Y.start(node)))
        return value

    def _bool(self, item: MappingNode, key: str, ctx: Context, optional: bool = True) -> bool | None:
        return self._decoded(item, key, ctx, Y.decode_bool, optional)

    def _uint(self, item: MappingNode, key: str, ctx: Context) -> int | None:
        return self._decoded(item, key, ctx, Y.decode_uint, True)

    def _named_entry(
        self, node: Node, ctx: Context, item_type: str, not_a_mapping: str, named_in: Context | None = None
    ) -> tuple[str, Context]:
        """A named mapping in a sequence, read as Falco's reader reads one: under `ctx` without a name while
        it must be a mapping (else `not_a_mapping`) with a scalar `name`; then its context with the name,
        under `named_in` (default `ctx`)."""
        unnamed = R.child(ctx, item_type, "", Y.start(node))
        if not isinstance(node, MappingNode):
            raise yaml_error(not_a_mapping, unnamed)
        name = self._str(node, "name", unnamed) or ""
        return name, R.child(ctx if named_in is None else named_in, item_type, name, Y.start(node))

    def _seq(self, item: MappingNode, key: str, ctx: Context, optional: bool) -> list[str] | None:
        val = Y.get(item, key)
        if val is None:
            if optional:
                return None
            raise yaml_error(f"Item has no mapping for key '{key}'", ctx)
        vctx = R.child(ctx, R.VALUE_FOR, key, Y.start(val))
        if not Y.is_seq(val):
            raise yaml_error("Value is not a sequence", vctx)
        out = []
        for v in val.value:
            if not isinstance(v, ScalarNode):
                raise yaml_error("sequence value is not scalar", R.child(vctx, R.LIST_ITEM, "", Y.start(v)))
            out.append(v.value)
        return out

    def _part(self, item: MappingNode, key: str, ctx: Context, item_type: str) -> Part:
        node = self._value(item, key, ctx)
        assert node is not None
        return Part(node.value, node, self.file, R.child(ctx, item_type, "", Y.start(node)))

    def _priority(self, item: MappingNode, ctx: Context) -> str:
        text = self._str(item, "priority", ctx)
        assert text is not None
        prio = parse_priority(text)
        if prio is None:
            node = Y.get(item, "priority")
            raise yaml_error("Invalid priority", R.child(ctx, R.RULE_PRIORITY, "", Y.start(node)))
        return prio

    def _overrides(
        self, item: MappingNode, appendable: tuple[str, ...], replaceable: tuple[str, ...], ctx: Context
    ) -> tuple[set[str], set[str]]:
        val = Y.get(item, "override")
        out_append: set[str] = set()
        out_replace: set[str] = set()
        if not Y.is_map(val):
            return out_append, out_replace
        assert isinstance(val, MappingNode)
        octx = R.child(ctx, R.OVERRIDE, "", Y.start(item))
        for k, v in val.value:
            key = k.value if isinstance(k, ScalarNode) else ""
            op = v.value if isinstance(v, ScalarNode) else ""
            can_append = key in appendable
            can_replace = key in replaceable
            if op == "append":
                if not can_append:
                    raise yaml_error(
                        f"Key '{key}' cannot be appended to, use 'replace' instead",
                        R.child(octx, R.OVERRIDE, key, Y.start(k)),
                    )
                out_append.add(key)
            elif op == "replace":
                if not can_replace:
                    raise yaml_error(
                        f"Key '{key}' cannot be replaced", R.child(octx, R.OVERRIDE, key, Y.start(k))
                    )
                out_replace.add(key)
            else:
                allowed = ("append " if can_append else "") + ("replace " if can_replace else "")
                raise yaml_error(
                    f"Invalid override operation for key '{key}': '{op}'. Allowed values are: {allowed}",
                    R.child(octx, R.VALUE_FOR, key, Y.start(v)),
                )
        return out_append, out_replace

    # -- exceptions ---------------------------------------------------------------------------------------

    def _entry(self, node: Node | None, key: str, ctx: Context, optional: bool) -> Entry:
        if node is None:
            if optional:
                return Entry()
            raise yaml_error(f"Item has no mapping for key '{key}'", ctx)
        vctx = R.child(ctx, R.VALUE_FOR, key, Y.start(node))
        if isinstance(node, ScalarNode):
            if node.value == "" and not Y.is_null(node):
                raise yaml_error("Value must be non-empty", vctx)
            return Entry(is_list=False, item=node.value if not Y.is_null(node) else "", defined=True)
        if Y.is_seq(node):
            items = [
                self._entry(v, "", R.child(vctx, R.EXCEPTION, "", Y.start(v)), optional=False)
                for v in node.value
            ]
            return Entry(is_list=True, items=items, defined=True)
        return Entry(defined=True)

    def _exceptions(self, item: MappingNode, parent: Context, append: bool) -> list[ExceptionInfo]:
        exs = Y.get(item, "exceptions")
        if exs is None or Y.is_null(exs):
            return []
        exes_ctx = R.child(parent, R.EXCEPTIONS, "", Y.start(exs))
        if not Y.is_seq(exs):
            raise yaml_error("Rule exceptions must be a sequence", exes_ctx)
        out: list[ExceptionInfo] = []
        for ex in exs.value:
            name, ex_ctx = self._named_entry(
                ex, exes_ctx, R.EXCEPTION, "Rule exception must be a mapping", parent
            )
            info = ExceptionInfo(name, ex_ctx)
            if any(e.name == name for e in out):
                self.warn(
                    "LOAD_EXCEPTION_NAME_NOT_UNIQUE",
                    f"Multiple definitions of exception '{name}' in the same rule",
                    ex_ctx,
                )
            info.fields = self._entry(Y.get(ex, "fields"), "fields", ex_ctx, optional=append)
            info.comps = self._entry(Y.get(ex, "comps"), "comps", ex_ctx, optional=True)
            vals = Y.get(ex, "values")
            if vals is not None:
                vals_ctx = R.child(ex_ctx, R.EXCEPTION_VALUES, "", Y.start(vals))
                if not Y.is_seq(vals):
                    raise yaml_error("Rule exception values must be a sequence", vals_ctx)
                for v in vals.value:
                    vctx = R.child(vals_ctx, R.EXCEPTION_VALUE, "", Y.start(v))
                    info.values.append(self._entry(v, "", vctx, optional=False))
            elif append:
                self.warn("LOAD_APPEND_NO_VALUES", "Overriding/appending exception with no values", ex_ctx)
            out.append(info)
        return out
