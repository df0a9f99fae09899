"""A model of falco.yaml: the keys each supported Falco version accepts, and a validator for a document.

The key sets are read from Falco's own configuration JSON schema of each release (`falco --config-schema`,
the verbatim copies in falcotui/falco/upstream), where objects are `additionalProperties: false`. Falco
0.44.0 removed the gRPC server/output, the legacy eBPF probe and the gVisor engine, so 0.44+ accepts
fewer keys than 0.43. Besides the schema, Falco's loader reads three gRPC TLS paths (`grpc.private_key`,
`grpc.cert_chain`, `grpc.root_certs`) that the 0.43 schema never listed; they are accepted here because
the gRPC profile depends on them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from falcotui.falco.image import config_schema, engine_kinds, image_release

ANY = None  # an object whose nested keys are not constrained (accepted as they are)

#: configuration.cpp (0.43.1) reads grpc.private_key, grpc.cert_chain and grpc.root_certs, but that
#: release's config schema does not list them (so Falco's own check logs a warning for them); the gRPC
#: profile depends on them, so they are accepted here.
_GRPC_TLS_KEYS = ("private_key", "cert_chain", "root_certs")


def _key_tree(release: str) -> dict[str, Any]:
    """The keys Falco's config JSON schema of `release` allows, nested where an object is closed
    (`additionalProperties: false`); other values are ANY."""
    schema = config_schema(release)
    definitions = schema.get("definitions") or {}

    def node(s: Mapping[str, Any], depth: int = 0) -> dict[str, Any] | None:
        while "$ref" in s and depth < 32:
            s = definitions[str(s["$ref"]).rsplit("/", 1)[-1]]
            depth += 1
        props = s.get("properties")
        if not isinstance(props, Mapping) or s.get("additionalProperties", True) is not False:
            return ANY
        return {k: node(v, depth + 1) for k, v in props.items()}

    tree = node(schema) or {}
    grpc = tree.get("grpc")
    if isinstance(grpc, dict):
        tree["grpc"] = {**grpc, **dict.fromkeys(_GRPC_TLS_KEYS, ANY)}
    return tree


#: Valid keys per Falco minor version, from the real schema of the image release that minor ships
#: (falcotui.falco.image.image_release).
SCHEMAS: dict[str, dict[str, Any]] = {
    minor: _key_tree(image_release(tuple(int(x) for x in minor.split("."))))  # type: ignore[arg-type]
    for minor in ("0.43", "0.44", "0.45")
}
ENGINE_KINDS = {
    minor: set(engine_kinds(image_release(tuple(int(x) for x in minor.split(".")))))  # type: ignore[arg-type]
    for minor in SCHEMAS
}
PRIORITIES = {
    "emergency",
    "alert",
    "critical",
    "error",
    "warning",
    "notice",
    "informational",
    "info",
    "debug",
}
LOG_LEVELS = {"emergency", "alert", "critical", "error", "warning", "notice", "info", "debug"}
RULE_MATCHING = {"first", "all"}
_BOOLEAN_KEYS = (
    "watch_config_files",
    "json_output",
    "json_include_output_property",
    "json_include_message_property",
    "json_include_output_fields_property",
    "json_include_tags_property",
    "buffered_outputs",
    "time_format_iso_8601",
    "log_stderr",
    "log_syslog",
)
_GLOB = re.compile(r"[*?\[]")


class UnsupportedFalcoVersion(ValueError):
    """A Falco version falcotui has no falco.yaml model for."""


def minor_version(version: str) -> str:
    """'0.45.0' -> '0.45'; raises UnsupportedFalcoVersion for versions without a model."""
    match = re.match(r"^v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+].*)?$", str(version).strip())
    key = f"{match.group(1)}.{match.group(2)}" if match else None
    if key not in SCHEMAS:
        known = ", ".join(sorted(SCHEMAS))
        raise UnsupportedFalcoVersion(f"no falco.yaml model for Falco {version!r} (known: {known})")
    return key


def _check_keys(
    doc: Mapping[str, Any], schema: Mapping[str, Any], where: str, version: str, problems: list[str]
) -> None:
    for key, value in doc.items():
        path = f"{where}{key}"
        if key not in schema:
            problems.append(f"unknown key '{path}' (not a falco.yaml option in Falco {version})")
            continue
        nested = schema[key]
        if nested is ANY:
            continue
        if not isinstance(value, Mapping):
            problems.append(f"'{path}' must be a mapping, got {type(value).__name__}")
            continue
        _check_keys(value, nested, f"{path}.", version, problems)


def _check_enum(doc: Mapping[str, Any], key: str, allowed: set[str], problems: list[str]) -> None:
    if key in doc and str(doc[key]).lower() not in allowed:
        problems.append(f"'{key}' is {doc[key]!r}, expected one of {', '.join(sorted(allowed))}")


def _check_path_list(doc: Mapping[str, Any], key: str, problems: list[str]) -> None:
    if key not in doc:
        return
    value = doc[key]
    if not isinstance(value, list):
        problems.append(f"'{key}' must be a list of files or directories")
        return
    for item in value:
        if isinstance(item, Mapping) and key == "config_files":
            item = item.get("path")
        if not isinstance(item, str) or not item:
            problems.append(f"'{key}' has an entry that is not a path: {item!r}")
        elif _GLOB.search(item):
            problems.append(f"'{key}' entry {item!r} is a glob; Falco takes files or directories only")


def validate_falco_yaml(doc: Any, version: str) -> list[str]:
    """Problems that would make Falco `version` reject or ignore parts of this falco.yaml document.

    Returns an empty list for a clean document. Raises UnsupportedFalcoVersion for an unknown version.
    """
    minor = minor_version(version)
    if not isinstance(doc, Mapping):
        return [f"falco.yaml must be a mapping of options, got {type(doc).__name__}"]
    problems: list[str] = []
    _check_keys(doc, SCHEMAS[minor], "", minor, problems)

    for key in _BOOLEAN_KEYS:
        if key in doc and not isinstance(doc[key], bool):
            problems.append(f"'{key}' must be true or false, got {doc[key]!r}")
    _check_enum(doc, "priority", PRIORITIES, problems)
    _check_enum(doc, "log_level", LOG_LEVELS, problems)
    _check_enum(doc, "rule_matching", RULE_MATCHING, problems)
    _check_path_list(doc, "rules_files", problems)
    _check_path_list(doc, "config_files", problems)

    engine = doc.get("engine")
    if isinstance(engine, Mapping):
        kind = engine.get("kind")
        if kind is None:
            problems.append("'engine.kind' is required")
        elif kind not in ENGINE_KINDS[minor]:
            allowed = ", ".join(sorted(ENGINE_KINDS[minor]))
            problems.append(f"'engine.kind' is {kind!r}; Falco {minor} supports {allowed}")

    webserver = doc.get("webserver")
    if isinstance(webserver, Mapping) and "listen_port" in webserver:
        port = webserver["listen_port"]
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            problems.append(f"'webserver.listen_port' must be a TCP port number, got {port!r}")
    for output in ("stdout_output", "syslog_output", "file_output", "http_output", "grpc_output", "grpc"):
        section = doc.get(output)
        if isinstance(section, Mapping) and "enabled" in section and not isinstance(section["enabled"], bool):
            problems.append(f"'{output}.enabled' must be true or false, got {section['enabled']!r}")
    if isinstance(doc.get("program_output"), Mapping) and "program" not in doc["program_output"]:
        problems.append("'program_output.program' is required when program_output is present")
    return problems
