"""What a simulated Falco's hot reload looks at: the files it watches (its config files, rules files and
rules directories, as Falco's config watcher does with inotify), the rules a config loads, and the dry run
Falco makes before it restarts (what the restart would fail with, and the log lines printed on the way).
"""

from __future__ import annotations

from falcotui.sim.falco.config import (
    FalcoArgs,
    FalcoConfig,
    FalcoStartupError,
    FalcoVersion,
    load_config,
    resolve_rules_files,
    rules_paths,
)
from falcotui.sim.falco.ruleset import Ruleset, load_files
from falcotui.sim.falco.startup import (
    config_lines,
    hostname_lines,
    plugin_lines,
    plugin_requirement_error,
    rule_selection_lines,
    rules_lines,
    source_lines,
)


def load_rules(
    files: dict[str, str], cfg: FalcoConfig, args: FalcoArgs, version: FalcoVersion
) -> tuple[Ruleset, dict]:
    """The rules `cfg` names, loaded from `files`, and the watched files they come from (with the list of
    rules files read from the directories, so that a file added or removed there counts as a change)."""
    paths = resolve_rules_files(files, rules_paths(cfg, args))
    ruleset = load_files(paths, [files[p] for p in paths], version.text)
    watched = {p: files[p] for p in paths}
    watched["<rules dirs>"] = "\n".join(paths)
    return ruleset, watched


def watched_files(files: dict[str, str], args: FalcoArgs, version: FalcoVersion) -> dict[str, str] | None:
    """The files Falco watches (its config files, rules files and directories) as they are in `files`;
    None when the config cannot be read (then any change counts)."""
    try:
        cfg = load_config(files, args, version)
        paths = resolve_rules_files(files, rules_paths(cfg, args))
    except FalcoStartupError:
        return None
    now = {p: files.get(p, "") for p in paths}
    now["<rules dirs>"] = "\n".join(paths)
    for path in cfg.validation:
        now[path] = files.get(path, "")
    return now


def dry_run(
    files: dict[str, str], args: FalcoArgs, version: FalcoVersion, hostname: str | None
) -> tuple[str | None, list[str]]:
    """What a restart would fail with (None: nothing) and the log lines the dry run prints on the way
    (Falco validates before it restarts). `hostname` is the container's FALCO_HOSTNAME, if set."""
    lines: list[str] = []
    try:
        cfg = load_config(files, args, version)
        lines += config_lines(version, cfg) + plugin_lines(version, cfg)
        ruleset, _ = load_rules(files, cfg, args, version)
    except FalcoStartupError as exc:
        return str(exc), lines
    lines += rules_lines(ruleset)
    if (missing := plugin_requirement_error(version, cfg, ruleset)) is not None:
        return missing, lines
    if not ruleset.ok:
        return ruleset.error_text(), lines
    lines += rule_selection_lines(cfg)
    lines += hostname_lines(hostname)
    lines += [s for s in source_lines(cfg, args.disabled_sources) if not s.startswith("Opening ")]
    return None, lines
