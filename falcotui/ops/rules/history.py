"""Keep the last N pushed versions of the rules in a history ConfigMap, safe against concurrent writers.

`falco-rules-history` holds one data key per version (`v000012`, a JSON object of the version's files)
and one annotation per version (`falcotui.io/v000012`: author, field manager, time, message, the
resourceVersion the edit started from and the one the push produced, what kind of push it was). Writes
replace the ConfigMap carrying its resourceVersion and retry on a 409, so two pushers never lose each
other's entries. The oldest versions are dropped beyond `limit` (and whenever the object would outgrow a
ConfigMap's size limit).
"""

from __future__ import annotations

import datetime as _dt
import json
import random
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass

from falcotui.kube.client import KubeClients
from falcotui.kube.errors import KubeApiError, KubeError
from falcotui.kube.resources import CONFIGMAPS
from falcotui.ops.deploy.ownership import CREATED, OWNERSHIP

HISTORY_CONFIGMAP = "falco-rules-history"
ANNOTATION_PREFIX = "falcotui.io/"
FIELD_MANAGER = "falcotui"
MAX_BYTES = 900_000  # ConfigMaps are limited to 1 MiB in total
_KEY = re.compile(r"^v(\d{6})$")
_ATTEMPTS = 20


class HistoryError(Exception):
    """The history ConfigMap could not be read or written, or holds no such version."""


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    version: int
    files: dict[str, str]
    author: str = ""
    manager: str = FIELD_MANAGER
    time: str = ""  # ISO 8601 UTC
    message: str = ""
    kind: str = "push"  # initial | push | rollback
    source_rv: str = ""  # the ConfigMap version the edit started from
    pushed_rv: str = ""  # the ConfigMap version the push produced

    @property
    def key(self) -> str:
        return f"v{self.version:06d}"

    def meta(self) -> dict[str, str]:
        return {
            "author": self.author,
            "manager": self.manager,
            "time": self.time,
            "message": self.message,
            "kind": self.kind,
            "sourceResourceVersion": self.source_rv,
            "pushedResourceVersion": self.pushed_rv,
        }


def now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_history(cm: Mapping | None) -> list[HistoryEntry]:
    """The entries of a history ConfigMap, oldest first; unreadable keys are skipped."""
    if not cm:
        return []
    data = cm.get("data") or {}
    annotations = (cm.get("metadata") or {}).get("annotations") or {}
    out: list[HistoryEntry] = []
    for key, value in data.items():
        m = _KEY.match(key)
        if not m:
            continue
        try:
            files = json.loads(value)
            meta = json.loads(annotations.get(ANNOTATION_PREFIX + key) or "{}")
        except ValueError:
            continue
        if not isinstance(files, dict) or not isinstance(meta, dict):
            continue
        out.append(
            HistoryEntry(
                version=int(m.group(1)),
                files={str(k): str(v) for k, v in files.items()},
                author=str(meta.get("author", "")),
                manager=str(meta.get("manager", FIELD_MANAGER)),
                time=str(meta.get("time", "")),
                message=str(meta.get("message", "")),
                kind=str(meta.get("kind", "push")),
                source_rv=str(meta.get("sourceResourceVersion", "")),
                pushed_rv=str(meta.get("pushedResourceVersion", "")),
            )
        )
    return sorted(out, key=lambda e: e.version)


def _size(entries: list[HistoryEntry]) -> int:
    return sum(len(json.dumps(e.files)) + len(json.dumps(e.meta())) for e in entries)


class RulesHistory:
    """Read and append to the history ConfigMap of one namespace."""

    def __init__(
        self, clients: KubeClients, namespace: str, name: str = HISTORY_CONFIGMAP, limit: int = 10
    ) -> None:
        if limit < 1:
            raise HistoryError("the history must keep at least one version")
        self.clients = clients
        self.namespace = namespace
        self.name = name
        self.limit = limit

    def _read(self) -> dict | None:
        try:
            return CONFIGMAPS.get(self.clients, self.namespace, self.name)
        except KubeError as exc:
            raise HistoryError(f"cannot read the rules history: {exc}") from exc

    def entries(self) -> list[HistoryEntry]:
        """Every kept version, oldest first."""
        return parse_history(self._read())

    def get(self, version: int) -> HistoryEntry:
        entries = self.entries()
        for e in entries:
            if e.version == version:
                return e
        kept = ", ".join(str(e.version) for e in entries) or "none"
        raise HistoryError(f"no rules version {version} in the history (kept versions: {kept})")

    def record(
        self,
        files: Mapping[str, str],
        *,
        author: str,
        message: str,
        kind: str,
        source_rv: str,
        pushed_rv: str,
        before: tuple[Mapping[str, str], str] | None = None,
    ) -> HistoryEntry:
        """Append a version. `before` = (files, rv) of the content the push replaced: recorded first as
        the `initial` version when the history is empty, so the first push can be rolled back too."""
        for attempt in range(_ATTEMPTS):
            cm = self._read()
            entries = parse_history(cm)
            number = entries[-1].version + 1 if entries else 1
            if not entries and before is not None:
                entries.append(
                    HistoryEntry(
                        number,
                        dict(before[0]),
                        author="",
                        time=now_iso(),
                        message="the rules before the first push",
                        kind="initial",
                        source_rv=before[1],
                        pushed_rv=before[1],
                    )
                )
                number += 1
            entry = HistoryEntry(
                number,
                dict(files),
                author=author,
                time=now_iso(),
                message=message,
                kind=kind,
                source_rv=source_rv,
                pushed_rv=pushed_rv,
            )
            entries.append(entry)
            entries = entries[-self.limit :]
            while len(entries) > 1 and _size(entries) > MAX_BYTES:
                entries = entries[1:]
            if self._write(cm, entries):
                return entry
            time.sleep(random.uniform(0, 0.02 * (attempt + 1)))  # lost a race: let the winner finish
        raise HistoryError("the rules history kept changing under us; the version was not recorded")

    def _write(self, cm: dict | None, entries: list[HistoryEntry]) -> bool:
        """Create or replace (with the read resourceVersion); False on a lost race."""
        meta: dict = {
            "name": self.name,
            "namespace": self.namespace,
            "labels": {"app.kubernetes.io/part-of": "falcotui", "app.kubernetes.io/managed-by": "falcotui"},
        }
        old_annotations = ((cm or {}).get("metadata") or {}).get("annotations") or {}
        annotations = {k: v for k, v in old_annotations.items() if not k.startswith(ANNOTATION_PREFIX + "v")}
        annotations.update({ANNOTATION_PREFIX + e.key: json.dumps(e.meta()) for e in entries})
        if cm is None:  # falcotui creates it, so `falcotui delete` removes it
            annotations[OWNERSHIP] = CREATED
        meta["annotations"] = annotations
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta,
            "data": {e.key: json.dumps(e.files, sort_keys=True) for e in entries},
        }
        query = [("fieldManager", FIELD_MANAGER)]
        try:
            if cm is None:
                CONFIGMAPS.create(self.clients, self.namespace, body, query=query)
            else:
                meta["resourceVersion"] = cm["metadata"]["resourceVersion"]
                CONFIGMAPS.replace(self.clients, self.namespace, self.name, body, query=query)
        except KubeApiError as exc:
            if exc.code == 409:
                return False
            raise HistoryError(f"cannot write the rules history: {exc}") from exc
        except KubeError as exc:
            raise HistoryError(f"cannot write the rules history: {exc}") from exc
        return True
