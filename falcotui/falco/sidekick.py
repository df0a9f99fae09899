"""Falcosidekick's alert payload and NATS subject: reading one into an Alert, and building one from an Alert.

Facts (falcosecurity/falcosidekick at 8807ab7b):
- types/types.go:20-30 `FalcoPayload`: `uuid` (omitempty), `output`, `priority`, `rule`, `time` (Go
  `time.Time`: RFC 3339 with the fraction's trailing zeros trimmed), `output_fields`, `source`, `tags`
  (omitempty), `hostname` (omitempty).
- types/priority.go:24-47,105-107: the priority is marshalled as its name, "Debug" … "Emergency" ("" for
  none).
- handlers.go:110-121: `customfields` are added to `output_fields` (e.g. `cluster: prod-eu`), `customtags`
  appended to `tags`; handlers.go:130 sets a fresh `uuid` per alert (so the pod-log copy has none).
- handlers.go:258: `output` is rewritten only when `outputFieldFormat` is set (default ""), so by default it
  is Falco's own output, byte for byte: what de-duplication against the log copy relies on.
- outputs/nats.go:17-31: subject template default `falco.<priority>.<rule>`; `<priority>` is the lowercase
  name, `<rule>` the lowercased rule with every run of characters outside `[a-z0-9]` replaced by `_` and
  `_` trimmed at both ends; outputs/nats.go:42-49: the body is `json.Marshal(FalcoPayload)`, published with
  core NATS (a JetStream stream on `falco.>` stores it).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import orjson

from falcotui.falco.alerts import Alert, AlertParseError, alert_from_mapping, format_iso8601_ns

DEFAULT_SUBJECT_TEMPLATE = "falco.<priority>.<rule>"
CLUSTER_FIELD = "cluster"  # where an alert's cluster is kept (the Alerts screen's `cluster:` filter reads it)
_SLUG = re.compile("[^a-z0-9]+")


def rule_slug(rule: str) -> str:
    """The `<rule>` token of a subject, as outputs/nats.go:31 builds it."""
    return _SLUG.sub("_", rule.lower()).strip("_")


def subject_for(alert: Alert, template: str = DEFAULT_SUBJECT_TEMPLATE) -> str:
    """The subject Falcosidekick publishes `alert` on (outputs/nats.go:25-31)."""
    return template.replace("<priority>", alert.priority.label.lower()).replace(
        "<rule>", rule_slug(alert.rule)
    )


def go_time(time_ns: int) -> str:
    """Go's RFC3339Nano of a UTC time: the fraction without trailing zeros, none at all when zero."""
    text = format_iso8601_ns(time_ns)  # YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ
    head, _, frac = text[:-1].partition(".")
    frac = frac.rstrip("0")
    return f"{head}.{frac}Z" if frac else f"{head}Z"


def payload_for(
    alert: Alert, *, customfields: dict[str, str] | None = None, customtags: tuple[str, ...] = ()
) -> bytes:
    """The JSON body Falcosidekick publishes for `alert` (handlers.go:110-130, types/types.go:20-30)."""
    fields = dict(alert.output_fields)
    fields.update(customfields or {})
    obj: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "output": alert.output,
        "priority": alert.priority.label,
        "rule": alert.rule,
        "time": go_time(alert.time_ns),
        "output_fields": fields,
        "source": alert.source or "syscalls",
    }
    tags = sorted((*alert.tags, *customtags))  # handlers.go:165 sorts them
    if tags:
        obj["tags"] = tags
    if alert.hostname:
        obj["hostname"] = alert.hostname
    return orjson.dumps(obj)


def alert_from_payload(data: bytes | str, *, cluster: str | None = None, cluster_field: str = "") -> Alert:
    """An Alert (channel `nats`, node = the payload's hostname) from one Falcosidekick message body.

    Its cluster, kept in `output_fields["cluster"]` (CLUSTER_FIELD) unless the payload already has that
    field: the payload's `cluster_field` if it has one (a customfield of another name), else `cluster` (the
    cluster the subject names). Raises AlertParseError."""
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise AlertParseError(f"not JSON: {exc}") from None
    if type(obj) is not dict:
        raise AlertParseError("not a Falcosidekick payload: not a JSON object")
    obj.pop("uuid", None)
    for key in ("node", "pod", "channel"):  # falcotui's own keys: not Falcosidekick's to set
        obj.pop(key, None)
    if "tags" not in obj:
        obj["tags"] = []
    fields = obj.get("output_fields")
    if type(fields) is dict and CLUSTER_FIELD not in fields:
        value = fields.get(cluster_field) if cluster_field else None
        if value is None:
            value = cluster
        if value is not None:
            fields[CLUSTER_FIELD] = value if type(value) is str else str(value)
    time_text = obj.get("time")
    if type(time_text) is str and len(time_text) < 30 and time_text[-1:] == "Z" and len(time_text) >= 20:
        obj["time"] = falco_time(time_text)  # Falco's own 9-digit form: the parser's fast path
    hostname = obj.get("hostname")
    alert = alert_from_mapping(obj, node=hostname if type(hostname) is str and hostname else None)
    alert.channel = "nats"
    return alert


def falco_time(go: str) -> str:
    """Go's RFC3339Nano UTC time (`…:SSZ`, `…:SS.1Z`) with the fraction padded to Falco's nine digits."""
    head, dot, frac = go[:-1].partition(".")
    return f"{head}.{frac:0<9}Z" if (not dot or frac.isdigit()) and len(head) == 19 else go
