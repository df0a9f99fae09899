"""What a simulated Falco container is told to do: its image version, command line, merged falco.yaml
and the rules files that configuration names, read from the container's files.

The simulated image carries Falco's built-in files (`/etc/falco/falco.yaml`, `/etc/falco/falco_rules.yaml`,
`/etc/falco/falco_rules.local.yaml`, the container plugin drop-in in `/etc/falco/config.d`); mounted
volumes shadow them path by path, as a real mount would.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

from falcotui.falco.config import SCHEMAS

FALCO_REPOSITORIES = ("falcosecurity/falco", "docker.io/falcosecurity/falco")
DEFAULT_CONFIG_PATH = "/etc/falco/falco.yaml"
DEFAULT_RULES_PATH = "/etc/falco/falco_rules.yaml"
LOCAL_RULES_PATH = "/etc/falco/falco_rules.local.yaml"
PLUGIN_DROPIN_PATH = "/etc/falco/config.d/falco.container_plugin.yaml"
#: Directories the image creates, so they exist even when empty.
IMAGE_DIRS = frozenset({"/etc/falco", "/etc/falco/config.d", "/etc/falco/rules.d"})

#: The container plugin each simulated Falco release bundles.
CONTAINER_PLUGIN_VERSIONS = {(0, 43): "0.4.1", (0, 44): "0.6.0", (0, 45): "0.7.1"}

IMAGE_DEFAULT_CONFIG = """\
# Falco's configuration as the image ships it (abridged).
config_files:
  - /etc/falco/config.d
watch_config_files: true
rules_files:
  - /etc/falco/falco_rules.yaml
  - /etc/falco/falco_rules.local.yaml
  - /etc/falco/rules.d
engine:
  kind: modern_ebpf
json_output: false
json_include_output_property: true
json_include_message_property: false
json_include_output_fields_property: true
json_include_tags_property: true
buffered_outputs: false
priority: debug
stdout_output:
  enabled: true
log_stderr: true
log_level: info
time_format_iso_8601: false
webserver:
  enabled: true
  threadiness: 0
  listen_port: 8765
  listen_address: 0.0.0.0
  k8s_healthz_endpoint: /healthz
"""

CONTAINER_PLUGIN_DROPIN = """\
# The container plugin enriches syscall events with container and Kubernetes metadata.
plugins:
  - name: container
    library_path: libcontainer.so
    init_config:
      label_max_len: 100
      with_size: false
load_plugins: [container]
append_output:
  - match:
      source: syscall
    extra_output: "container_id=%container.id container_name=%container.name \
container_image_repository=%container.image.repository container_image_tag=%container.image.tag \
k8s_pod_name=%k8s.pod.name k8s_ns_name=%k8s.ns.name"
"""

LOCAL_RULES = """\
# Add your own rules, macros and lists here; this file loads after falco_rules.yaml.
"""

#: Top-level falco.yaml keys the 0.44+ schema knows; 0.43 also knows the gRPC keys.


class FalcoStartupError(Exception):
    """Falco refuses to start; the message is what it prints after `Error: `."""


@dataclass(frozen=True, slots=True)
class FalcoVersion:
    major: int
    minor: int
    patch: int

    @property
    def text(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    @property
    def has_grpc(self) -> bool:
        """gRPC output and server were removed in 0.44.0."""
        return (self.major, self.minor) < (0, 44)

    @property
    def container_plugin(self) -> str:
        return CONTAINER_PLUGIN_VERSIONS.get((self.major, self.minor), "0.7.1")


_IMAGE_RE = re.compile(r"^(?P<repo>[^@]+?)(?::(?P<tag>[A-Za-z0-9_.-]+))?(?:@sha256:[0-9a-f]+)?$")
_TAG_RE = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)")


def falco_image_version(image: str) -> FalcoVersion | None:
    """The Falco version an image reference runs, or None if it is not a Falco image we simulate."""
    m = _IMAGE_RE.match(image.strip())
    if not m or m.group("repo") not in FALCO_REPOSITORIES:
        return None
    tag = m.group("tag") or "0.45.0"
    v = _TAG_RE.match(tag)
    if not v:
        return FalcoVersion(0, 45, 0)
    return FalcoVersion(int(v.group(1)), int(v.group(2)), int(v.group(3)))


@dataclass(slots=True)
class FalcoArgs:
    config_path: str = DEFAULT_CONFIG_PATH
    options: list[tuple[str, str]] = field(default_factory=list)
    rules_files: list[str] = field(default_factory=list)  # -r, overrides rules_files
    validate: list[str] = field(default_factory=list)  # -V
    unbuffered: bool = False
    version: bool = False
    disabled_sources: list[str] = field(default_factory=list)


_FLAGS_WITH_VALUE = {"-c", "-o", "--option", "-r", "-V", "--validate", "--disable-source", "--pidfile", "-M"}
_FLAGS = {"-U", "--unbuffered", "--version", "-A", "--dry-run", "--support", "--list", "-L", "--nodriver"}


def parse_args(argv: list[str]) -> FalcoArgs:
    """Falco's command line (the leading `falco`/`/usr/bin/falco` word is optional)."""
    args = list(argv)
    if args and posixpath.basename(args[0]) == "falco":
        args = args[1:]
    out = FalcoArgs()
    i = 0
    while i < len(args):
        arg = args[i]
        value: str | None = None
        name = arg
        if arg.startswith("--") and "=" in arg:
            name, value = arg.split("=", 1)
        elif (
            arg.startswith("-") and not arg.startswith("--") and len(arg) > 2 and arg[:2] in _FLAGS_WITH_VALUE
        ):
            name, value = arg[:2], arg[2:]
        if name in _FLAGS_WITH_VALUE:
            if value is None:
                if i + 1 >= len(args):
                    raise FalcoStartupError(
                        f"Error parsing options: Option '{name.lstrip('-')}' is missing an argument"
                    )
                value = args[i + 1]
                i += 1
            _apply_flag(out, name, value)
        elif name in _FLAGS:
            if name in ("-U", "--unbuffered"):
                out.unbuffered = True
            elif name == "--version":
                out.version = True
        else:
            raise FalcoStartupError(f"Error parsing options: Option '{name.lstrip('-')}' does not exist")
        i += 1
    return out


def _apply_flag(out: FalcoArgs, name: str, value: str) -> None:
    if name == "-c":
        out.config_path = value
    elif name in ("-o", "--option"):
        if "=" not in value:
            raise FalcoStartupError(f"Error parsing options: invalid option '{value}', expected key=value")
        key, val = value.split("=", 1)
        out.options.append((key, val))
    elif name == "-r":
        out.rules_files.append(value)
    elif name in ("-V", "--validate"):
        out.validate.append(value)
    elif name == "--disable-source":
        out.disabled_sources.append(value)


def image_files(default_rules: str | None = None) -> dict[str, str]:
    """The files the simulated image ships, before any volume is mounted."""
    rules = default_rules if default_rules is not None else bundled_default_rules()
    return {
        DEFAULT_CONFIG_PATH: IMAGE_DEFAULT_CONFIG,
        DEFAULT_RULES_PATH: rules,
        LOCAL_RULES_PATH: LOCAL_RULES,
        PLUGIN_DROPIN_PATH: CONTAINER_PLUGIN_DROPIN,
    }


def bundled_default_rules() -> str:
    """The small default ruleset written for the simulator (`default_rules.yaml`)."""
    return resources.files("falcotui.sim").joinpath("default_rules.yaml").read_text(encoding="utf-8")


def container_files(image: Mapping[str, str], mounted: Mapping[str, str]) -> dict[str, str]:
    """The container's filesystem: a mount hides every image file below its mount point.

    Mount points are not known to the runtime, only the mounted files; a mounted file's directory is
    treated as a mount point (as a ConfigMap volume is).
    """
    mount_dirs = {posixpath.dirname(p).rstrip("/") + "/" for p in mounted}
    files = {p: c for p, c in image.items() if not any(p.startswith(d) for d in mount_dirs)}
    files.update(mounted)
    return files


def list_dir(files: Mapping[str, str], directory: str) -> list[str]:
    """Regular files directly inside `directory`, in lexical order (ConfigMap `..data` entries skipped)."""
    prefix = directory.rstrip("/") + "/"
    return sorted(
        p
        for p in files
        if p.startswith(prefix) and "/" not in p[len(prefix) :] and not p[len(prefix) :].startswith("..")
    )


def is_dir(files: Mapping[str, str], path: str) -> bool:
    prefix = path.rstrip("/") + "/"
    return any(p.startswith(prefix) for p in files)


@dataclass(slots=True)
class ConfigFile:
    path: str
    schema_error: str | None = None  # what "schema validation: failed for ..." names


@dataclass(slots=True)
class FalcoConfig:
    data: dict[str, Any]
    files: list[ConfigFile]

    def get(self, dotted: str, default: Any = None) -> Any:
        node: Any = self.data
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    def flag(self, dotted: str, default: bool) -> bool:
        value = self.get(dotted, default)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "yes", "on", "1")
        return bool(value)


def load_config(files: Mapping[str, str], args: FalcoArgs, version: FalcoVersion) -> FalcoConfig:
    """Falco's configuration: the main file, its `config_files` drop-ins, then `-o` overrides."""
    main = _read_yaml_config(files, args.config_path)
    loaded = [ConfigFile(args.config_path, _schema_error(main, version))]
    data = dict(main)
    for entry in _as_list(main.get("config_files")):
        path = entry.get("path") if isinstance(entry, dict) else entry
        if not isinstance(path, str):
            continue
        paths = list_dir(files, path) if is_dir(files, path) else [path] if path in files else []
        for p in paths:
            extra = _read_yaml_config(files, p)
            loaded.append(ConfigFile(p, _schema_error(extra, version)))
            _merge(data, extra)
    for key, raw in args.options:
        _set_option(data, key, raw)
    return FalcoConfig(data, loaded)


def _read_yaml_config(files: Mapping[str, str], path: str) -> dict[str, Any]:
    if path not in files:
        raise FalcoStartupError(f"Could not find configuration file at {path}")
    try:
        doc = yaml.safe_load(files[path])
    except yaml.YAMLError as exc:
        raise FalcoStartupError(f"Cannot read config file ({path}): {_one_line(exc)}") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise FalcoStartupError(f"Cannot read config file ({path}): the root node must be a map")
    return doc


def _schema_error(doc: Mapping[str, Any], version: FalcoVersion) -> str | None:
    """Falco's config schema check, from the project's own model of falco.yaml's keys."""
    minor = f"{version.major}.{version.minor}"
    known = SCHEMAS.get(minor) or SCHEMAS[max(SCHEMAS, key=lambda v: tuple(map(int, v.split("."))))]
    for key in doc:
        if key not in known:
            return (
                "<root>: Object contains a property that could not be validated using 'properties' "
                f"or 'additionalProperties' constraints: '{key}'."
            )
    return None


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> None:
    """Drop-in merge with Falco's default `append` strategy: maps merge, sequences append."""
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merged = dict(base[key])
            _merge(merged, value)
            base[key] = merged
        elif isinstance(value, list) and isinstance(base.get(key), list):
            base[key] = [*base[key], *value]
        else:
            base[key] = value


def _set_option(data: dict[str, Any], key: str, raw: str) -> None:
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    append = key.endswith("[]")
    parts = (key[:-2] if append else key).split(".")
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    if append:
        current = node.get(parts[-1])
        node[parts[-1]] = [*(current if isinstance(current, list) else []), value]
    else:
        node[parts[-1]] = value


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def rules_paths(config: FalcoConfig, args: FalcoArgs) -> list[str]:
    """The configured rules files and directories (`-r` replaces `rules_files`)."""
    if args.rules_files:
        return list(args.rules_files)
    configured = config.get("rules_files")
    if configured is None:
        configured = config.get("rules_file")
    paths = [str(p) for p in _as_list(configured)]
    if not paths:
        raise FalcoStartupError(
            "You must specify at least one rules file/directory via -r or a rules_files entry in falco.yaml"
        )
    return paths


def resolve_rules_files(files: Mapping[str, str], paths: list[str]) -> list[str]:
    """Each configured path as Falco loads it: a directory's regular files in lexical order; no globs."""
    resolved: list[str] = []
    for path in paths:
        if path in files:
            resolved.append(path)
        elif is_dir(files, path) or path.rstrip("/") in IMAGE_DIRS:
            resolved.extend(list_dir(files, path))
        else:
            raise FalcoStartupError(f"Could not read rules file {path}: No such file or directory")
    return resolved
