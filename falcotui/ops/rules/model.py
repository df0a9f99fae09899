"""The rules workflow's vocabulary: where the rules live and what pull, validate and push hand back.

The `falco-rules` ConfigMap holds one rules file per key (a valid ConfigMap key), mounted at
`/etc/falco/rules.d`, which Falco loads after the image's `/etc/falco/falco_rules.yaml` in lexical order.
The workflow itself (`RulesService`) is service.py; these are its results, shared by the TUI and the CLI.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from falcotui.falco.rules.loader import LoadResult
from falcotui.falco.rules.results import Message
from falcotui.ops.rules.target import RulesTarget

RULES_CONFIGMAP = "falco-rules"
RULES_DIR = "/etc/falco/rules.d"
DEFAULT_RULES_PATH = "/etc/falco/falco_rules.yaml"
CONFIGMAP_KEY = re.compile(r"[-._a-zA-Z0-9]+")  # what a ConfigMap key may hold (fullmatch)
MAX_KEY_LEN = 253


class RulesError(Exception):
    """A rules operation could not be done; `str()` says why, readably."""


@dataclass(frozen=True, slots=True)
class RulesSnapshot:
    files: dict[str, str]  # key (file name) -> rules text, in key order
    resource_version: str


@dataclass(frozen=True, slots=True)
class DefaultRules:
    text: str
    image: str
    pod: str
    path: str = DEFAULT_RULES_PATH


@dataclass(slots=True)
class Validation:
    result: LoadResult
    target: RulesTarget | None = None  # the Falco version validated for, and why

    @property
    def ok(self) -> bool:
        return self.result.successful

    @property
    def errors(self) -> list[Message]:
        return self.result.errors

    @property
    def warnings(self) -> list[Message]:
        """Falco's warnings about the custom files (the default rules' own warnings are not ours)."""
        return [m for m in self.result.warnings if m.file.startswith(RULES_DIR + "/")]


class PushStatus(StrEnum):
    PUSHED = "pushed"
    UNCHANGED = "unchanged"  # the ConfigMap already holds exactly these files: nothing sent
    INVALID = "invalid"  # validation errors: nothing sent
    NEEDS_CONFIRMATION = "needs confirmation"  # warnings: nothing sent until allowed
    CONFLICT = "conflict"  # someone pushed since the edit started: nothing overwritten


@dataclass(frozen=True, slots=True)
class Conflict:
    base_rv: str  # the version our edit started from
    theirs_rv: str
    theirs: dict[str, str]
    ours: dict[str, str]
    diff: str  # unified diff, theirs -> ours, per file


@dataclass(slots=True)
class PushResult:
    status: PushStatus
    validation: Validation | None = None
    resource_version: str = ""  # the new one after a push
    pushed_at_ns: int = 0
    version: int | None = None  # the history version recorded
    conflict: Conflict | None = None
    history_error: str = ""  # the push succeeded but the history could not be written
    forced: bool = False  # invalid rules pushed with force_invalid
    # where each Falco pod's log stood just before the push (pod uid -> last timestamp, node clock) and the
    # push's time by the API server's clock: what "since the push" means to the reload tracker
    log_marks: dict[str, int | None] = field(default_factory=dict)
    server_time_ns: int | None = None


def files_diff(
    before: Mapping[str, str], after: Mapping[str, str], a: str = "theirs", b: str = "ours"
) -> str:
    """A unified diff of two file sets, file by file (in key order)."""
    out: list[str] = []
    for key in sorted(set(before) | set(after)):
        x, y = before.get(key), after.get(key)
        if x == y:
            continue
        out.extend(
            difflib.unified_diff(
                (x or "").splitlines(keepends=True),
                (y or "").splitlines(keepends=True),
                f"{a}/{key}" if x is not None else "/dev/null",
                f"{b}/{key}" if y is not None else "/dev/null",
            )
        )
    return "".join(line if line.endswith("\n") else line + "\n" for line in out)
