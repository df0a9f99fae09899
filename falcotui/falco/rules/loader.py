"""Load rules files the way Falco's loader does and return its verdict plus the resolved rules.

`load_rules([(name, text), ...])` reads every file in order into one collection (custom rules on top of
the default rules, as `falco -V a -V b` or `rules_files` do), compiles it, and returns per-file results
with Falco's codes and positions, falcotui's own lints, and the rules as the simulator and UI use them.

Differences from Falco, on purpose: Falco stops a file at its first error and a compile at its first
error; falcotui keeps going item by item so one pass shows every problem (an item with an error is left
out). Compile messages are filed under the file their item lives in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from falcotui.falco.rules import ast as A
from falcotui.falco.rules import results as R
from falcotui.falco.rules import source as Y
from falcotui.falco.rules.collector import Collector, LoadError, split_field
from falcotui.falco.rules.compile import CompileOutput, Compiler
from falcotui.falco.rules.condition import parse_condition
from falcotui.falco.rules.condition_lex import ConditionSyntaxError
from falcotui.falco.rules.decode import PRIORITIES, parse_semver
from falcotui.falco.rules.dialect import DEFAULT_DIALECT, Dialect, dialect_for
from falcotui.falco.rules.fields import FieldCatalog, default_catalog
from falcotui.falco.rules.reader import FileReader
from falcotui.falco.rules.results import FileResult, Message, Severity, TextIndex

DEFAULT_ENGINE_VERSION = DEFAULT_DIALECT.engine_text
"""The rules engine version of the Falco the manifests pin (the default ruleset it ships requires 0.57.0)."""


@dataclass(frozen=True, slots=True)
class ResolvedRule:
    """A rule as loaded: condition with lists substituted and macros expanded."""

    name: str
    priority: str
    priority_level: int  # 0 Emergency ... 7 Debug, Falco's order
    source: str
    tags: tuple[str, ...]
    output: str
    desc: str
    enabled: bool
    condition: A.Expr
    condition_text: str
    file: str
    line: int


@dataclass(slots=True)
class LoadResult:
    files: list[FileResult]
    rules: list[ResolvedRule] = field(default_factory=list)
    lists: dict[str, list[str]] = field(default_factory=dict)
    macros: dict[str, A.Expr] = field(default_factory=dict)
    lints: list[Message] = field(default_factory=list)
    texts: dict[str, TextIndex] = field(default_factory=dict)
    required_engine_version: str | None = None
    required_plugin_versions: list[list[tuple[str, str]]] = field(default_factory=list)
    compiled: CompileOutput | None = None
    dialect: Dialect = DEFAULT_DIALECT

    @property
    def successful(self) -> bool:
        return all(f.successful for f in self.files)

    @property
    def errors(self) -> list[Message]:
        return [m for f in self.files for m in f.errors]

    @property
    def warnings(self) -> list[Message]:
        return [m for f in self.files for m in f.warnings]

    @property
    def messages(self) -> list[Message]:
        """Falco's errors and warnings, then falcotui's lints, each in file/position order."""
        falco = sorted(self.errors + self.warnings, key=_order(self.files))
        return falco + sorted(self.lints, key=_order(self.files))

    def rule(self, name: str) -> ResolvedRule | None:
        return next((r for r in self.rules if r.name == name), None)

    def to_falco_json(self, *, include_lints: bool = True) -> dict[str, object]:
        return R.falco_load_results_json(self.files, self.texts, self.lints if include_lints else ())


def _order(files: Sequence[FileResult]):
    rank = {f.name: i for i, f in enumerate(files)}
    return lambda m: (rank.get(m.file, len(rank)), m.line, m.column, m.severity is not Severity.ERROR)


def _version_tuple(version: str | tuple[int, int, int]) -> tuple[int, int, int]:
    if isinstance(version, tuple):
        return version
    parsed = parse_semver(version)
    if parsed is None:
        raise ValueError(f"engine version {version!r} is not x.y.z")
    return parsed


def load_rules(
    files: Sequence[tuple[str, str]],
    *,
    engine_version: str | tuple[int, int, int] | None = None,
    catalog: FieldCatalog | None = None,
    sources: Mapping[str, FieldCatalog] | None = None,
    lints: bool = True,
    falco_version: str | Dialect = DEFAULT_DIALECT,
) -> LoadResult:
    """Load `(name, text)` files in order into one collection; never raises on bad content.

    `falco_version` is the Falco whose loader is imitated (a version string or a `Dialect`; default: the
    version the manifests pin); `engine_version` overrides its rules engine version. `catalog` is the
    syscall source's field catalog (default: the shipped Falco 0.44 list); `sources` maps every event
    source the engine knows to its catalog (default: just `syscall`).
    """
    dialect = dialect_for(falco_version)
    ev = dialect.engine_version if engine_version is None else _version_tuple(engine_version)
    catalogs: dict[str, FieldCatalog] = dict(sources) if sources is not None else {}
    catalogs.setdefault("syscall", default_catalog() if catalog is None else catalog)

    def field_defined(source: str, text: str) -> bool:
        """Falco's falco_source::is_valid_lhs_field: with a `(`, compile `<text> exists` (a transformed
        field such as `tolower(proc.name)`); otherwise look the field up."""
        cat = catalogs.get(source)
        if cat is None:
            return False
        if "(" in text:
            try:
                tree = parse_condition(text + " exists", dialect=dialect)
            except ConditionSyntaxError:
                return False
            return isinstance(tree, A.UnaryCheck) and cat.check(tree.field) is None
        name, arg = split_field(text)
        return cat.check_name(name, arg) is None

    texts: dict[str, TextIndex] = {}
    results: dict[str, FileResult] = {}
    order: list[FileResult] = []
    for name, text in files:
        texts[name] = TextIndex(name, text)
        res = results.setdefault(name, FileResult(name))
        if res not in order:
            order.append(res)

    def emit(severity: Severity, code: str, message: str, ctx: R.Context) -> None:
        msg = R.make_message(severity, code, message, ctx, texts)
        res = results.get(msg.file) or results[ctx[0].file]
        (res.errors if severity is Severity.ERROR else res.warnings).append(msg)

    col = Collector(frozenset(catalogs), field_defined, dialect)
    for name, text in files:
        _read_file(col, name, text, ev, emit)
    compiler = Compiler(col, catalogs, texts, emit, dialect)
    out = compiler.compile()
    result = LoadResult(order, texts=texts, compiled=out, dialect=dialect)
    result.lists = out.lists
    result.macros = out.macro_trees
    result.required_plugin_versions = col.required_plugins
    if col.required_engine_version is not None:
        result.required_engine_version = ".".join(map(str, col.required_engine_version))
    for compiled in out.rules:
        info = compiled.info
        ctx = info.ctx[-1]
        output = " ".join(p.text for p in info.output_parts).strip()
        result.rules.append(
            ResolvedRule(
                name=info.name,
                priority=info.priority,
                priority_level=PRIORITIES.index(info.priority),
                source=info.source,
                tags=tuple(sorted(info.tags)),
                output=output,
                desc=info.desc,
                enabled=info.enabled,
                condition=compiled.tree,
                condition_text=compiled.text,
                file=ctx.file,
                line=texts[ctx.file].line_col(ctx.index)[0] if ctx.file in texts else 1,
            )
        )
    if lints:
        from falcotui.falco.rules.lints import lint_conditions

        result.lints = lint_conditions(col, out, texts, dialect)
    return result


def _read_file(col: Collector, name: str, text: str, ev: tuple[int, int, int], emit) -> None:
    root = R.root_context(name)

    def warn(code: str, message: str, ctx: R.Context) -> None:
        emit(Severity.WARNING, code, message, ctx)

    docs = Y.compose_documents(text)
    if isinstance(docs, Y.YamlProblem):
        emit(
            Severity.ERROR,
            "LOAD_ERR_YAML_PARSE",
            docs.message,
            (R.Location(R.RULES_CONTENT, "", name, docs.index),),
        )
        return
    reader = FileReader(col, name, warn, ev)
    for doc in docs:
        if Y.is_null(doc):
            continue
        if not (Y.is_map(doc) or Y.is_seq(doc)):
            emit(Severity.ERROR, "LOAD_ERR_YAML_VALIDATE", "Rules content is not yaml", root)
            return
        if not Y.is_seq(doc):
            emit(Severity.ERROR, "LOAD_ERR_YAML_VALIDATE", "Rules content is not yaml array of objects", root)
            return
        for item in doc.value:
            if Y.is_null(item):
                continue
            try:
                reader.read_item(item, root)
            except LoadError as exc:
                emit(Severity.ERROR, exc.code, exc.message, exc.ctx)
