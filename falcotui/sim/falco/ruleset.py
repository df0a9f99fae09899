"""Load a simulated Falco's rules files through the project's rules validator, and word the outcome the
way Falco does (`<file>: Ok` / `<file>: Invalid` reports, `falco -V -o json_output=true` JSON)."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from falcotui.falco.rules.dialect import PINNED_FALCO_VERSION
from falcotui.sim.falco.config import FalcoConfig
from falcotui.sim.falco.rules_api import LoadedRule, RulesLoad, file_report, load_ruleset

PRIORITY_NAMES = ("Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug")
_PRIORITY_ALIASES = {name.lower(): name for name in PRIORITY_NAMES} | {"info": "Informational"}


def canonical_priority(text: str) -> str | None:
    """`WARNING`, `warning`, `info` → Falco's output spelling (`Warning`, `Informational`)."""
    return _PRIORITY_ALIASES.get(text.strip().lower())


def priority_rank(name: str) -> int:
    """0 for Emergency … 7 for Debug (unknown → Debug)."""
    canonical = canonical_priority(name)
    return PRIORITY_NAMES.index(canonical) if canonical else len(PRIORITY_NAMES) - 1


@dataclass(frozen=True, slots=True)
class Ruleset:
    """What one (re)start loaded: the files in load order and every rule that can fire."""

    files: tuple[str, ...]
    load: RulesLoad

    @property
    def ok(self) -> bool:
        return self.load.ok

    @property
    def rules(self) -> list[LoadedRule]:
        return self.load.rules

    def active_rules(self, min_priority: str = "debug", disabled: Sequence[str] = ()) -> list[LoadedRule]:
        """Enabled rules at or above Falco's `priority` setting, minus those falco.yaml disables."""
        floor = priority_rank(min_priority)
        off = set(disabled)
        return [
            r
            for r in self.load.rules
            if r.enabled and priority_rank(r.priority) <= floor and r.name not in off
        ]

    def error_text(self) -> str:
        """Falco's wording for a failed load (after `Error: ` at start, in the hot-restart alert)."""
        return "".join(self.load.file_reports(only_failed=True))

    def validation_json(self) -> dict:
        return self.load.json_results()

    def validate_summary(self) -> tuple[str, list[str]]:
        """(stdout summary, warning reports for the log) of `falco -V`, validate_rules_files.cpp: per
        file, in order, separated by a newline: the full report of an invalid file or of a clean valid
        one (`<file>: Ok`), only `<file>: Ok, with warnings` for a valid file with warnings, whose full
        report goes to the log at WARNING instead."""
        parts: list[str] = []
        warned: list[str] = []
        texts = self.load.result.texts
        for f in self.load.result.files:
            if f.successful and not f.warnings:
                parts.append(f"{f.name}: Ok")
            elif f.successful:
                parts.append(f"{f.name}: Ok, with warnings")
                warned.append(file_report(f, texts))
            else:
                parts.append(file_report(f, texts))
        return "\n".join(parts), warned


def load_files(
    paths: Sequence[str], contents: Sequence[str], falco_version: str = PINNED_FALCO_VERSION
) -> Ruleset:
    """Validate the rules files in order as one collection (custom rules on top of the defaults), as the
    loader of `falco_version` does (0.43 refuses the 0.44+ syntax, see `falco.rules.dialect`).

    Every Falco of a DaemonSet loads the same files (and dry-runs the same update): the result is shared.
    """
    return _load_cached(tuple(paths), tuple(contents), falco_version)


@lru_cache(maxsize=32)
def _load_cached(paths: tuple[str, ...], contents: tuple[str, ...], falco_version: str) -> Ruleset:
    return Ruleset(paths, load_ruleset(list(zip(paths, contents, strict=True)), falco_version))


def disabled_by_config(cfg: FalcoConfig, ruleset: Ruleset) -> list[str]:
    """Rules falco.yaml's `rules:` section turns off (`disable: {rule: name|tag: t}`), in order."""
    enabled = {r.name: r.enabled for r in ruleset.rules}
    for entry in cfg.get("rules") or []:
        if not isinstance(entry, dict):
            continue
        for action, want in (("disable", False), ("enable", True)):
            sel = entry.get(action)
            if not isinstance(sel, dict):
                continue
            for r in ruleset.rules:
                if ("rule" in sel and fnmatch.fnmatchcase(r.name, str(sel["rule"]))) or (
                    "tag" in sel and str(sel["tag"]) in r.tags
                ):
                    enabled[r.name] = want
    return [name for name, on in enabled.items() if not on]
