"""PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and Kubernetes strategic merge patch.

The strategic merge patch follows the patch strategies of the built-in types we serve: lists of
containers/volumes/env/... merge by their key, `finalizers` merge as a set, every other list is replaced;
the directives kubectl sends (`$patch`, `$retainKeys`, `$setElementOrder/<list>`,
`$deleteFromPrimitiveList/<list>`) are honoured and never stored.
"""

from __future__ import annotations

import copy

from falcotui.sim.api.errors import StoreError

#: list field name -> merge key (patchMergeKey of the built-in types we serve)
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "env": "name",
    "ports": "containerPort",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "conditions": "type",
    "addresses": "type",
    "ownerReferences": "uid",
    "secrets": "name",
    "resourceClaims": "name",
    "topologySpreadConstraints": "topologyKey",
}
#: primitive lists with patchStrategy "merge" (set semantics)
MERGE_SETS = frozenset({"finalizers"})


def merge_patch(target: object, patch: object) -> object:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


# ---- JSON patch ---------------------------------------------------------------------------------------
def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise StoreError(422, f"invalid JSON pointer: {path!r}", "Invalid")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _resolve(doc: object, parts: list[str]) -> object:
    cur = doc
    for p in parts:
        if isinstance(cur, dict) and p in cur:
            cur = cur[p]
        elif isinstance(cur, list) and p.isdigit() and int(p) < len(cur):
            cur = cur[int(p)]
        else:
            raise StoreError(
                422, f"the server rejected our request: path /{'/'.join(parts)} not found", "Invalid"
            )
    return cur


def json_patch(doc: dict, ops: object) -> dict:
    if not isinstance(ops, list):
        raise StoreError(400, "json patch must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise StoreError(400, f"invalid json patch operation: {op!r}")
        kind, parts = op["op"], _pointer(op["path"])
        if kind == "test":
            if _resolve(doc, parts) != op.get("value"):
                raise StoreError(422, f"testing value {op['path']} failed", "Invalid")
            continue
        if kind in ("move", "copy"):
            src = _pointer(op.get("from", ""))
            value = copy.deepcopy(_resolve(doc, src))
            if kind == "move":
                _remove(doc, src)
            _add(doc, parts, value)
        elif kind == "add":
            _add(doc, parts, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            _remove(doc, parts)
        elif kind == "replace":
            _resolve(doc, parts)
            _remove(doc, parts)
            _add(doc, parts, copy.deepcopy(op.get("value")))
        else:
            raise StoreError(400, f"unknown json patch operation {kind!r}")
    return doc


def _add(doc: object, parts: list[str], value: object) -> None:
    if not parts:
        raise StoreError(422, "cannot replace the whole object with a json patch", "Invalid")
    parent = _resolve(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        elif last.isdigit() and int(last) <= len(parent):
            parent.insert(int(last), value)
        else:
            raise StoreError(422, f"invalid list index {last!r}", "Invalid")
    else:
        raise StoreError(422, f"path {'/'.join(parts)} has no parent object", "Invalid")


def _remove(doc: object, parts: list[str]) -> None:
    parent = _resolve(doc, parts[:-1])
    _resolve(doc, parts)
    if isinstance(parent, dict):
        del parent[parts[-1]]
    else:
        del parent[int(parts[-1])]  # type: ignore[index]


# ---- strategic merge patch ----------------------------------------------------------------------------
def strategic_merge(original: object, patch: object) -> object:
    """Apply a strategic merge patch to `original` (not modified); returns the result."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    return _merge_map(original if isinstance(original, dict) else {}, patch)


def _merge_map(original: dict, patch: dict) -> dict:
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if not k.startswith("$")}
    if directive == "delete":
        return {}
    result = copy.deepcopy(original)
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        for k in list(result):
            if k not in retain and k not in patch:
                del result[k]
    orders: dict[str, list] = {}
    for k, v in patch.items():
        if k.startswith("$setElementOrder/"):
            orders[k.split("/", 1)[1]] = v
        elif k.startswith("$deleteFromPrimitiveList/"):
            field = k.split("/", 1)[1]
            if isinstance(result.get(field), list) and isinstance(v, list):
                result[field] = [x for x in result[field] if x not in v]
    for k, v in patch.items():
        if k.startswith("$"):
            continue
        if v is None:
            result.pop(k, None)
        elif isinstance(v, dict):
            if v.get("$patch") == "delete":
                result.pop(k, None)
            else:
                result[k] = _merge_map(result.get(k) if isinstance(result.get(k), dict) else {}, v)
        elif isinstance(v, list):
            result[k] = _merge_list(k, result.get(k) if isinstance(result.get(k), list) else [], v)
        else:
            result[k] = v
    for field, order in orders.items():
        if isinstance(result.get(field), list) and isinstance(order, list):
            result[field] = _reorder(field, result[field], order)
    return result


def _merge_list(field: str, original: list, patch: list) -> list:
    key = MERGE_KEYS.get(field)
    if any(isinstance(x, dict) and x.get("$patch") == "replace" for x in patch):
        return [_strip(x) for x in patch if not (isinstance(x, dict) and x.get("$patch") == "replace")]
    if field in MERGE_SETS:
        out = list(original)
        for x in patch:
            if x not in out:
                out.append(x)
        return out
    if key is None or not all(isinstance(x, dict) for x in patch):
        return [_strip(x) for x in patch]
    out = copy.deepcopy(original)
    for item in patch:
        kv = item.get(key)
        idx = next((i for i, o in enumerate(out) if isinstance(o, dict) and o.get(key) == kv), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                del out[idx]
            continue
        if idx is None:
            out.append(_strip(item))
        else:
            out[idx] = _merge_map(out[idx], item)
    return out


def _reorder(field: str, items: list, order: list) -> list:
    key = MERGE_KEYS.get(field)

    def ident(x: object) -> object:
        return x.get(key) if key and isinstance(x, dict) else x

    wanted = [ident(o) for o in order]
    ranked = sorted(
        range(len(items)),
        key=lambda i: (wanted.index(ident(items[i])) if ident(items[i]) in wanted else len(wanted), i),
    )
    return [items[i] for i in ranked]


def _strip(value: object) -> object:
    """Drop directive keys from a value being inserted as a whole."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value
