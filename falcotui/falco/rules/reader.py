"""Read one rules file into the collector, item by item (Falco's rule_loader::reader).

Each item is decoded with Falco's checks and error texts (LOAD_ERR_YAML_VALIDATE for structure, warnings
for deprecated/unknown things). Unlike Falco, which stops a file at its first error, an item with an error
is skipped and reading goes on, so one pass reports every problem.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial

from yaml.nodes import MappingNode, Node, ScalarNode

from falcotui.falco.rules import results as R
from falcotui.falco.rules import source as Y
from falcotui.falco.rules.collector import (
    Collector,
    ListInfo,
    LoadError,
    MacroInfo,
    RuleInfo,
    RuleUpdate,
)
from falcotui.falco.rules.decode import Decoder, Warn, parse_semver, yaml_error
from falcotui.falco.rules.results import Context

RGX_IDENTIFIER = "([a-zA-Z]+[a-zA-Z0-9_]*)"
RGX_BARESTR = "([^()\"'[:space:]=,]+)"
_IDENTIFIER = re.compile(r"[a-zA-Z]+[a-zA-Z0-9_]*\Z")
_BARESTR = re.compile(r"[^()\"'\s=,]+\Z")
WARNING_APPEND = (
    "'append' key is deprecated. Add an 'append' entry (e.g. 'condition: append') under 'override' instead."
)
WARNING_ENABLED = (
    "The standalone 'enabled' key usage is deprecated. The correct approach requires also a 'replace' "
    "entry under the 'override' key (i.e. 'enabled: replace')."
)
ERROR_OVERRIDE_APPEND = (
    "Keys 'override' and 'append: true' cannot be used together. Add an 'append' entry "
    "(e.g. 'condition: append') under 'override' instead."
)

RULE_APPENDABLE = ("condition", "output", "desc", "tags", "exceptions")
RULE_REPLACEABLE = (
    "condition",
    "output",
    "desc",
    "priority",
    "tags",
    "exceptions",
    "enabled",
    "warn_evttypes",
    "skip-if-unknown-filter",
    "capture",
    "capture_duration",
)

ALLOWED_KEYS: dict[str, frozenset[str]] = {
    R.REQUIRED_ENGINE_VERSION: frozenset({"required_engine_version"}),
    R.REQUIRED_PLUGIN_VERSIONS: frozenset({"required_plugin_versions"}),
    R.LIST: frozenset({"list", "items", "append", "override"}),
    R.MACRO: frozenset({"macro", "condition", "append", "override"}),
    R.RULE: frozenset(
        {
            "rule",
            "desc",
            "condition",
            "output",
            "priority",
            "source",
            "enabled",
            "tags",
            "exceptions",
            "append",
            "override",
            "warn_evttypes",
            "skip-if-unknown-filter",
            "capture",
            "capture_duration",
        }
    ),
}
"""Falco 0.44.0 rule_loader_reader.cpp `expected_*_keys`; anything else draws LOAD_UNKNOWN_KEY (0.44+)."""


class FileReader(Decoder):
    """Reads the items of one file into the collector; errors raise LoadError, one item at a time."""

    def __init__(self, collector: Collector, file: str, warn: Warn, engine_version: tuple[int, int, int]):
        super().__init__(file, warn)
        self.col = collector
        self.engine_version = engine_version
        self.dialect = collector.dialect

    # -- items --------------------------------------------------------------------------------------------

    def read_item(self, item: Node, parent: Context) -> None:
        if not Y.is_map(item):
            raise yaml_error(
                "Unexpected element type. Each element should be a yaml associative array.",
                R.child(parent, R.RULES_CONTENT_ITEM, "", Y.start(item)),
            )
        assert isinstance(item, MappingNode)
        for kind, reader in (
            ("required_engine_version", self._read_engine_version),
            ("required_plugin_versions", self._read_plugin_versions),
            ("list", self._read_list),
            ("macro", self._read_macro),
            ("rule", self._read_rule),
        ):
            if Y.get(item, kind) is not None:
                reader(item, parent)
                return
        self.warn(
            "LOAD_UNKNOWN_ITEM",
            "Unknown top level item",
            R.child(parent, R.RULES_CONTENT_ITEM, "", Y.start(item)),
        )

    def _check_keys(self, item: MappingNode, item_type: str, ctx: Context) -> None:
        """Falco 0.44 warn_unknown_keys, run once the item is read without error, located at the item
        (0.43 has no such warning)."""
        if not self.dialect.unknown_key_warnings:
            return
        allowed = ALLOWED_KEYS[item_type]
        for k, _v in item.value:
            key = k.value if isinstance(k, ScalarNode) else None
            if key not in allowed:
                shown = key if key is not None else "<non-scalar key>"
                self.warn("LOAD_UNKNOWN_KEY", f"Unknown key '{shown}'. The key will be ignored.", ctx)

    def _read_engine_version(self, item: MappingNode, parent: Context) -> None:
        ctx = R.child(parent, R.REQUIRED_ENGINE_VERSION, "", Y.start(item))
        text = self._str(item, "required_engine_version", ctx)
        assert text is not None
        node = Y.get(item, "required_engine_version")
        number = Y.decode_uint(node) if isinstance(node, ScalarNode) else None
        if number is not None:
            version = (self.engine_version[0], number, self.engine_version[2])
        else:
            parsed = parse_semver(text)
            if parsed is None:
                raise yaml_error(
                    f"Unable to parse engine version '{text}' as a semver string. "
                    'Expected "x.y.z" semver format.',
                    ctx,
                )
            version = parsed
        ours = self.engine_version
        if not (ours[0] == version[0] and ours >= version):
            raise LoadError(
                "LOAD_ERR_VALIDATE",
                "Rules require engine version {}, but engine version is {}".format(
                    ".".join(map(str, version)), ".".join(map(str, ours))
                ),
                ctx,
            )
        if self.col.required_engine_version is None or self.col.required_engine_version < version:
            self.col.required_engine_version = version
        self._check_keys(item, R.REQUIRED_ENGINE_VERSION, ctx)

    def _read_plugin_versions(self, item: MappingNode, parent: Context) -> None:
        reqs = Y.get(item, "required_plugin_versions")
        ctx = R.child(parent, R.REQUIRED_PLUGIN_VERSIONS, "", Y.start(reqs))
        if not Y.is_seq(reqs):
            raise yaml_error("Value of required_plugin_versions must be a sequence", ctx)
        assert reqs is not None
        for plugin in reqs.value:
            name, pctx = self._named_entry(
                plugin, ctx, R.REQUIRED_PLUGIN_VERSIONS_ENTRY, "Plugin version must be a mapping"
            )
            version = self._str(plugin, "version", pctx)
            alternatives = [(name, version or "")]
            alts = Y.get(plugin, "alternatives")
            if alts is not None:
                if not Y.is_seq(alts):
                    raise yaml_error("Value of plugin version alternatives must be a sequence", pctx)
                for alt in alts.value:
                    aname, actx = self._named_entry(
                        alt,
                        pctx,
                        R.REQUIRED_PLUGIN_VERSIONS_ALTERNATIVE,
                        "Plugin version alternative must be a mapping",
                    )
                    alternatives.append((aname, self._str(alt, "version", actx) or ""))
            seen: set[str] = set()
            for pname, pver in alternatives:
                if parse_semver(pver) is None:
                    raise LoadError(
                        "LOAD_ERR_VALIDATE", f"Invalid required version '{pver}' for plugin '{pname}'", pctx
                    )
                if pname in seen:
                    raise LoadError(
                        "LOAD_ERR_VALIDATE",
                        f"Defined multiple alternative version requirements for plugin '{pname}'",
                        pctx,
                    )
                seen.add(pname)
            self.col.required_plugins.append(alternatives)
        self._check_keys(
            item, R.REQUIRED_PLUGIN_VERSIONS, R.child(parent, R.REQUIRED_PLUGIN_VERSIONS, "", Y.start(item))
        )

    def _named(self, item: MappingNode, parent: Context, item_type: str) -> tuple[str, Context]:
        """The name under the `list`/`macro`/`rule` key and the item's context."""
        name = self._str(item, item_type, R.child(parent, item_type, "", Y.start(item)))
        assert name is not None
        return name, R.child(parent, item_type, name, Y.start(item))

    def _append_and_overrides(
        self, item: MappingNode, appendable: tuple[str, ...], replaceable: tuple[str, ...], ctx: Context
    ) -> tuple[bool, set[str], set[str]]:
        """The deprecated `append: true` flag and the keys `override` appends and replaces (not both)."""
        append = bool(self._bool(item, "append", ctx))
        if append:
            self.warn("LOAD_DEPRECATED_ITEM", WARNING_APPEND, ctx)
        o_append, o_replace = self._overrides(item, appendable, replaceable, ctx)
        if append and (o_append or o_replace):
            raise yaml_error(ERROR_OVERRIDE_APPEND, ctx)
        return append, o_append, o_replace

    def _read_list(self, item: MappingNode, parent: Context) -> None:
        name, ctx = self._named(item, parent, R.LIST)
        if not _BARESTR.match(name):
            self.warn(
                "LOAD_INVALID_LIST_NAME",
                "List has an invalid name. List names should match a regular expression: " + RGX_BARESTR,
                ctx,
            )
        items = self._seq(item, "items", ctx, optional=False) or []
        append, o_append, _ = self._append_and_overrides(item, ("items",), ("items",), ctx)
        info = ListInfo(name, list(items), ctx)
        if append or "items" in o_append:
            self.col.append_list(info)
        else:
            self.col.define_list(info)
        self._check_keys(item, R.LIST, ctx)

    def _read_macro(self, item: MappingNode, parent: Context) -> None:
        name, ctx = self._named(item, parent, R.MACRO)
        if not _IDENTIFIER.match(name):
            self.warn(
                "LOAD_INVALID_MACRO_NAME",
                "Macro has an invalid name. Macro names should match a regular expression: " + RGX_IDENTIFIER,
                ctx,
            )
        part = self._part(item, "condition", ctx, R.MACRO_CONDITION)
        append, o_append, _ = self._append_and_overrides(item, ("condition",), ("condition",), ctx)
        info = MacroInfo(name, [part], ctx)
        if append or "condition" in o_append:
            self.col.append_macro(info)
        else:
            self.col.define_macro(info)
        self._check_keys(item, R.MACRO, ctx)

    def _read_rule(self, item: MappingNode, parent: Context) -> None:
        name, ctx = self._named(item, parent, R.RULE)
        self._read_rule_body(item, name, ctx)
        self._check_keys(item, R.RULE, ctx)

    def _update_source(self, item: MappingNode, ctx: Context) -> str:
        """Falco's `decode_optional_empty_val(item, "source", ...)`: the source an update names, or ""."""
        node = Y.get(item, "source")
        if node is None or Y.is_null(node):
            return ""
        if not isinstance(node, ScalarNode):
            raise yaml_error(
                "Value is not a scalar value", R.child(ctx, R.VALUE_FOR, "source", Y.start(node))
            )
        return node.value

    def _read_rule_body(self, item: MappingNode, name: str, ctx: Context) -> None:
        source = self._update_source(item, ctx)
        has_append_flag, o_append, o_replace = self._append_and_overrides(
            item, RULE_APPENDABLE, RULE_REPLACEABLE, ctx
        )
        if o_append or o_replace:
            self._read_rule_overrides(item, name, ctx, o_append, o_replace, source)
        elif has_append_flag:  # the legacy `append: true` takes a condition and exceptions
            present = {k for k in ("condition", "exceptions") if Y.get(item, k) is not None}
            upd = self._rule_update(item, name, ctx, present.__contains__, append=True)
            upd.source = source  # Falco sets it whether or not a condition is appended
            self.col.append_rule(upd)
        elif all(Y.get(item, k) is None for k in ("condition", "output", "desc", "priority")):
            enabled = self._bool(item, "enabled", ctx, optional=False)
            self.warn("LOAD_DEPRECATED_ITEM", WARNING_ENABLED, ctx)
            self.col.enable_rule(name, bool(enabled), ctx)
        else:
            info = RuleInfo(name, ctx)
            info.parts = [self._part(item, "condition", ctx, R.RULE_CONDITION)]
            out = self._part(item, "output", ctx, R.RULE_OUTPUT)
            info.output_parts = [out]
            info.desc = self._str(item, "desc", ctx) or ""
            info.priority = self._priority(item, ctx)
            info.source = self._str(item, "source", ctx, optional=True) or "syscall"
            enabled = self._bool(item, "enabled", ctx)
            info.enabled = True if enabled is None else enabled
            warn_evt = self._bool(item, "warn_evttypes", ctx)
            info.warn_evttypes = True if warn_evt is None else warn_evt
            info.skip_if_unknown_filter = bool(self._bool(item, "skip-if-unknown-filter", ctx))
            info.capture = bool(self._bool(item, "capture", ctx))
            info.capture_duration = self._uint(item, "capture_duration", ctx) or 0
            info.tags = list(dict.fromkeys(self._seq(item, "tags", ctx, optional=True) or []))
            info.exceptions = self._exceptions(item, ctx, append=False)
            self.col.define_rule(info, self.warn)

    def _read_rule_overrides(
        self, item: MappingNode, name: str, ctx: Context, o_append: set[str], o_replace: set[str], source: str
    ) -> None:
        expected = {k for k in (*RULE_APPENDABLE, *RULE_REPLACEABLE) if Y.get(item, k) is not None}

        def wants(overrides: set[str], kind: str, key: str) -> bool:
            if key not in overrides:
                return False
            if key not in expected:
                raise yaml_error(
                    f"An {kind} override for '{key}' was specified but '{key}' is not defined", ctx
                )
            expected.discard(key)
            return True

        if o_append:
            wanted = partial(wants, o_append, "append")
            self.col.append_rule(self._rule_update(item, name, ctx, wanted, append=True, source=source))
        if o_replace:
            wanted = partial(wants, o_replace, "replace")
            self.col.replace_rule(self._rule_update(item, name, ctx, wanted, append=False, source=source))
        for key in sorted(expected):
            raise yaml_error(
                f"Unexpected key '{key}': no corresponding entry under 'override' is defined.",
                R.child(ctx, R.OVERRIDE, key, Y.start(Y.get(item, key))),
            )

    def _rule_update(
        self,
        item: MappingNode,
        name: str,
        ctx: Context,
        wants: Callable[[str], bool],
        append: bool,
        source: str = "",
    ) -> RuleUpdate:
        """The keys `wants` picks, read in Falco's order; `append` reads exceptions as appended values.
        The update carries `source` only when it touches the condition, as Falco's reader does."""
        upd = RuleUpdate(name, ctx)
        if wants("condition"):
            upd.source = source
            upd.cond = self._part(item, "condition", ctx, R.RULE_CONDITION)
        if wants("exceptions"):
            upd.exceptions = self._exceptions(item, ctx, append=append)
        if wants("output"):
            upd.output = self._part(item, "output", ctx, R.RULE_OUTPUT)
        if wants("desc"):
            upd.desc = self._str(item, "desc", ctx)
        if wants("tags"):
            upd.tags = self._seq(item, "tags", ctx, optional=True) or []
        if wants("priority"):
            upd.priority = self._priority(item, ctx)
        for key in ("enabled", "warn_evttypes", "skip-if-unknown-filter", "capture"):
            if wants(key):
                setattr(upd, key.replace("-", "_"), self._bool(item, key, ctx, optional=False))
        if wants("capture_duration"):
            upd.capture_duration = self._uint(item, "capture_duration", ctx)
        return upd
