"""Falco alerts: the Alert type and its priorities, parsers for Falco's JSON and gRPC forms (the text form
is in alert_text.py, also reachable from here), a key that recognises the same alert arriving through
logs and gRPC, and JSON export."""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import IntEnum
from functools import lru_cache
from hashlib import blake2b
from operator import itemgetter
from typing import Any, Literal

import orjson

from falcotui.falco.sanitize import json_bytes

Channel = Literal["log", "grpc", "nats"]

#: Alert lines longer than this (Falco's own are a few KiB) are kept with their long strings truncated.
MAX_LINE_LENGTH = 4 * 1024 * 1024
#: In such an alert, each string keeps this many characters, and `output_fields`/`tags` this many entries.
MAX_FIELD_CHARS = 64 * 1024
MAX_FIELD_ENTRIES = 1000
TRUNCATED_KEY = "falcotui.truncated"  # added to output_fields of a truncated alert: what was cut

_NS = 1_000_000_000
_EPOCH_ORDINAL = _dt.date(1970, 1, 1).toordinal()


class AlertParseError(ValueError):
    """A line or message that is not a well-formed Falco alert; the message says why."""


class Priority(IntEnum):
    """Falco's priorities, most severe first: "at least Warning" means `priority <= Priority.WARNING`."""

    EMERGENCY = 0
    ALERT = 1
    CRITICAL = 2
    ERROR = 3
    WARNING = 4
    NOTICE = 5
    INFORMATIONAL = 6
    DEBUG = 7

    @property
    def label(self) -> str:
        """Falco's spelling, as in its alerts: `Warning`, `Informational`."""
        return self.name.capitalize()

    @classmethod
    def parse(cls, value: str, *, lenient: bool = False) -> Priority:
        """Parse a priority name case-insensitively, accepting `info` as Falco does.

        With `lenient`, also unambiguous abbreviations of three letters or more (`warn`, `crit`, `emerg`)
        for filters a person types. Raises ValueError naming the accepted values.
        """
        found = _PRIORITY_NAMES.get(value.strip().lower()) if isinstance(value, str) else None
        if found is None and lenient and isinstance(value, str):
            found = _PRIORITY_ABBREVIATIONS.get(value.strip().lower())
        if found is None:
            names = ", ".join(p.label for p in cls)
            raise ValueError(f"unknown priority {value!r} (expected one of {names}, any case, or Info)")
        return found


_PRIORITY_NAMES: dict[str, Priority] = {p.name.lower(): p for p in Priority} | {
    "info": Priority.INFORMATIONAL
}
_PRIORITY_ABBREVIATIONS: dict[str, Priority] = {
    p.name.lower()[:n]: p for p in Priority for n in range(3, len(p.name) + 1)
}


@dataclass(slots=True)
class Alert:
    """One Falco alert and where falcotui received it from (node, pod, log or gRPC)."""

    time_ns: int
    priority: Priority
    rule: str
    output: str = ""
    source: str = ""
    hostname: str = ""
    output_fields: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    node: str | None = None
    pod: str | None = None
    channel: Channel = "log"

    @property
    def message(self) -> str:
        """The output without Falco's `<time>: <Priority> ` prefix."""
        m = _OUTPUT_PREFIX.match(self.output)
        return self.output[m.end() :] if m else self.output

    @property
    def time_iso(self) -> str:
        return format_iso8601_ns(self.time_ns)


# ---------------------------------------------------------------- time


_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?(Z|z|[+-]\d{2}(?::?\d{2})?)?"
)


@lru_cache(maxsize=4096)
def epoch_day(year: int, month: int, day: int) -> int:
    """Days from 1970-01-01 to the given date (ValueError if there is no such date)."""
    return _dt.date(year, month, day).toordinal() - _EPOCH_ORDINAL


def parse_iso8601_ns(text: str) -> int:
    """Nanoseconds since the epoch of an ISO 8601 / RFC 3339 time, exactly (no float on the way).

    A missing zone means UTC; digits past the ninth fractional one are dropped. Raises ValueError.
    """
    m = _ISO.fullmatch(text)
    if m is None:
        raise ValueError(f"not an ISO 8601 time: {text[:64]!r}")
    year, month, day, hour, minute, second, frac, zone = m.groups()
    h, mi, s = int(hour), int(minute), int(second)
    if h > 23 or mi > 59 or s > 60:
        raise ValueError(f"time of day out of range: {text[:64]!r}")
    try:
        days = epoch_day(int(year), int(month), int(day))
    except ValueError:
        raise ValueError(f"not a calendar date: {text[:64]!r}") from None
    ns = ((days * 86400 + h * 3600 + mi * 60 + s) * _NS) + (int(frac[:9].ljust(9, "0")) if frac else 0)
    if zone and zone not in "Zz":
        digits = zone[1:].replace(":", "")
        offset = int(digits[:2]) * 3600 + int(digits[2:4] or 0) * 60
        ns -= offset * _NS if zone[0] == "+" else -offset * _NS
    return ns


def format_iso8601_ns(ns: int) -> str:
    """Falco's JSON `time` form: `2026-11-26T09:02:17.120004511Z` (UTC)."""
    seconds, frac = divmod(ns, _NS)
    days, rem = divmod(seconds, 86400)
    try:
        date = _dt.date.fromordinal(days + _EPOCH_ORDINAL)
    except (ValueError, OverflowError):
        raise ValueError(f"time {ns} ns is outside years 1-9999") from None
    h, rem = divmod(rem, 3600)
    mi, s = divmod(rem, 60)
    return f"{date.isoformat()}T{h:02d}:{mi:02d}:{s:02d}.{frac:09d}Z"


# ---------------------------------------------------------------- JSON


def excerpt(line: bytes | str) -> str:
    """The start of a bad line, quoted, for error messages."""
    return repr(line[:80]) + ("…" if len(line) > 80 else "")


def parse_json_alert(line: bytes | str, *, node: str | None = None, pod: str | None = None) -> Alert:
    """Parse one of Falco's JSON alert lines (`json_output: true`), keys in any order.

    Bytes that are not UTF-8 inside strings become U+FFFD and lone surrogate escapes are kept, rather
    than losing the alert; a line over MAX_LINE_LENGTH keeps its strings cut to MAX_FIELD_CHARS with a
    visible marker (and `falcotui.truncated` in output_fields). Provenance (`node`, `pod`) comes from the
    caller, or from the keys `alert_to_json` writes. Raises AlertParseError.
    """
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        obj = _loads_lossy(line, exc)
    if not isinstance(obj, dict):
        raise AlertParseError(f"not a Falco alert: JSON {type(obj).__name__}, expected an object")
    alert = alert_from_mapping(obj, node=node, pod=pod)
    if len(line) > MAX_LINE_LENGTH:
        _truncate(alert, len(line))
    return alert


def _cut(text: str) -> tuple[str, int]:
    if len(text) <= MAX_FIELD_CHARS:
        return text, 0
    cut = len(text) - MAX_FIELD_CHARS
    return f"{text[:MAX_FIELD_CHARS]}…[truncated by falcotui: {cut} more characters]", cut


def _truncate(alert: Alert, line_length: int) -> None:
    """Keep an oversized alert, its long strings cut with a visible marker (never dropped whole)."""
    cut = 0
    for name in ("output", "rule", "hostname", "source"):
        text, n = _cut(getattr(alert, name))
        setattr(alert, name, text)
        cut += n
    fields: dict[str, Any] = {}
    for i, (key, value) in enumerate(alert.output_fields.items()):
        if i >= MAX_FIELD_ENTRIES:
            cut += 1
            continue
        if isinstance(value, str):
            value, n = _cut(value)
            cut += n
        fields[key] = value
    tags = []
    for tag in alert.tags[:MAX_FIELD_ENTRIES]:
        tag, n = _cut(tag)
        tags.append(tag)
        cut += n
    cut += max(0, len(alert.tags) - MAX_FIELD_ENTRIES)
    fields[TRUNCATED_KEY] = (
        f"the alert line had {line_length} characters (over {MAX_LINE_LENGTH}): "
        f"{cut} characters or entries were cut"
    )
    alert.output_fields, alert.tags = fields, tuple(tags)


def _loads_lossy(line: bytes | str, exc: orjson.JSONDecodeError) -> Any:
    raw = line
    if isinstance(raw, str):
        # lone surrogates (a str decoded with surrogateescape) cannot be encoded as UTF-8: back to bytes
        try:
            raw = raw.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            raw = raw.encode("utf-8", "surrogatepass")
    fixed = raw.decode("utf-8", "replace").encode("utf-8")
    if fixed != raw:
        try:
            return orjson.loads(fixed)
        except orjson.JSONDecodeError as second:
            exc = second
    if b"\\u" in fixed:
        # orjson refuses a lone surrogate escape ("\udc80"); JSON's grammar allows it (RFC 8259 section 8.2
        # calls such strings "unpredictable", not invalid) and the standard library keeps it as a lone
        # surrogate, which `sanitize` shows as U+FFFD and `json_bytes` writes back as the same escape.
        try:
            return json.loads(fixed)
        except (ValueError, RecursionError):
            pass
    raise AlertParseError(f"not a Falco alert: invalid JSON ({exc.msg} at char {exc.pos}): {excerpt(line)}")


def _str(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    raise AlertParseError(f"malformed alert: {key!r} must be a string, got {type(value).__name__}")


def _required_str(obj: Mapping[str, Any], key: str) -> str:
    if obj.get(key) is None:
        raise AlertParseError(f"not a Falco alert: no {key!r} key")
    return _str(obj, key)


_PRIORITY_SPELLINGS: dict[str, Priority] = {
    spelling: p for p in Priority for spelling in (p.name, p.label, p.name.lower())
}
#: the keys of a Falco JSON alert with falco.yaml's default json_include_* settings
#: (../shared/data/falco_stdout_sample.log); an alert without one of them takes the checked path
_FALCO_KEYS = itemgetter("time", "priority", "rule", "output", "source", "hostname", "output_fields", "tags")
# Values a storm repeats (rule names, hostnames, sources, tag lists) are kept once: every alert of a rule
# shares one string, every alert with the same tags one tuple. Saves memory in a store of 100k alerts and
# hashing later (a shared str keeps its hash). Bounded: a table past _SHARED_MAX entries starts over.
_SHARED_MAX = 65_536
_SHARED: dict[str, str] = {}
_TAG_TUPLES: dict[tuple, tuple[str, ...]] = {}  # tuple(tags) -> the same tuple, only for lists of str
_RULE_TAGS: dict[str, tuple[list[str], tuple[str, ...]]] = {}  # rule -> its last tags, as list and tuple


def _shared(text: str) -> str:
    found = _SHARED.get(text)
    if found is None:
        if len(_SHARED) >= _SHARED_MAX:
            _SHARED.clear()
        found = _SHARED[text] = text
    return found


def _tag_tuple(tags: list) -> tuple[str, ...] | None:
    """`tags` as a shared tuple when every item is a str, else None."""
    key = tuple(tags)
    try:
        found = _TAG_TUPLES.get(key)
    except TypeError:  # an unhashable item (an object, a list): not Falco's tags
        return None
    if found is None:
        if not all(type(t) is str for t in key):
            return None
        if len(_TAG_TUPLES) >= _SHARED_MAX:
            _TAG_TUPLES.clear()
        found = _TAG_TUPLES[key] = tuple(map(_shared, key))
    return found


def _rule_tags(rule: str, tags: list) -> tuple[str, ...] | None:
    """`_tag_tuple(tags)`, remembered for `rule`: an alert's tags are its rule's, the same on all its alerts
    (falco userspace/engine/falco_engine.cpp: `rule_result.tags = rule.tags`); a list that differs is
    looked up again, so this only saves work, it decides nothing."""
    found = _tag_tuple(tags)
    if found is not None:
        if len(_RULE_TAGS) >= _SHARED_MAX:
            _RULE_TAGS.clear()
        _RULE_TAGS[rule] = (list(found), found)
    return found


#: (rule, priority, source, hostname) as a JSON alert spells them -> the Priority, the shared strings and
#: the rule's last tags (as list and as tuple): one lookup recognises a storm's repeated values, which also
#: proves their types (a str equals only a str). Bounded like _SHARED.
_SEEN_VALUES: dict[tuple, tuple[Priority, str, str, str, list[str], tuple[str, ...]]] = {}


def _learn_values(rule: Any, prio: Any, source: Any, hostname: Any, tags: Any) -> tuple | None:
    """The `_SEEN_VALUES` entry for values not seen before, or None when they are not Falco's types."""
    if not (
        type(prio) is str
        and (priority := _PRIORITY_SPELLINGS.get(prio)) is not None
        and type(rule) is str
        and rule
        and type(source) is str
        and type(hostname) is str
        and type(tags) is list
        and (tag_tuple := _rule_tags(rule, tags)) is not None
    ):
        return None
    if len(_SEEN_VALUES) >= _SHARED_MAX:
        _SEEN_VALUES.clear()
    found = (priority, _shared(rule), _shared(source), _shared(hostname), list(tag_tuple), tag_tuple)
    _SEEN_VALUES[(rule, prio, source, hostname)] = found
    return found


def alert_from_mapping(obj: Mapping[str, Any], *, node: str | None = None, pod: str | None = None) -> Alert:
    """Build an Alert from a decoded JSON alert object. Raises AlertParseError."""
    # Fast path for the shape Falco writes; anything else goes through the checks that explain errors.
    try:
        time_text, prio, rule, output, source, hostname, fields, tags = _FALCO_KEYS(obj)
        seen = _SEEN_VALUES.get((rule, prio, source, hostname))
    except (KeyError, TypeError):  # a key missing, or a value that cannot be a dict key (not a str)
        return _checked_alert_from_mapping(obj, node, pod)
    if seen is None and (seen := _learn_values(rule, prio, source, hostname, tags)) is None:
        return _checked_alert_from_mapping(obj, node, pod)
    priority, rule, source, hostname, known_tags, tag_tuple = seen
    if tags != known_tags:  # the rule's tags changed (another ruleset): look them up again
        tag_tuple = _rule_tags(rule, tags) if type(tags) is list else None
    if not (
        type(output) is str
        and type(fields) is dict
        and type(time_text) is str
        # only Falco's eight keys, or at least not falcotui's own (alert_to_json's node/pod/channel)
        and (len(obj) == 8 or ("node" not in obj and "pod" not in obj and "channel" not in obj))
    ):
        return _checked_alert_from_mapping(obj, node, pod)
    # _falco_time_ns's common case (a second seen before), inline
    if (
        len(time_text) == 30
        and time_text[19] == "."
        and time_text[29] == "Z"
        and (base := _SECOND_BASE.get(time_text[:19])) is not None
        and (frac := time_text[20:29]).isdigit()
        and frac.isascii()
    ):
        time_ns: int | None = base + int(frac)
    else:
        time_ns = _falco_time_ns(time_text)
    if tag_tuple is None or time_ns is None:
        return _checked_alert_from_mapping(obj, node, pod)
    return Alert(time_ns, priority, rule, output, source, hostname, fields, tag_tuple, node, pod, "log")


#: Falco's own spellings of the priorities (`Warning`, `Informational`), what `alert_to_json` writes
LABEL_SPELLINGS = frozenset(p.label for p in Priority)


def falco_time_form(text: str) -> bool:
    """Whether a JSON alert's `time` has the exact form Falco writes and `alert_to_json` writes back
    (`2026-11-26T09:02:17.120004511Z`; not a leap second, which would come back as the next minute): a
    consumer may then pass Falco's line on as it came."""
    return (
        len(text) == 30
        and text[10] == "T"
        and text[19] == "."
        and text[29] == "Z"
        and text[17:19] != "60"
        and (frac := text[20:29]).isdigit()
        and frac.isascii()
    )


def falco_json_time_ns(text: str) -> int | None:
    """The event time of a `time` in Falco's own form (`falco_time_form`), else None (ops/alerts/relay.py)."""
    if not falco_time_form(text):
        return None
    base = _SECOND_BASE.get(text[:19])
    return _falco_time_ns(text) if base is None else base + int(text[20:29])


_SECOND_BASE: dict[str, int] = {}


def _falco_time_ns(t: str) -> int | None:
    """Falco's exact `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` quickly (bursts share a second), else None."""
    if len(t) != 30 or t[29] != "Z" or t[19] != ".":
        return None
    second = t[:19]
    base = _SECOND_BASE.get(second)  # holds only seconds that parsed, so only ASCII
    if base is None:
        if not t.isascii():
            return None
        m = _ISO.fullmatch(t)
        if m is None or m[8] != "Z":
            return None
        try:
            base = parse_iso8601_ns(second + "Z")
        except ValueError:
            return None
        if len(_SECOND_BASE) >= 4096:
            _SECOND_BASE.clear()
        _SECOND_BASE[second] = base
    frac = t[20:29]
    return base + int(frac) if frac.isdigit() and frac.isascii() else None


def _checked_alert_from_mapping(obj: Mapping[str, Any], node: str | None, pod: str | None) -> Alert:
    rule = _required_str(obj, "rule")
    if not rule:
        raise AlertParseError("malformed alert: 'rule' is empty")
    try:
        priority = Priority.parse(_required_str(obj, "priority"))
    except ValueError as exc:
        raise AlertParseError(f"malformed alert: {exc}") from None

    fields = obj.get("output_fields")
    if fields is None:
        fields = {}
    elif not isinstance(fields, dict):
        raise AlertParseError(
            f"malformed alert: 'output_fields' must be an object, got {type(fields).__name__}"
        )

    time_text = obj.get("time")
    if isinstance(time_text, str):
        try:
            time_ns = parse_iso8601_ns(time_text)
        except ValueError as exc:
            raise AlertParseError(f"malformed alert: 'time': {exc}") from None
    elif time_text is None and type(fields.get("evt.time")) is int:
        time_ns = fields["evt.time"]
    elif time_text is None:
        raise AlertParseError("not a Falco alert: no 'time' key")
    else:
        raise AlertParseError(f"malformed alert: 'time' must be a string, got {type(time_text).__name__}")

    tags = obj.get("tags")
    if tags is None:
        tags = ()
    elif isinstance(tags, list) and all(isinstance(t, str) for t in tags):
        tags = tuple(tags)
    else:
        raise AlertParseError("malformed alert: 'tags' must be a list of strings")

    output = obj.get("output")
    if output is None:
        output = _str(obj, "message")
    elif not isinstance(output, str):
        raise AlertParseError(f"malformed alert: 'output' must be a string, got {type(output).__name__}")

    channel = obj.get("channel")
    return Alert(
        time_ns=time_ns,
        priority=priority,
        rule=rule,
        output=output,
        source=_str(obj, "source"),
        hostname=_str(obj, "hostname"),
        output_fields=fields,
        tags=tags,
        node=node if node is not None else _optional_str(obj, "node"),
        pod=pod if pod is not None else _optional_str(obj, "pod"),
        channel="grpc" if channel == "grpc" else "log",
    )


def _optional_str(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return value if isinstance(value, str) else None


def alert_to_obj(alert: Alert) -> dict[str, Any]:
    """The alert as a JSON object: Falco's alert keys plus falcotui's `node`/`pod`/`channel`."""
    obj: dict[str, Any] = {
        "time": format_iso8601_ns(alert.time_ns),
        "rule": alert.rule,
        "priority": alert.priority.label,
        "source": alert.source,
        "hostname": alert.hostname,
        "output": alert.output,
        "output_fields": alert.output_fields,
        "tags": list(alert.tags),
        "channel": alert.channel,
    }
    if alert.node is not None:
        obj["node"] = alert.node
    if alert.pod is not None:
        obj["pod"] = alert.pod
    return obj


def alert_to_json(alert: Alert, *, indent: bool = False) -> bytes:
    """One JSON line (no newline) in Falco's alert shape plus falcotui's `node`/`pod`/`channel` keys.

    Faithful (nothing dropped) with the characters a terminal would act on escaped (`json_bytes`)."""
    return json_bytes(alert_to_obj(alert), indent=indent)


# ---------------------------------------------------------------- gRPC


_GRPC_SOURCES = {0: "syscall", 1: "k8s_audit", 2: "internal", 3: "plugin"}


def alert_from_grpc(response: Any, *, node: str | None = None, pod: str | None = None) -> Alert:
    """Build an Alert from a `falco.outputs.response` message. Raises AlertParseError."""
    try:
        priority = Priority(response.priority)
    except ValueError:
        raise AlertParseError(f"malformed gRPC alert: unknown priority number {response.priority}") from None
    if not response.rule:
        raise AlertParseError("malformed gRPC alert: empty rule")
    stamp = response.time
    if not 0 <= stamp.nanos < _NS:
        raise AlertParseError(f"malformed gRPC alert: timestamp nanos {stamp.nanos} out of range")
    # With `json_output: true` Falco (<= 0.43.1) puts the whole JSON document in `output`: outputs_grpc.cpp
    # sets it to msg->msg, which falco_formats::format_event returns as `event.dump()` for JSON output
    # (userspace/engine/formats.cpp, tag 0.43.1). Read it like the same line in the pod's log, so the
    # two copies of one alert are one alert.
    if response.output.startswith("{"):
        try:
            doc = parse_json_alert(response.output, node=node, pod=pod)
        except AlertParseError:
            doc = None
        if doc is not None and doc.rule == response.rule:
            return replace(doc, channel="grpc", tags=doc.tags or tuple(response.tags))
    return Alert(
        time_ns=stamp.seconds * _NS + stamp.nanos,
        priority=priority,
        rule=response.rule,
        output=response.output,
        source=response.source or _GRPC_SOURCES.get(response.source_deprecated, ""),
        hostname=response.hostname,
        output_fields=dict(response.output_fields),
        tags=tuple(response.tags),
        node=node,
        pod=pod,
        channel="grpc",
    )


# ---------------------------------------------------------------- de-duplication


def dedup_key(alert: Alert) -> bytes:
    """16 bytes equal for one alert however it arrived (log line or gRPC), different for distinct ones.

    Uses what both channels carry identically: the event time in ns, rule, hostname and output, plus the
    node it came from (set it on both channels of a node, or on neither). output_fields are left out:
    gRPC carries them as strings, JSON as typed values.
    """
    h = blake2b(digest_size=16)
    for part in (alert.node or "", alert.hostname, alert.rule, alert.output):
        data = part.encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    h.update(alert.time_ns.to_bytes(16, "little", signed=True))
    return h.digest()


# ---------------------------------------------------------------- text mode (see alert_text.py)


PRIORITY_WORD = r"(?i:emergency|alert|critical|error|warning|notice|informational|info|debug)"
TEXT_TIME = (
    r"\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?"
    r"|\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?"
)
_OUTPUT_PREFIX = re.compile(rf"(?:{TEXT_TIME}): {PRIORITY_WORD} ")
