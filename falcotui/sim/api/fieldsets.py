"""Field sets as managedFields records them (FieldsV1): which fields of an object a manager owns.

A field set is handled as a set of paths; each path is a tuple of FieldsV1 elements
(`f:name`, `k:{"name":"falco"}`, `v:"value"`, `.` for "the element/map itself").
"""

from __future__ import annotations

import json
from collections.abc import Iterable

Path = tuple[str, ...]

#: associative lists (x-kubernetes-list-type: map) of the built-in types we serve -> their keys: the
#: `+listType=map` / `+listMapKey=` markers in kubernetes/api core/v1/types.go (containers, ports
#: containerPort+protocol, volumeMounts mountPath, env, volumes, conditions type, hostAliases ip,
#: topologySpreadConstraints topologyKey+whenUnsatisfiable ...) and apimachinery meta/v1 types.go
#: (ownerReferences uid), which the OpenAPI schema publishes as x-kubernetes-list-map-keys
LIST_MAP_KEYS: dict[str, tuple[str, ...]] = {
    "containers": ("name",),
    "initContainers": ("name",),
    "ephemeralContainers": ("name",),
    "volumes": ("name",),
    "volumeMounts": ("mountPath",),
    "env": ("name",),
    "ports": ("containerPort", "protocol"),
    "imagePullSecrets": ("name",),
    "hostAliases": ("ip",),
    "conditions": ("type",),
    "ownerReferences": ("uid",),
    "topologySpreadConstraints": ("topologyKey", "whenUnsatisfiable"),
}
LIST_SETS = frozenset({"finalizers"})
#: structs the schema marks atomic (x-kubernetes-map-type: atomic): owned and replaced as a whole
ATOMIC_MAPS = frozenset({"selector"})
#: maps whose keys are data (they carry a "." member like the real server records)
STRING_MAPS = frozenset({"labels", "annotations", "data", "binaryData", "nodeSelector", "matchLabels"})
_KEY_DEFAULTS = {"protocol": "TCP"}
_META_SKIP = frozenset(
    {"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "managedFields",
     "deletionTimestamp", "selfLink", "generateName"}
)  # fmt: skip


def item_key(field: str, item: dict) -> str:
    keys = LIST_MAP_KEYS[field]
    return "k:" + json.dumps(
        {k: item.get(k, _KEY_DEFAULTS.get(k)) for k in keys if item.get(k, _KEY_DEFAULTS.get(k)) is not None},
        separators=(",", ":"),
    )


def paths_of(obj: dict) -> set[Path]:
    """Every leaf path of an object's user-settable content (no status, no server-owned metadata)."""
    out: set[Path] = set()
    for k, v in obj.items():
        if k in ("apiVersion", "kind", "status") or v is None:
            continue
        if k == "metadata" and isinstance(v, dict):
            for mk, mv in v.items():
                if mk not in _META_SKIP and mv is not None:
                    _walk(mk, mv, ("f:metadata", f"f:{mk}"), out)
        else:
            _walk(k, v, (f"f:{k}",), out)
    return out


def _walk(field: str, value: object, prefix: Path, out: set[Path]) -> None:
    if isinstance(value, dict) and field not in ATOMIC_MAPS:
        if not value:
            out.add(prefix)
            return
        if field in STRING_MAPS:
            out.add((*prefix, "."))
        for k, v in value.items():
            if v is not None:
                _walk(k, v, (*prefix, f"f:{k}"), out)
    elif isinstance(value, list) and field in LIST_MAP_KEYS and all(isinstance(x, dict) for x in value):
        if not value:
            out.add(prefix)
        for item in value:
            ip = (*prefix, item_key(field, item))
            out.add((*ip, "."))
            for k, v in item.items():
                if v is not None:
                    _walk(k, v, (*ip, f"f:{k}"), out)
    elif isinstance(value, list) and field in LIST_SETS:
        if not value:
            out.add(prefix)
        for item in value:
            out.add((*prefix, "v:" + json.dumps(item, separators=(",", ":"))))
    else:
        out.add(prefix)


_MISSING = object()


def _match(field: str, items: list, element: str) -> int | None:
    for i, item in enumerate(items):
        if element.startswith("k:") and isinstance(item, dict) and field in LIST_MAP_KEYS:
            if item_key(field, item) == element:
                return i
        elif element.startswith("v:") and json.dumps(item, separators=(",", ":")) == element[2:]:
            return i
    return None


def value_at(obj: object, path: Path) -> object:
    """The value a path points at, or `_MISSING`."""
    cur, field = obj, ""
    for el in path:
        if el == ".":
            return cur
        if el.startswith("f:"):
            if not isinstance(cur, dict) or el[2:] not in cur:
                return _MISSING
            field, cur = el[2:], cur[el[2:]]
        else:
            if not isinstance(cur, list):
                return _MISSING
            idx = _match(field, cur, el)
            if idx is None:
                return _MISSING
            cur = cur[idx]
    return cur


def remove_path(obj: dict, path: Path) -> None:
    """Delete the field/element a path points at (a trailing "." means the element itself)."""
    if path and path[-1] == ".":
        path = path[:-1]
    if not path:
        return
    parent = value_at(obj, path[:-1])
    last = path[-1]
    if last.startswith("f:"):
        if isinstance(parent, dict):
            parent.pop(last[2:], None)
    elif isinstance(parent, list):
        field = next((p[2:] for p in reversed(path[:-1]) if p.startswith("f:")), "")
        idx = _match(field, parent, last)
        if idx is not None:
            del parent[idx]


def to_fields_v1(paths: Iterable[Path]) -> dict:
    root: dict = {}
    for p in sorted(paths):
        node = root
        for el in p:
            node = node.setdefault(el, {})
    return root


def from_fields_v1(trie: dict | None) -> set[Path]:
    out: set[Path] = set()

    def walk(node: dict, prefix: Path) -> None:
        if not node:
            if prefix:
                out.add(prefix)
            return
        for k, v in node.items():
            walk(v if isinstance(v, dict) else {}, (*prefix, k))

    walk(trie or {}, ())
    return out


def path_string(path: Path) -> str:
    """`.spec.template.spec.containers[name="falco"].image`, as Kubernetes prints conflicts."""
    out = []
    for el in path:
        if el == ".":
            continue
        if el.startswith("f:"):
            out.append("." + el[2:])
        elif el.startswith("k:"):
            keys = json.loads(el[2:])
            out.append("[" + ",".join(f"{k}={json.dumps(v)}" for k, v in keys.items()) + "]")
        elif el.startswith("v:"):
            out.append(f"[={el[2:]}]")
        elif el.startswith("i:"):
            out.append(f"[{el[2:]}]")
    return "".join(out)
