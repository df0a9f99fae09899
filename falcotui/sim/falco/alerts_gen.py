"""Turn a loaded rule into the alert a real Falco would print for it: rendered output, JSON or text line,
honouring falco.yaml's output options (`json_output`, `json_include_*`, `time_format_iso_8601`,
`append_output`)."""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import orjson

from falcotui.falco.config_loader import AppendOutput
from falcotui.falco.rules.fields import default_catalog
from falcotui.falco.rules.output_format import CONTAINER_INFO, NA, parse_output
from falcotui.sim.falco.alert_pool import PooledAlert, Stamp, TimeForms
from falcotui.sim.falco.conditions import Alternative, alternatives, realize
from falcotui.sim.falco.config import FalcoConfig
from falcotui.sim.falco.node import metadata_fields
from falcotui.sim.falco.rules_api import LoadedRule
from falcotui.sim.falco.ruleset import canonical_priority
from falcotui.sim.falco.workloads import Workload, activity, activity_kind, fill_fields, node_workloads

#: Alerts rendered in full per activity kind before a node re-stamps them (see falco_alert_pool); 0 renders
#: every alert in full (what a bench sets to measure the old cost).
LINE_POOL = 256

_NUMERIC_TYPES = frozenset(
    {"UINT64", "UINT32", "UINT16", "UINT8", "INT64", "INT32", "INT16", "INT8", "PORT", "RELTIME", "ABSTIME"}
)


@dataclass(frozen=True, slots=True)
class OutputOptions:
    json_output: bool = False
    include_output: bool = True
    include_message: bool = False
    include_output_fields: bool = True
    include_tags: bool = True
    iso8601: bool = False
    #: `append_output` entries and the suggested-output fields of the loaded plugins
    append: tuple[AppendOutput, ...] = ()
    suggested: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, cfg: FalcoConfig) -> OutputOptions:
        return cls(
            json_output=cfg.flag("json_output", False),
            include_output=cfg.flag("json_include_output_property", True),
            include_message=cfg.flag("json_include_message_property", False),
            include_output_fields=cfg.flag("json_include_output_fields_property", True),
            include_tags=cfg.flag("json_include_tags_property", True),
            iso8601=cfg.flag("time_format_iso_8601", False),
            append=tuple(cfg.append_output),
            suggested=cfg.suggested_fields(),
        )

    def extra_output(self, rule: LoadedRule) -> list[str]:
        """What Falco appends to this rule's output (see LoadedConfig.extra_output)."""
        return [
            f
            for a in self.append
            if a.applies(rule.name, rule.source, rule.tags)
            for f in a.formats(self.suggested)
        ]

    def extra_fields(self, rule: LoadedRule) -> list[tuple[str, str | None]]:
        return [
            f for a in self.append if a.applies(rule.name, rule.source, rule.tags) for f in a.extra_fields
        ]


@dataclass(slots=True)
class Emitted:
    """One alert as Falco emits it: the stdout line plus the parts a gRPC response carries."""

    line: str
    time_ns: int
    rule: str
    priority: str
    source: str
    hostname: str
    output: str
    tags: tuple[str, ...]
    output_fields: dict[str, Any] = field(default_factory=dict)


def iso_time(time_ns: int) -> str:
    """`2026-11-26T09:02:17.120004511Z`."""
    secs, frac = divmod(time_ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


def _evt_time(time_ns: int, iso8601: bool) -> str:
    secs, frac = divmod(time_ns, 1_000_000_000)
    if iso8601:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}+0000"
    return time.strftime("%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}"


@dataclass(frozen=True, slots=True)
class CompiledOutput:
    """A rule's output template as a `str.format` string plus the fields it needs, in order."""

    priority: str
    fmt: str
    order: tuple[str, ...]  # field of each `{}` in fmt
    names: tuple[str, ...]  # the `output_fields` keys, sorted (evt.time included)
    numeric: frozenset[str]  # the keys whose JSON value is a number


@lru_cache(maxsize=1024)
def compile_output(template: str, priority: str) -> CompiledOutput:
    """Tokenised by the project's output-format parser, so fields split exactly as Falco's formatter does."""
    parts: list[str] = []
    order: list[str] = []
    for token in parse_output(template):
        if token.field is None:
            parts.append(token.text.replace("{", "{{").replace("}", "}}"))
        elif token.text != CONTAINER_INFO:
            parts.append("{}")
            order.append(token.field)
    names = tuple(sorted({*order, "evt.time"}))
    numeric = frozenset(n for n in names if n != "evt.time" and _numeric(n))
    return CompiledOutput(priority, "".join(parts), tuple(order), names, numeric)


@lru_cache(maxsize=4096)
def _numeric(name: str) -> bool:
    info = default_catalog().lookup(name)
    return info is not None and info.type in _NUMERIC_TYPES


def _as_number(value: Any) -> Any:
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except ValueError:
        return str(value)


class AlertGenerator:
    """Alerts for one Falco instance: its hostname, its loaded rules, its output options, its RNG."""

    def __init__(
        self,
        hostname: str,
        rules: Sequence[LoadedRule],
        options: OutputOptions,
        rng: random.Random,
        workloads: Sequence[Workload] | None = None,
        *,
        container_metadata: bool = True,
        pool: int | None = None,
    ) -> None:
        self.hostname = hostname
        self.pool_size = LINE_POOL if pool is None else pool
        self._pools: dict[str | None, list[PooledAlert]] = {}
        self._times = TimeForms(options.iso8601)
        # False: no runtime socket reachable, so only the kernel's container fields have values
        self.container_metadata = container_metadata
        self.options = options
        self.rng = rng
        self.workloads: list[Workload] = list(workloads) if workloads else node_workloads(rng)
        self.rules = [r for r in rules if r.source == "syscall"]
        self._by_kind: dict[str, list[LoadedRule]] = {}
        self._templates: dict[str, CompiledOutput] = {}
        self._alternatives: dict[str, list[Alternative]] = {}
        # append_output extra_fields: key -> compiled format (formatted) or None (raw field `key`)
        self._extra_fields: dict[str, list[tuple[str, CompiledOutput | None]]] = {}
        for r in self.rules:
            self._alternatives[r.name] = alternatives(r.condition) if r.condition is not None else [{}]
            self._by_kind.setdefault(activity_kind(r.name, r.tags), []).append(r)
            body = r.output.strip()
            # rule_loader_compiler.cpp: each extra format is appended after a space; the suggested
            # container/k8s fields reach alerts only this way (the default rules never name them).
            extras = options.extra_output(r)
            if extras:
                body = " ".join([body, *extras])
            self._templates[r.name] = compile_output(body, canonical_priority(r.priority) or r.priority)
            self._extra_fields[r.name] = [
                (key, compile_output(fmt, "") if fmt is not None else None)
                for key, fmt in options.extra_fields(r)
            ]

    def pick(self, kind: str | None = None) -> LoadedRule | None:
        """A rule of the preferred activity kind (`shell`, `sensitive_read`, ...), else any rule."""
        pool = self._by_kind.get(kind or "") or self.rules
        return self.rng.choice(pool) if pool else None

    def next_alert(self, kind: str | None, time_ns: int) -> Emitted | None:
        """The next alert of an activity kind (None: any rule): rendered in full until the kind's pool has
        `pool_size` of them, then one of those re-stamped with `time_ns` (None if no rule is loaded)."""
        pool = self._pools.get(kind)
        if pool is None:
            pool = self._pools[kind] = []
        if len(pool) < self.pool_size:
            rule = self.pick(kind)
            if rule is None:
                return None
            emitted = self.alert(rule, time_ns)
            pool.append(self._keep(emitted))
            return emitted
        if not pool:
            rule = self.pick(kind)
            return None if rule is None else self.alert(rule, time_ns)
        p = pool[self.rng.randrange(len(pool))]
        forms = self._times.all(time_ns)
        fields = dict(p.fields)
        fields["evt.time"] = time_ns
        for key, stamp in p.stamped:
            fields[key] = stamp.fill(forms)
        return Emitted(
            p.line.fill(forms),
            time_ns,
            p.rule,
            p.priority,
            p.source,
            self.hostname,
            p.output.fill(forms),
            p.tags,
            fields,
        )

    def next_line(self, kind: str | None, time_ns: int) -> str | None:
        """`next_alert(kind, time_ns).line`, without building the rest when the alert is re-stamped (a
        Falco without gRPC prints the line only); the same alerts in the same order as next_alert."""
        pool = self._pools.get(kind)
        if pool is None or len(pool) < self.pool_size or not pool:
            emitted = self.next_alert(kind, time_ns)
            return None if emitted is None else emitted.line
        return pool[self.rng.randrange(len(pool))].line.fill(self._times.all(time_ns))

    def _keep(self, e: Emitted) -> PooledAlert:
        forms = self._times.all(e.time_ns)
        stamped = tuple(
            (k, st)
            for k, v in e.output_fields.items()
            if k != "evt.time" and isinstance(v, str) and (st := Stamp(v, forms)).stamped
        )
        return PooledAlert(
            Stamp(e.line, forms),
            Stamp(e.output, forms),
            e.rule,
            e.priority,
            e.source,
            e.tags,
            e.output_fields,
            stamped,
        )

    def alert(self, rule: LoadedRule, time_ns: int) -> Emitted:
        c = self._templates[rule.name]
        rng = self.rng
        w = rng.choice(self.workloads)
        values: dict[str, Any] = activity(activity_kind(rule.name, rule.tags), rng)
        fitted = realize(rng.choice(self._alternatives[rule.name]), rng)
        old_fd = values.get("fd.name")
        values.update(fitted)
        if "proc.cmdline" not in fitted and isinstance(old_fd, str) and "fd.name" in fitted:
            values["proc.cmdline"] = str(values.get("proc.cmdline", "")).replace(
                old_fd, str(fitted["fd.name"])
            )
        stamp = _evt_time(time_ns, self.options.iso8601)
        values["evt.time"] = stamp  # as %evt.time renders; output_fields carries the integer
        extra = self._extra_fields[rule.name]
        names = [*c.names, *(n for k, e in extra for n in (e.names if e else (k,)) if n != "evt.time")]
        fill_fields(names, values, w, rng)
        if not self.container_metadata:
            for name in metadata_fields(names):
                values[name] = None  # see falco_node.KERNEL_CONTAINER_FIELDS
        rendered = c.fmt.format(*[NA if (v := values[n]) is None else v for n in c.order])
        output = f"{stamp}: {c.priority} {rendered}"
        numeric = c.numeric
        # a field without a value is JSON null in output_fields (libs eventformatter.cpp, tojson)
        fields = {
            n: None if v is None else _as_number(v) if n in numeric else v if isinstance(v, str) else str(v)
            for n in c.names
            for v in (values[n],)
        }
        fields["evt.time"] = time_ns
        for key, compiled in extra:  # formats.cpp: extra fields go to output_fields only
            if compiled is None:
                value = values.get(key)
                fields[key] = None if value is None else _as_number(value) if _numeric(key) else str(value)
            else:
                fields[key] = compiled.fmt.format(
                    *[NA if (v := values[n]) is None else v for n in compiled.order]
                )
        return self._emit(time_ns, rule.name, c.priority, rule.source, output, rendered, rule.tags, fields)

    def internal(self, rule: str, message: str, time_ns: int, priority: str = "Critical") -> Emitted:
        """An internal event (`source: internal`), e.g. `Falco internal: hot restart failure`."""
        return self._emit(time_ns, rule, priority, "internal", message, message, None, {})

    def _emit(
        self,
        time_ns: int,
        rule: str,
        priority: str,
        source: str,
        output: str,
        message: str,
        tags: tuple[str, ...] | None,
        fields: dict[str, Any],
    ) -> Emitted:
        opts = self.options
        if opts.json_output and source == "internal":
            # falco_outputs::handle_msg builds internal events with fixed keys, whatever the json_include_*
            # options say: output (the bare message), priority, rule, time, output_fields, hostname, source
            # (userspace/falco/falco_outputs.cpp, tag 0.43.1)
            doc = {
                "hostname": self.hostname,
                "output": output,
                "output_fields": fields,
                "priority": priority,
                "rule": rule,
                "source": source,
                "time": iso_time(time_ns),
            }
            line = orjson.dumps(doc).decode()
        elif opts.json_output:
            doc: dict[str, Any] = {"hostname": self.hostname}
            if opts.include_message:
                doc["message"] = message
            if opts.include_output:
                doc["output"] = output
            doc["priority"] = priority
            doc["rule"] = rule
            doc["source"] = source
            if opts.include_tags and tags is not None:
                doc["tags"] = sorted(tags)
            doc["time"] = iso_time(time_ns)
            if opts.include_output_fields:
                doc["output_fields"] = fields
            line = orjson.dumps(doc).decode()
        elif source == "internal":
            line = f"{_evt_time(time_ns, opts.iso8601)}: {priority} {output}"
        else:
            line = output
        return Emitted(
            line, time_ns, rule, priority, source, self.hostname, output, tuple(tags or ()), fields
        )
