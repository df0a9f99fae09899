"""Classify the lines of a Falco pod's `kubectl logs`: alerts (JSON or text) and Falco's own log lines."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from falcotui.falco.alert_text import OutputTemplates, RuleTemplate, parse_text_alert
from falcotui.falco.alerts import Alert, AlertParseError, epoch_day, parse_iso8601_ns, parse_json_alert


class LineKind(StrEnum):
    ALERT_JSON = "alert_json"  # a JSON alert, parsed into LogLine.alert
    ALERT_TEXT = "alert_text"  # a `json_output: false` alert, parsed into LogLine.alert
    BAD_ALERT = "bad_alert"  # looks like an alert but does not parse; LogLine.error says why
    VERSION = "version"  # "Falco version: 0.45.0 (x86_64)"
    CONFIG_FILES = "config_files"  # "Falco initialized with configuration files:"
    CONFIG_FILE = "config_file"  # a configuration file and its schema validation result
    RULES_LOADING = "rules_loading"  # "Loading rules from:"
    RULES_FILE = "rules_file"  # a rules file and its schema validation result
    SIGHUP = "sighup"  # "SIGHUP received, restarting..." (a hot reload starts)
    ERROR = "error"  # "Error: ..."
    PLUGIN = "plugin"  # "Loaded plugin 'container@0.7.1' from file ..."
    EVENT_SOURCES = "event_sources"  # "Loaded event sources: ..." / "Enabled event sources: ..."
    WEBSERVER = "webserver"  # "Starting health webserver ..., listening on 0.0.0.0:8765"
    GRPC = "grpc"  # "Starting gRPC server at ..."
    HOSTNAME = "hostname"  # "Hostname value has been overridden via environment variable to: node-a"
    # "Opening 'syscall' source with modern BPF probe." (helpers_inspector.cpp): only a real start opens the
    # event sources, a hot reload's dry run stops before (process_events.cpp skips it in dry-run)
    OPENING = "opening"
    OTHER = "other"  # another of Falco's own log lines
    UNKNOWN = "unknown"  # not recognisably Falco's


@dataclass(slots=True)
class LogLine:
    """One classified line. `text` is the line without the Kubernetes and Falco timestamp prefixes."""

    kind: LineKind
    text: str
    k8s_time_ns: int | None = None
    falco_time_ns: int | None = None
    alert: Alert | None = None
    error: str | None = None
    version: str | None = None
    path: str | None = None
    validation: str | None = None  # "ok", or the validation failure Falco printed
    detail: str | None = None  # the hostname, plugin, address, error message or event sources

    @property
    def validation_ok(self) -> bool | None:
        return None if self.validation is None else self.validation == "ok"

    @property
    def sources(self) -> tuple[str, ...]:
        if self.kind is not LineKind.EVENT_SOURCES or not self.detail:
            return ()
        return tuple(s.strip() for s in self.detail.split(",") if s.strip())


_K8S_TS = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})) ")


def split_k8s_timestamp(line: str) -> tuple[int | None, str]:
    """Split the RFC 3339 timestamp `kubectl logs --timestamps` puts before each line (ns, rest)."""
    m = _K8S_TS.match(line)
    if m is None:
        return None, line
    try:
        return parse_iso8601_ns(m[1]), line[m.end() :]
    except ValueError:
        return None, line


_MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
_CTIME_PREFIX = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +(\d{1,2}) "
    r"(\d{2}):(\d{2}):(\d{2}) (\d{4}): "
)
# Falco's logger with `time_format_iso_8601: true` (no fraction, unlike an alert's time).
_ISO_PREFIX = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:Z|[+-]\d{2}:?\d{2})?): ")
_TEXT_ALERT_START = re.compile(
    r"(?:\d{2}:\d{2}:\d{2}\.\d{1,9}|\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}\.\d{1,9}\S*): "
    r"(?i:emergency|alert|critical|error|warning|notice|informational|info|debug) "
)

_VERSION = re.compile(r"Falco version:\s*(\S+)(?:\s+\((.*)\))?")
_LISTED_FILE = re.compile(r"\s+(\S.*?)\s+\|\s+schema validation:\s*(.*)")
_CONFIG_FILE = re.compile(r"Falco initialized with configuration files?:\s*(.*)")
_RULES_FILE = re.compile(r"Loading rules from file\s+(.+?):?")
_PLUGIN = re.compile(r"Loaded plugin '([^']*)' from file\s+(.*)")
_SOURCES = re.compile(r"(?:Loaded|Enabled) event sources:\s*(.*)")
_WEBSERVER = re.compile(r"Starting (?:health )?webserver\b.*?listening on\s+(\S+)")
_GRPC = re.compile(r"Starting gRPC server at\s+(\S+)")
_OPENING = re.compile(r"Opening '([^']*)' source with\b")
_HOSTNAME = re.compile(r"Hostname value has been overridden via environment variable to:\s*(.*)")

Section = Literal["config", "rules"]


class LogLineClassifier:
    """Classifies one pod's log lines in order; remembers which file list ("configuration files" or
    "Loading rules from") an indented file line belongs to."""

    def __init__(
        self,
        *,
        node: str | None = None,
        pod: str | None = None,
        rules: OutputTemplates | Sequence[RuleTemplate] | None = None,
    ) -> None:
        self.node = node
        self.pod = pod
        if rules is not None and not isinstance(rules, OutputTemplates):
            rules = OutputTemplates(rules)
        self._templates = rules
        self._section: Section | None = None

    def classify(self, line: str | bytes, ts_ns: int | None = None) -> LogLine:
        """One line, with the kubelet's `--timestamps` prefix on it, or without it and its time as `ts_ns`
        (a follower splits it off). That time dates a text alert: Falco prints only the time of day there
        unless `time_format_iso_8601` (falcosecurity/falco userspace/engine/formats.cpp format_event:
        prefix `*%evt.time: `, "13:53:31.726060287: Critical ..."), so the line's own time, not the
        reader's clock, says which day it was, also for a line replayed from a tail days later."""
        if isinstance(line, bytes):
            line = line.decode("utf-8", "replace")
        line = line.rstrip("\r\n")
        if ts_ns is None:
            k8s_ns, rest = split_k8s_timestamp(line)
        else:
            k8s_ns, rest = ts_ns, line
        if rest.startswith("{"):
            try:
                alert = parse_json_alert(rest, node=self.node, pod=self.pod)
            except AlertParseError as exc:
                return LogLine(LineKind.BAD_ALERT, rest, k8s_ns, error=str(exc))
            return LogLine(LineKind.ALERT_JSON, rest, k8s_ns, alert=alert)
        if _TEXT_ALERT_START.match(rest):
            try:
                alert = parse_text_alert(
                    rest, rules=self._templates, node=self.node, pod=self.pod, reference_ns=k8s_ns
                )
            except AlertParseError as exc:
                return LogLine(LineKind.BAD_ALERT, rest, k8s_ns, error=str(exc))
            return LogLine(LineKind.ALERT_TEXT, rest, k8s_ns, alert=alert)
        falco_ns, body = _split_falco_prefix(rest)
        if falco_ns is None:
            if body.startswith("Error: "):
                return LogLine(LineKind.ERROR, body, k8s_ns, detail=body[7:])
            return LogLine(LineKind.UNKNOWN, body, k8s_ns)
        result = self._classify_body(body)
        result.k8s_time_ns, result.falco_time_ns = k8s_ns, falco_ns
        return result

    def _classify_body(self, body: str) -> LogLine:
        if m := _LISTED_FILE.fullmatch(body):
            section = self._section or ("rules" if "rules" in m[1] else "config")
            kind = LineKind.RULES_FILE if section == "rules" else LineKind.CONFIG_FILE
            return LogLine(kind, body, path=m[1], validation=m[2].strip())
        if m := _VERSION.match(body):
            return LogLine(LineKind.VERSION, body, version=m[1], detail=m[2])
        if body.startswith("SIGHUP received"):
            return LogLine(LineKind.SIGHUP, body)
        if body.startswith("Error: "):
            return LogLine(LineKind.ERROR, body, detail=body[7:])
        if m := _CONFIG_FILE.fullmatch(body):
            self._section = "config"
            if m[1]:
                return LogLine(LineKind.CONFIG_FILE, body, path=m[1])
            return LogLine(LineKind.CONFIG_FILES, body)
        if body.rstrip() == "Loading rules from:":
            self._section = "rules"
            return LogLine(LineKind.RULES_LOADING, body)
        if m := _RULES_FILE.fullmatch(body):
            self._section = "rules"
            return LogLine(LineKind.RULES_FILE, body, path=m[1])
        if m := _PLUGIN.fullmatch(body):
            return LogLine(LineKind.PLUGIN, body, path=m[2], detail=m[1])
        if m := _SOURCES.fullmatch(body):
            return LogLine(LineKind.EVENT_SOURCES, body, detail=m[1])
        if m := _WEBSERVER.match(body):
            return LogLine(LineKind.WEBSERVER, body, detail=m[1])
        if m := _GRPC.match(body):
            return LogLine(LineKind.GRPC, body, detail=m[1])
        if m := _OPENING.match(body):
            return LogLine(LineKind.OPENING, body, detail=m[1])
        if m := _HOSTNAME.fullmatch(body):
            return LogLine(LineKind.HOSTNAME, body, detail=m[1].strip())
        return LogLine(LineKind.OTHER, body)


def _split_falco_prefix(text: str) -> tuple[int | None, str]:
    if m := _CTIME_PREFIX.match(text):
        month, day, hour, minute, second, year = m.groups()
        try:
            days = epoch_day(int(year), _MONTHS[month], int(day))
        except ValueError:
            return None, text
        seconds = days * 86400 + int(hour) * 3600 + int(minute) * 60 + int(second)
        return seconds * 1_000_000_000, text[m.end() :]
    if m := _ISO_PREFIX.match(text):
        try:
            return parse_iso8601_ns(m[1]), text[m.end() :]
        except ValueError:
            return None, text
    return None, text


def classify_lines(
    lines: Iterable[str | bytes], *, node: str | None = None, pod: str | None = None
) -> list[LogLine]:
    """Classify a whole log (e.g. a `kubectl logs` dump) in order."""
    classifier = LogLineClassifier(node=node, pod=pod)
    return [classifier.classify(line) for line in lines]
