"""The response-action log: one `ActionRecord` per action taken (or refused) — who, when, what, on which
object, for which alert, with what result — appended to a JSONL file that the TUI shows, the CLI prints
and the incident report reads. The JSON shape is stable: `ActionRecord.to_json()` keys never change
meaning; new keys may only be added."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import platformdirs

from falcotui.falco.sanitize import sanitize

#: `FALCOTUI_ACTION_LOG` names the file instead of the user's data dir (tests, shared bastion accounts).
ENV_PATH = "FALCOTUI_ACTION_LOG"
SCHEMA = 1


def default_path() -> Path:
    """`$FALCOTUI_ACTION_LOG`, else `<user data dir>/falcotui/actions.jsonl` (~/.local/share on Linux)."""
    env = os.environ.get(ENV_PATH)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("falcotui")) / "actions.jsonl"


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class AlertRef:
    """The alert an action answered, as recorded (already sanitized and bounded)."""

    rule: str
    priority: str
    time: str
    node: str = ""
    namespace: str = ""
    pod: str = ""

    @classmethod
    def of(cls, data: dict[str, Any] | None) -> AlertRef | None:
        if not data:
            return None
        return cls(**{k: sanitize(str(data.get(k) or ""), max_len=300) for k in cls.__slots__})


@dataclass(frozen=True, slots=True)
class ActionRecord:
    """One response action. `result`: done | failed | refused (RBAC, read-only) | cancelled."""

    at: str  # ISO 8601 UTC
    who: str  # the kubeconfig user (context and user name) the action ran as
    context: str
    action: str  # delete-pod | cordon | uncordon | quarantine | unquarantine | annotate
    target: str  # "Pod shop/web-7d9c-x2x4z", "Node ip-10-0-1-23"
    result: str
    detail: str = ""
    alert: AlertRef | None = None
    undo_of: str = ""  # for an undo: the `at` of the action it reverses, when known
    schema: int = field(default=SCHEMA)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["alert"] = asdict(self.alert) if self.alert else None
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ActionRecord:
        keep = {k: data.get(k, "") for k in cls.__slots__ if k not in ("alert", "schema")}
        return cls(**keep, alert=AlertRef.of(data.get("alert")), schema=int(data.get("schema") or SCHEMA))


class ActionLog:
    """Append-only JSONL file of `ActionRecord`s; safe to share between threads of one process."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()
        self._lock = threading.Lock()

    def append(self, record: ActionRecord) -> None:
        line = json.dumps(record.to_json(), ensure_ascii=True, sort_keys=True)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")

    def records(self) -> list[ActionRecord]:
        """Every record, oldest first; a line that is not a record (a torn write) is skipped."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        out: list[ActionRecord] = []
        for line in text.splitlines():
            try:
                data = json.loads(line)
            except ValueError:
                continue
            if isinstance(data, dict):
                out.append(ActionRecord.from_json(data))
        return out

    def export(self, dest: Path) -> int:
        """Write every record to `dest` as JSONL; returns how many."""
        records = self.records()
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(
            "".join(json.dumps(r.to_json(), ensure_ascii=True, sort_keys=True) + "\n" for r in records),
            encoding="utf-8",
        )
        return len(records)
