"""Server-side apply and managedFields bookkeeping.

`server_side_apply` merges an applied configuration into the live object the way the API server does:
fields the manager applied before but no longer sends are removed (unless someone else owns them), a
value that differs from one another manager owns is a conflict (409 with one cause per field) unless
`force`, and the manager's `Apply` entry records exactly the fields it sent. `record_update` gives the
fields a PUT/PATCH/POST changed to that request's manager (operation `Update`), as the real server does.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable

from falcotui.sim.api.defaults import metadata_of
from falcotui.sim.api.errors import StoreError
from falcotui.sim.api.fieldsets import (
    _MISSING,
    ATOMIC_MAPS,
    LIST_MAP_KEYS,
    LIST_SETS,
    Path,
    from_fields_v1,
    item_key,
    path_string,
    paths_of,
    remove_path,
    to_fields_v1,
    value_at,
)
from falcotui.sim.api.resources import ResourceInfo
from falcotui.sim.api.store import Store, rfc3339


def _entries(obj: dict) -> list[dict]:
    return list((obj.get("metadata") or {}).get("managedFields") or [])


def _entry(manager: str, operation: str, api_version: str, paths: set[Path], now: float) -> dict:
    return {
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": rfc3339(now),
        "fieldsType": "FieldsV1",
        "fieldsV1": to_fields_v1(paths),
    }


def _describe(entry: dict) -> str:
    name = json.dumps(entry.get("manager", ""))
    if entry.get("operation") == "Update":
        return f"{name} using {entry.get('apiVersion')} at {entry.get('time')}"
    return name


def conflict_error(conflicts: list[tuple[dict, Path]]) -> StoreError:
    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f"conflict with {_describe(e)}",
            "field": path_string(p),
        }
        for e, p in conflicts
    ]
    if len(conflicts) == 1:
        e, p = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {_describe(e)}: {path_string(p)}"
    else:
        by_manager: dict[str, list[Path]] = {}
        for e, p in conflicts:
            by_manager.setdefault(_describe(e), []).append(p)
        lines = []
        for m in sorted(by_manager):
            lines.append(f"conflicts with {m}")
            lines.extend(f"- {path_string(p)}" for p in by_manager[m])
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return StoreError(409, message, "Conflict", {"causes": causes})


def merge_applied(live: object, applied: object, field: str = "") -> object:
    """Structured merge: maps merge, associative lists merge by key, sets union, the rest is replaced."""
    if isinstance(applied, dict) and isinstance(live, dict) and field not in ATOMIC_MAPS:
        out = dict(live)
        for k, v in applied.items():
            if v is not None:
                out[k] = merge_applied(live.get(k), v, k)
        return out
    if isinstance(applied, list) and isinstance(live, list):
        if field in LIST_MAP_KEYS and all(isinstance(x, dict) for x in applied + live):
            # Applied items in applied order (merged with their live counterparts), then live-only items.
            by_key = {item_key(field, x): x for x in live}
            out_list = [merge_applied(by_key.get(item_key(field, item)), item, field) for item in applied]
            applied_keys = {item_key(field, x) for x in applied}
            return out_list + [x for x in live if item_key(field, x) not in applied_keys]
        if field in LIST_SETS:
            return live + [x for x in applied if x not in live]
    return copy.deepcopy(applied)


def server_side_apply(
    store: Store,
    ri: ResourceInfo,
    namespace: str,
    name: str,
    applied: dict,
    *,
    manager: str,
    force: bool,
    dry_run: bool,
) -> tuple[int, dict]:
    if not manager:
        raise StoreError(400, "PATCH /apply requires a fieldManager", "BadRequest")
    if not isinstance(applied, dict):
        raise StoreError(400, "the applied configuration must be an object")
    if applied.get("apiVersion") != ri.api_version or applied.get("kind") != ri.kind:
        raise StoreError(
            400,
            f"apiVersion/kind {applied.get('apiVersion')}/{applied.get('kind')} of the applied configuration "
            f"do not match the URL ({ri.api_version}/{ri.kind})",
        )
    meta = metadata_of(applied)
    if meta.get("name") and meta["name"] != name:
        raise StoreError(
            400, f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
        )
    meta["name"] = name
    if ri.namespaced:
        if meta.get("namespace") and meta["namespace"] != namespace:
            raise StoreError(
                400,
                "the namespace of the provided object does not match the namespace sent on the request",
            )
        meta["namespace"] = namespace
    meta.pop("managedFields", None)
    applied.pop("status", None)
    now = store.clock()
    applied_paths = paths_of(applied)
    live = store.get(ri.plural, namespace, name)
    if live is None:
        new = copy.deepcopy(applied)
        new["metadata"]["managedFields"] = [_entry(manager, "Apply", ri.api_version, applied_paths, now)]
        return 201, store.create(ri.plural, new, dry_run=dry_run)

    entries = _entries(live)
    mine = next((e for e in entries if e.get("manager") == manager and e.get("operation") == "Apply"), None)
    prev = from_fields_v1(mine.get("fieldsV1")) if mine else set()
    others = [e for e in entries if e is not mine]
    conflicts: list[tuple[dict, Path]] = []
    taken: dict[int, set[Path]] = {}
    for i, e in enumerate(others):
        owned = from_fields_v1(e.get("fieldsV1"))
        for p in sorted(applied_paths & owned):
            if p[-1] == ".":
                continue
            if value_at(applied, p) != value_at(live, p):
                conflicts.append((e, p))
                taken.setdefault(i, set()).add(p)
    if conflicts and not force:
        raise conflict_error(conflicts)

    new = merge_applied(live, applied)
    assert isinstance(new, dict)
    other_sets = []
    new_entries: list[dict] = []
    for i, e in enumerate(others):
        owned = from_fields_v1(e.get("fieldsV1")) - taken.get(i, set())
        if owned != from_fields_v1(e.get("fieldsV1")):
            e = {**e, "fieldsV1": to_fields_v1(owned)}
        if owned:
            new_entries.append(e)
            other_sets.append(owned)
    others_union: set[Path] = set().union(*other_sets) if other_sets else set()
    # Parents before children ("." stands for the element itself), so a removed list element is found by
    # its key before its key fields go.
    kept = others_union | applied_paths
    for p in sorted(prev - applied_paths, key=lambda q: (len(q) - (q[-1] == "."), q[-1] != ".")):
        base = p[:-1] if p[-1] == "." else p
        if any(q[: len(base)] == base for q in kept):
            continue  # still set (perhaps more finely) by this manager or owned by another
        if value_at(new, p) is not _MISSING:
            remove_path(new, p)
    if mine is not None and prev == applied_paths:
        mine_entry = mine
    else:
        mine_entry = _entry(manager, "Apply", ri.api_version, applied_paths, now)
    if mine is not None:
        idx = entries.index(mine)
        new_entries.insert(min(idx, len(new_entries)), mine_entry)
    else:
        new_entries.append(mine_entry)
    new["metadata"]["managedFields"] = new_entries
    new["metadata"]["resourceVersion"] = (
        applied["metadata"].get("resourceVersion") or live["metadata"]["resourceVersion"]
    )
    return 200, store.update(ri.plural, new, check_rv=True, dry_run=dry_run)


def record_update(
    old: dict | None, new: dict, manager: str, api_version: str, clock: Callable[[], float]
) -> None:
    """Give the fields `new` changed relative to `old` to `manager` (operation Update), in place."""
    if not manager:
        return
    new_paths = paths_of(new)
    if old is None:
        changed, removed = new_paths, set()
        entries: list[dict] = []
    else:
        old_paths = paths_of(old)
        changed = {p for p in new_paths if p[-1] != "." and value_at(old, p) != value_at(new, p)}
        changed |= {p for p in new_paths - old_paths}
        removed = old_paths - new_paths
        entries = _entries(old) if "managedFields" not in new.get("metadata", {}) else _entries(new)
    if not changed and not removed:
        if old is not None:
            new["metadata"]["managedFields"] = entries
        return
    out: list[dict] = []
    mine_paths: set[Path] = set()
    mine_index = None
    for e in entries:
        owned = from_fields_v1(e.get("fieldsV1"))
        if e.get("manager") == manager and e.get("operation") == "Update" and not e.get("subresource"):
            mine_paths = owned - removed
            mine_index = len(out)
            continue
        left = owned - changed - removed
        if left == owned:
            out.append(e)
        elif left:
            out.append({**e, "fieldsV1": to_fields_v1(left)})
    mine_paths |= changed
    entry = _entry(manager, "Update", api_version, mine_paths, clock())
    if mine_index is None:
        out.append(entry)
    else:
        out.insert(mine_index, entry)
    new.setdefault("metadata", {})["managedFields"] = out
