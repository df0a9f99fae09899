"""Load a Falco configuration the way Falco does: the main file, its `config_files` drop-ins with their
merge strategies, `-o key=value` options, schema validation per file, then the plugin list, the rules
files and the `append_output` entries Falco derives from the merged document.

Works over a file map (absolute path -> text), so it serves the simulated Falco (its container's files)
and the manifest checks (the rendered falco.yaml plus the image's real files) alike. Every step names the
Falco source it follows; `userspace/falco/configuration.cpp` and `userspace/engine/yaml_helper.h` at tags
0.43.1 and 0.44.1 behave the same in everything modelled here.
"""

from __future__ import annotations

import posixpath
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from falcotui.falco.config_options import ConfigError, set_option
from falcotui.falco.config_schema import VALIDATION_OK, validate_config
from falcotui.falco.image import CONTAINER_PLUGIN_LIBRARY, CONTAINER_SUGGESTED_FIELDS, PLUGINS_DIR

CONFIGS_KEY = "config_files"  # yaml_helper::configs_key
STRATEGIES = ("append", "override", "add-only")  # yaml_helper::strategy_from_string


@dataclass(frozen=True, slots=True)
class Plugin:
    name: str
    library_path: str  # resolved: a relative path is under PLUGINS_DIR
    init_config: Any = None


@dataclass(frozen=True, slots=True)
class AppendOutput:
    """One `append_output` entry (configuration.h, convert<append_output_config>)."""

    source: str = ""
    tags: frozenset[str] = frozenset()
    rule: str = ""
    extra_output: str = ""
    suggested_output: bool = False
    extra_fields: tuple[tuple[str, str | None], ...] = ()  # (key, format) or (field, None) for raw

    def applies(self, rule: str, source: str, tags: Collection[str]) -> bool:
        """rule_loader_compiler.cpp: source must match if set, the rule must have every tag, the rule
        name must match if set."""
        if self.source and source != self.source:
            return False
        if self.rule and rule != self.rule:
            return False
        return self.tags <= set(tags)

    def formats(self, suggested_fields: Sequence[str]) -> list[str]:
        """What this entry appends to a matching rule's output, in Falco's order
        (init_falco_engine.cpp configure_output_format: extra_output, then one format per suggested
        field of the loaded plugins)."""
        out = [self.extra_output] if self.extra_output else []
        if self.suggested_output:
            # format_suggested_field: "foo.bar" -> "foo_bar=%foo.bar"
            out += [f"{name.replace('.', '_')}=%{name}" for name in suggested_fields]
        return out


@dataclass(slots=True)
class LoadedConfig:
    """The merged configuration and what Falco derived from it."""

    data: dict[str, Any]
    #: path -> `ok` / `failed for ...`, in load order (main file first, then each drop-in)
    validation: dict[str, str]
    plugins: list[Plugin] = field(default_factory=list)
    rules_files: list[str] = field(default_factory=list)
    append_output: list[AppendOutput] = field(default_factory=list)

    def get(self, dotted: str, default: Any = None) -> Any:
        node: Any = self.data
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return default if node is None else node

    def flag(self, dotted: str, default: bool) -> bool:
        """A boolean the way yaml-cpp's `as<bool>` reads it (true/yes/on/y and their opposites)."""
        value = self.get(dotted, default)
        if isinstance(value, str):
            word = value.strip().lower()
            if word in ("true", "yes", "on", "y"):
                return True
            if word in ("false", "no", "off", "n"):
                return False
            return default
        return bool(value)

    def validation_lines(self) -> list[str]:
        """`Falco initialized with configuration files:` and one line per file. Falco keeps the results
        in a std::map (configuration.h `config_loaded_res`), so the lines come in path order."""
        lines = ["Falco initialized with configuration files:"]
        lines += [
            f"   {path} | schema validation: {status}" for path, status in sorted(self.validation.items())
        ]
        return lines

    def suggested_output(self) -> bool:
        return any(a.suggested_output for a in self.append_output)

    def suggested_fields(self) -> tuple[str, ...]:
        """Fields flagged as suggested output by what is loaded: the container plugin's (no syscall
        field of libsinsp carries the flag; falcotui.falco.image.CONTAINER_SUGGESTED_FIELDS)."""
        if any(p.library_path == CONTAINER_PLUGIN_LIBRARY for p in self.plugins):
            return CONTAINER_SUGGESTED_FIELDS
        return ()

    def extra_output(self, rule: str, source: str, tags: Collection[str]) -> list[str]:
        """The formats Falco appends (each after a space) to this rule's output
        (rule_loader_compiler.cpp: `rule.output = rule.output + " " + extra.m_format`)."""
        suggested = self.suggested_fields()
        return [f for a in self.append_output if a.applies(rule, source, tags) for f in a.formats(suggested)]

    def extra_fields(self, rule: str, source: str, tags: Collection[str]) -> list[tuple[str, str | None]]:
        """`extra_fields` that go into this rule's `output_fields` only (formats.cpp format_event)."""
        return [f for a in self.append_output if a.applies(rule, source, tags) for f in a.extra_fields]


# ---- files ------------------------------------------------------------------------------------------
def is_dir(files: Mapping[str, str], path: str, dirs: Collection[str] = ()) -> bool:
    prefix = path.rstrip("/") + "/"
    return path.rstrip("/") in dirs or any(p.startswith(prefix) for p in files)


def dir_files(files: Mapping[str, str], directory: str) -> list[str]:
    """Regular files directly inside `directory`, sorted (std::sort of the paths). A ConfigMap volume's
    `..data` and `..<timestamp>` entries are directories, so they are skipped; its keys are symlinks to
    regular files, which std::filesystem::is_regular_file follows."""
    prefix = directory.rstrip("/") + "/"
    return sorted(
        p
        for p in files
        if p.startswith(prefix)
        and (rest := p[len(prefix) :])
        and "/" not in rest
        and not rest.startswith("..")
    )


def _read(files: Mapping[str, str], path: str) -> Any:
    if path not in files:
        # yaml_helper::load_from_file -> YAML::LoadFile throws BadFile; falco prints this to stderr.
        raise ConfigError(f"Could not find configuration file at {path}")
    try:
        return yaml.safe_load(files[path])
    except yaml.YAMLError as exc:
        raise ConfigError(f"Cannot read config file ({path}): {' '.join(str(exc).split())}") from None


# ---- config_files ----------------------------------------------------------------------------------
def _include(root: dict[str, Any], doc: Any, strategy: str, path: str) -> None:
    """yaml_helper::include_config_file: top-level keys only (nested maps are replaced whole, never
    merged); `append` appends a sequence to the existing one and overrides anything else, `override`
    replaces, `add-only` sets only keys not yet defined. A drop-in may not name `config_files`."""
    if doc is None:
        return
    if not isinstance(doc, dict):
        raise ConfigError(f"Cannot read config file ({path}): the root node must be a map")
    for key, value in doc.items():
        if key == CONFIGS_KEY:
            raise ConfigError(f"Config error: '{CONFIGS_KEY}' directive in included config file {path}.")
        if strategy == "add-only":
            if key not in root:
                root[key] = value
        elif strategy == "append" and isinstance(value, list):
            current = root.get(key)
            if current is None:
                root[key] = list(value)
            elif isinstance(current, list):
                root[key] = [*current, *value]
            else:  # yaml-cpp Node::push_back on a scalar or map throws BadPushback
                raise ConfigError("appending to a non-sequence")
        else:
            root[key] = value


def _config_entries(value: Any) -> list[tuple[str, str]]:
    """`config_files` entries: a path, or `{path, strategy}` (configuration.h convert<config_files_config>;
    an unknown strategy name means `append`)."""
    items = value if isinstance(value, list) else [] if value is None else [value]
    out = []
    for item in items:
        if isinstance(item, dict):
            path, strategy = item.get("path"), str(item.get("strategy") or "append")
        else:
            path, strategy = item, "append"
        if path is None:
            continue
        out.append((str(path), strategy if strategy in STRATEGIES else "append"))
    return out


# ---- derived settings -------------------------------------------------------------------------------
def _plugins(data: Mapping[str, Any], main: str) -> list[Plugin]:
    """configuration.cpp load_yaml: with `load_plugins` defined, exactly those plugins in its order (an
    unknown name is fatal); without it, every `plugins` entry."""
    entries = data.get("plugins")
    defined: list[Plugin] = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not entry.get("name") or not entry.get("library_path"):
            raise ConfigError(
                f"Error reading config file({main}): could not load plugins config: bad conversion"
            )
        lib = str(entry["library_path"])
        if not lib.startswith("/"):
            lib = posixpath.normpath(posixpath.join(PLUGINS_DIR, lib))
            if not (lib + "/").startswith(PLUGINS_DIR + "/"):
                raise ConfigError(
                    f"Error reading config file({main}): could not load plugins config: plugin library_path "
                    f"'{entry['library_path']}' resolves outside the plugins directory ({PLUGINS_DIR})"
                )
        defined.append(Plugin(str(entry["name"]), lib, entry.get("init_config")))
    if "load_plugins" not in data:
        return defined
    wanted = data.get("load_plugins")
    names = [str(n) for n in (wanted if isinstance(wanted, list) else [] if wanted is None else [wanted])]
    chosen = []
    for name in names:
        match = next((p for p in defined if p.name == name), None)
        if match is None:
            raise ConfigError(f"Cannot load plugin '{name}': plugin config not found for given name")
        chosen.append(match)
    return chosen


def _append_output(data: Mapping[str, Any]) -> list[AppendOutput]:
    entries = data.get("append_output")
    out = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        match = entry.get("match") if isinstance(entry.get("match"), dict) else {}
        tags = match.get("tags") if isinstance(match.get("tags"), list) else []
        fields: list[tuple[str, str | None]] = []
        for f in entry.get("extra_fields") or []:
            if isinstance(f, dict) and len(f) == 1:
                ((k, v),) = f.items()
                fields.append((str(k), str(v)))
            elif isinstance(f, str):
                fields.append((f, None))
        suggested = entry.get("suggested_output")
        out.append(
            AppendOutput(
                source=str(match.get("source") or ""),
                tags=frozenset(str(t) for t in tags),
                rule=str(match.get("rule") or ""),
                extra_output=str(entry.get("extra_output") or ""),
                suggested_output=suggested is True or str(suggested).lower() == "true",
                extra_fields=tuple(fields),
            )
        )
    return out


def _rules_files(
    data: Mapping[str, Any], files: Mapping[str, str], dirs: Collection[str], main: str
) -> list[str]:
    """configuration.cpp load_yaml: `rules_files` (or the deprecated `rules_file`, not both); entries
    that do not exist are dropped silently."""
    if "rules_files" in data and "rules_file" in data:
        raise ConfigError(f"Error reading config file ({main}): both 'rules_files' and 'rules_file' keys set")
    value = data.get("rules_files", data.get("rules_file"))
    items = value if isinstance(value, list) else [] if value is None else [value]
    return [str(p) for p in items if str(p) in files or is_dir(files, str(p), dirs)]


def load_config(
    files: Mapping[str, str],
    main: str,
    options: Sequence[str] = (),
    schema: Mapping[str, Any] | None = None,
    dirs: Collection[str] = (),
    engine_kinds: Collection[str] | None = None,
) -> LoadedConfig:
    """configuration.cpp init_from_file: load and validate `main`, apply `-o config_files...` options,
    merge each `config_files` entry (a directory: all its regular files, sorted), apply every `-o`
    option, then derive plugins, rules files and append_output. Raises ConfigError where Falco exits."""

    def check(doc: Any) -> str:
        return validate_config(doc, schema) if schema is not None else "none"

    doc = _read(files, main)
    if doc is not None and not isinstance(doc, dict):
        raise ConfigError(f"Cannot read config file ({main}): the root node must be a map")
    validation = {main: check(doc)}
    data: dict[str, Any] = dict(doc or {})
    for opt in options:
        if opt.startswith(CONFIGS_KEY):  # load_cmdline_config_files: these first
            set_option(data, opt)
    for path, strategy in _config_entries(data.get(CONFIGS_KEY)):
        if posixpath.normpath(path) == posixpath.normpath(main):
            raise ConfigError(
                f"Config error: '{CONFIGS_KEY}' directive tried to recursively include main config "
                f"file: {main}."
            )
        if path in files:
            targets = [path]
        elif is_dir(files, path, dirs):
            targets = dir_files(files, path)  # every regular file, no extension filter
        else:
            continue  # "Same we do for rules_file: just skip the entry."
        for target in targets:
            extra = _read(files, target)
            validation[target] = check(extra)
            _include(data, extra, strategy, target)
    for opt in options:
        set_option(data, opt)
    loaded = LoadedConfig(data, validation)
    if engine_kinds is not None:
        # configuration.cpp load_engine_config: the default kind is kmod; an unknown kind is fatal
        kind = str(loaded.get("engine.kind", "kmod"))
        if kind not in engine_kinds:
            raise ConfigError(
                f"Error reading config file ({main}): engine.kind '{kind}' is not a valid kind."
            )
    loaded.rules_files = _rules_files(data, files, dirs, main)
    loaded.append_output = _append_output(data)
    loaded.plugins = _plugins(data, main)
    return loaded


def schema_failures(loaded: LoadedConfig) -> dict[str, str]:
    """The files whose schema validation did not pass, with Falco's status text."""
    return {p: s for p, s in loaded.validation.items() if s != VALIDATION_OK}
