"""Build Falco's gRPC messages from falcotui's types (what a Falco server sends; the client reads them with
`falcotui.falco.alerts.alert_from_grpc`)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from falcotui.falco.alerts import Alert
from falcotui.falco.grpc import outputs_pb2, version_pb2

_SOURCE_NUMBERS = {"syscall": 0, "k8s_audit": 1, "internal": 2}
_SEMVER = re.compile(r"(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+([0-9A-Za-z.-]+))?")


def _field_text(value: Any) -> str:
    # Falco's gRPC output fields are strings; a field with no value is Falco's "<NA>".
    if value is None:
        return "<NA>"
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def alert_to_response(alert: Alert) -> outputs_pb2.response:
    """The `falco.outputs.response` Falco would send for this alert."""
    response = outputs_pb2.response(
        priority=int(alert.priority),
        source_deprecated=_SOURCE_NUMBERS.get(alert.source, 3),
        rule=alert.rule,
        output=alert.output,
        output_fields={k: _field_text(v) for k, v in alert.output_fields.items()},
        hostname=alert.hostname,
        tags=alert.tags,
        source=alert.source,
    )
    seconds, nanos = divmod(alert.time_ns, 1_000_000_000)
    response.time.seconds = seconds
    response.time.nanos = nanos
    return response


def version_response(version: str, engine_version: str = "0.58.0") -> version_pb2.response:
    """The `falco.version.response` for a Falco version string like `0.43.1` (semver parts split out)."""
    m = _SEMVER.fullmatch(version)
    e = _SEMVER.fullmatch(engine_version)
    if m is None or e is None:
        raise ValueError(f"not a semantic version: {version if m is None else engine_version!r}")
    return version_pb2.response(
        version=version,
        major=int(m[1]),
        minor=int(m[2]),
        patch=int(m[3]),
        prerelease=m[4] or "",
        build=m[5] or "",
        engine_version=engine_version,
        engine_major=int(e[1]),
        engine_minor=int(e[2]),
        engine_patch=int(e[3]),
        engine_fields_checksum=hashlib.sha256(f"falco-fields-{engine_version}".encode()).hexdigest(),
    )
