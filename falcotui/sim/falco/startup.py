"""The text a simulated Falco writes about itself, in Falco's exact formats: the timestamped startup and
reload log lines (stderr), `falco --version`, and the `falco -V` validation output."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import orjson

from falcotui.falco.image import IMAGE_PLUGIN_LIBRARIES
from falcotui.falco.rules.dialect import dialect_for
from falcotui.sim.falco.config import FalcoConfig, FalcoStartupError, FalcoVersion, load_config, parse_args
from falcotui.sim.falco.ruleset import Ruleset, load_files

#: `falco --version`'s plugin API and driver lines per image release (print_version.cpp): plugin API =
#: libs userspace/plugin/plugin_api.h and driver API/schema = libs driver/API_VERSION, SCHEMA_VERSION at
#: the libs tag falcosecurity/falco pins (cmake/modules/falcosecurity-libs.cmake: 0.23.2 at 0.43.1, 0.25.4
#: at 0.44.1), default driver = falco cmake/modules/driver.cmake. The master snapshot pins libs and driver
#: to commit c6e56483b422, not in the libs history available here: 0.44.1's values, not verified.
_DRIVER = {
    "0.43.1": ("3.12.0", "8.0.4", "4.1.0", "9.1.0+driver"),
    "0.44.1": ("3.12.0", "10.1.0", "4.5.1", "10.2.0+driver"),
    "main-2026-07-31": ("3.12.0", "10.1.0", "4.5.1", "c6e56483b4228bd5c9943cb26aea5f4312df0f03"),
}
_ENGINE_KINDS = {
    "modern_ebpf": "Opening 'syscall' source with modern BPF probe.",
    "kmod": "Opening 'syscall' source with Kernel module",
    "ebpf": "Opening 'syscall' source with BPF probe. BPF probe path: /root/.falco/falco-bpf.o",
    "nodriver": "Opening 'syscall' source with no driver",
}


def log_time(time_s: float | None = None, iso8601: bool = False) -> str:
    """Falco's log-line timestamp (userspace/engine/logger.cpp falco_logger::log): `%a %b %d %H:%M:%S %Y`
    (`Sun Dec 06 10:28:11 2026`, local time, which is UTC in the image), or `%FT%T%z`
    (`2026-12-06T10:28:11+0000`) once the loaded config has `time_format_iso_8601: true`
    (load_config.cpp calls falco_logger::set_time_format_iso_8601 right after loading it)."""
    t = time.gmtime(time.time() if time_s is None else time_s)
    return time.strftime("%Y-%m-%dT%H:%M:%S+0000" if iso8601 else "%a %b %d %H:%M:%S %Y", t)


def engine_version(version: FalcoVersion) -> str:
    """The rules engine version of that Falco (falco_engine_version.h; see `falco.rules.dialect`)."""
    return dialect_for(version.text).engine_text


def version_text(version: FalcoVersion) -> str:
    """`falco --version` (print_version.cpp)."""
    plugin_api, driver_api, driver_schema, driver = _DRIVER[version.release]
    return (
        f"Falco version: {version.text}\n"
        # 0.45's libs is a commit past 0.25.4 (Falco master pins no tag): shown as 0.25.4
        f"Libs version:  {dialect_for(version.text).libs_version.rstrip('+')}\n"
        f"Plugin API:    {plugin_api}\n"
        f"Engine:        {engine_version(version)}\n"
        "Driver:\n"
        f"  API version:    {driver_api}\n"
        f"  Schema version: {driver_schema}\n"
        f"  Default driver: {driver}\n"
    )


def config_lines(version: FalcoVersion, cfg: FalcoConfig) -> list[str]:
    """load_config.cpp: the version line, then every loaded config file with its schema validation."""
    return [f"Falco version: {version.text} (x86_64)", *cfg.validation_lines()]


def plugin_lines(version: FalcoVersion, cfg: FalcoConfig) -> list[str]:
    """load_plugins.cpp: one line per plugin in load order. The image installs only the container plugin
    library; sinsp cannot dlopen any other (plugin_loader.c: "can't load plugin dynamic library:")."""
    lines: list[str] = []
    loaded: set[str] = set()
    for p in cfg.plugins:
        if p.name in loaded:  # libs plugin_manager.h add(): a second plugin of the same name
            raise FalcoStartupError(f"found another plugin with name {p.name}. Aborting.")
        loaded.add(p.name)
        if p.library_path not in IMAGE_PLUGIN_LIBRARIES:
            raise FalcoStartupError(
                f"can't load plugin dynamic library: {p.library_path}: cannot open shared object file: "
                "No such file or directory"
            )
        lines.append(f"Loaded plugin '{p.name}@{version.container_plugin}' from file {p.library_path}")
    return lines


def _semver(text: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in text.split("-")[0].split("+")[0].split("."))


def plugin_requirement_error(version: FalcoVersion, cfg: FalcoConfig, ruleset: Ruleset) -> str | None:
    """The rules' `required_plugin_versions` against the loaded plugins (load_rules_files.cpp ->
    falco_engine::check_plugin_requirements): every group needs one loaded plugin of that name at that
    version or newer; this failure takes priority over the rules' own errors."""
    loaded = {p.name: version.container_plugin for p in cfg.plugins}
    for alternatives in ruleset.load.result.required_plugin_versions:
        if not any(n in loaded and _semver(loaded[n]) >= _semver(v) for n, v in alternatives):
            wanted = ", ".join(f"{n} (>= {v})" for n, v in alternatives)
            return f"Plugin requirement not satisfied, must load one of: {wanted}"
    return None


def rules_lines(ruleset: Ruleset) -> list[str]:
    lines = ["Loading rules from:"]
    failed_yaml = {
        f.name
        for f in ruleset.load.files
        if any(e.code in ("LOAD_ERR_YAML_PARSE", "LOAD_ERR_YAML_VALIDATE") for e in f.errors)
    }
    for path in ruleset.files:
        lines.append(f"   {path} | schema validation: {'failed' if path in failed_yaml else 'ok'}")
    return lines


def rule_selection_lines(cfg: FalcoConfig) -> list[str]:
    """load_rules_files.cpp, after a successful load: one line per `rules:` selection of falco.yaml
    (`- disable: {rule: X}` / `- enable: {tag: T}`, configuration.h convert<rule_selection_config>)."""
    lines = []
    for entry in cfg.get("rules") or []:
        if not isinstance(entry, dict):
            continue
        for action in ("enable", "disable"):
            sel = entry.get(action)
            if not isinstance(sel, dict):
                continue
            verb = "Enabling" if action == "enable" else "Disabling"
            if sel.get("rule"):
                lines.append(f"{verb} rules with name: {sel['rule']}")
            if sel.get("tag"):
                lines.append(f"{verb} rules with tag: {sel['tag']}")
    return lines


def hostname_lines(env_hostname: str | None) -> list[str]:
    if env_hostname:
        return [f"Hostname value has been overridden via environment variable to: {env_hostname}"]
    return []


def source_lines(cfg: FalcoConfig, disabled: Sequence[str]) -> list[str]:
    enabled = [s for s in ("syscall",) if s not in disabled]
    lines = ["Loaded event sources: syscall", f"Enabled event sources: {', '.join(enabled)}"]
    kind = str(cfg.get("engine.kind", "modern_ebpf"))
    lines.append(_ENGINE_KINDS.get(kind, _ENGINE_KINDS["modern_ebpf"]))
    return lines


def grpc_lines(bind_address: str, threadiness: int) -> list[str]:
    return [
        f"gRPC server threadiness equals to {threadiness}",
        f"Starting gRPC server at {bind_address}",
    ]


def webserver_lines(cfg: FalcoConfig) -> list[str]:
    if not cfg.flag("webserver.enabled", True):
        return []
    threads = cfg.get("webserver.threadiness", 0)
    threads = threads if isinstance(threads, int) and threads > 0 else 2
    address = cfg.get("webserver.listen_address", "0.0.0.0")
    port = cfg.get("webserver.listen_port", 8765)
    return [f"Starting health webserver with threadiness {threads}, listening on {address}:{port}"]


def run_falco_cli(version: FalcoVersion, files: Mapping[str, str], argv: list[str]) -> tuple[int, str, str]:
    """Run `falco` with a one-shot command line: (exit code, stdout, stderr).

    `-V` runs Falco's action list up to validate_rules_files (app.cpp): load_config (`-c`, else the
    image's /etc/falco/falco.yaml, with its config.d and `-o`), require_config_file, load_plugins, then the
    validation; the config decides the log's time format and `json_output`."""
    try:
        args = parse_args(argv)
    except FalcoStartupError as exc:
        return 1, "", f"Error: {exc}\n"
    if args.version:
        return 0, version_text(version), ""
    if not args.validate:
        return 1, "", "Error: this simulated falco only runs --version and -V in exec\n"
    if args.config_path not in files:  # options.cpp falls back to no config file; require_config_file
        return 1, "", f"Error: You must create a config file at {args.config_path} or by passing -c\n"
    try:
        cfg = load_config(files, args, version)
        log = [*config_lines(version, cfg), *plugin_lines(version, cfg)]
    except FalcoStartupError as exc:
        return 1, "", f"Error: {exc}\n"
    missing = [p for p in args.validate if p not in files]
    if missing:  # helpers.h read_files: throw falco_exception("Could not open file " + f + " for reading")
        return 1, "", f"Error: Could not open file {missing[0]} for reading\n"
    ruleset = load_files(args.validate, [files[p] for p in args.validate], version.text)
    iso = cfg.flag("time_format_iso_8601", False)
    log.extend(["Validating rules file(s):", *(f"   {p}" for p in ruleset.files)])
    # validate_rules_files.cpp checks the rules' plugin requirements after each file and stops with
    # run_result::fatal(err) before anything reaches stdout
    if (requirement := plugin_requirement_error(version, cfg, ruleset)) is not None:
        return 1, "", _log_text(log, iso) + f"Error: {requirement}\n"
    summary, warned = ruleset.validate_summary()
    if cfg.flag("json_output", False):  # one JSON object for every file: res.dump() << std::endl
        out = orjson.dumps(ruleset.validation_json()).decode() + "\n"
    else:
        out = summary + "\n"  # std::cout << summary << std::endl
    log.extend(report.rstrip("\n") for report in warned)  # WARNING: the full report of "Ok, with warnings"
    stderr = _log_text(log, iso)
    if not ruleset.ok:  # run_result::fatal(summary); falco.cpp: fprintf(stderr, "Error: %s\n", errstr)
        return 1, out, stderr + f"Error: {summary}\n"
    return 0, out, stderr


def _log_text(lines: list[str], iso8601: bool) -> str:
    return "".join(f"{log_time(None, iso8601)}: {line}\n" for line in lines)
