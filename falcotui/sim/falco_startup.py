"""The text a simulated Falco writes about itself, in Falco's exact formats: the timestamped startup and
reload log lines (stderr), `falco --version`, and the `falco -V` validation output."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import orjson

from falcotui.falco.rules.dialect import dialect_for
from falcotui.sim.falco_config import FalcoConfig, FalcoStartupError, FalcoVersion, parse_args
from falcotui.sim.falco_ruleset import Ruleset, load_files

_ENGINE_KINDS = {
    "modern_ebpf": "Opening 'syscall' source with modern BPF probe.",
    "kmod": "Opening 'syscall' source with Kernel module",
    "ebpf": "Opening 'syscall' source with BPF probe. BPF probe path: /root/.falco/falco-bpf.o",
    "nodriver": "Opening 'syscall' source with no driver",
}


def log_time(time_s: float | None = None) -> str:
    """Falco's log-line timestamp, C `%c`: `Thu Nov 26 09:00:01 2026` (day padded with a space)."""
    return time.strftime("%a %b %e %H:%M:%S %Y", time.gmtime(time.time() if time_s is None else time_s))


def engine_version(version: FalcoVersion) -> str:
    """The rules engine version of that Falco (falco_engine_version.h; see `falco.rules.dialect`)."""
    return dialect_for(version.text).engine_text


def version_text(version: FalcoVersion) -> str:
    """`falco --version`."""
    return (
        f"Falco version: {version.text}\n"
        # 0.45's libs is a commit past 0.25.4 (Falco master pins no tag): shown as 0.25.4
        f"Libs version:  {dialect_for(version.text).libs_version.rstrip('+')}\n"
        "Plugin API:    3.10.0\n"
        f"Engine:        {engine_version(version)}\n"
        "Driver:\n"
        "  API version:    8.0.0\n"
        "  Schema version: 3.60.0\n"
        "  Default driver: 8.1.0+driver\n"
    )


def config_lines(version: FalcoVersion, cfg: FalcoConfig) -> list[str]:
    lines = [f"Falco version: {version.text} (x86_64)", "Falco initialized with configuration files:"]
    for f in cfg.files:
        status = "ok" if f.schema_error is None else f"failed for {f.schema_error}"
        lines.append(f"   {f.path} | schema validation: {status}")
    return lines


def plugin_lines(version: FalcoVersion, cfg: FalcoConfig) -> list[str]:
    wanted = cfg.get("load_plugins")
    plugins = cfg.get("plugins") or []
    lines = []
    for p in plugins if isinstance(plugins, list) else []:
        if not isinstance(p, dict) or not p.get("name"):
            continue
        if isinstance(wanted, list) and p["name"] not in wanted:
            continue
        lib = str(p.get("library_path", f"lib{p['name']}.so"))
        if not lib.startswith("/"):
            lib = f"/usr/share/falco/plugins/{lib}"
        plugin_version = version.container_plugin if p["name"] == "container" else "0.1.0"
        lines.append(f"Loaded plugin '{p['name']}@{plugin_version}' from file {lib}")
    return lines


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


def validate_output(version: FalcoVersion, ruleset: Ruleset, json_output: bool) -> tuple[list[str], str]:
    """`falco -V FILE...`: (stderr log lines, stdout text)."""
    stderr = [f"Falco version: {version.text} (x86_64)", "Validating rules file(s):"]
    stderr += [f"   {p}" for p in ruleset.files]
    if json_output:
        return stderr, orjson.dumps(ruleset.validation_json()).decode() + "\n"
    return stderr, ruleset.validation_text()


def run_falco_cli(version: FalcoVersion, files: Mapping[str, str], argv: list[str]) -> tuple[int, str, str]:
    """Run `falco` with a one-shot command line: (exit code, stdout, stderr)."""
    try:
        args = parse_args(argv)
    except FalcoStartupError as exc:
        return 1, "", f"Error: {exc}\n"
    if args.version:
        return 0, version_text(version), ""
    if not args.validate:
        return 1, "", "Error: this simulated falco only runs --version and -V in exec\n"
    json_output = any(k == "json_output" and v.strip().lower() == "true" for k, v in args.options)
    missing = [p for p in args.validate if p not in files]
    if missing:
        return 1, "", f"Error: Could not read rules file {missing[0]}: No such file or directory\n"
    ruleset = load_files(args.validate, [files[p] for p in args.validate], version.text)
    log, out = validate_output(version, ruleset, json_output)
    stderr = "".join(f"{log_time()}: {line}\n" for line in log)
    return (0 if ruleset.ok else 1), out, stderr
