"""Decode protobuf request bodies of kubectl's typed clients (`auth can-i`, `create configmap|secret`).

Kubernetes' protobuf envelope is the magic `k8s\\0` followed by a `runtime.Unknown` message
(1: TypeMeta{1 apiVersion, 2 kind}, 2: raw object bytes). SelfSubjectAccessReview, ConfigMap, Secret,
Namespace, ServiceAccount and SelfSubjectRulesReview are decoded; responses go back as JSON, which
those clients also accept.
"""

from __future__ import annotations

import base64

from falcotui.sim.api.errors import StoreError

MAGIC = b"k8s\x00"
_RESOURCE_ATTRS = ("namespace", "verb", "group", "version", "resource", "subresource", "name")


def _fields(buf: bytes) -> dict[int, list[bytes | int]]:
    out: dict[int, list[bytes | int]] = {}
    i = 0

    def varint() -> int:
        nonlocal i
        shift = result = 0
        while True:
            if i >= len(buf):
                raise StoreError(400, "truncated protobuf body")
            b = buf[i]
            i += 1
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7

    while i < len(buf):
        key = varint()
        num, wire = key >> 3, key & 7
        if wire == 0:
            out.setdefault(num, []).append(varint())
        elif wire == 2:
            n = varint()
            out.setdefault(num, []).append(buf[i : i + n])
            i += n
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        else:
            raise StoreError(400, f"unsupported protobuf wire type {wire}")
    return out


def _str(fields: dict, num: int) -> str:
    vals = fields.get(num)
    return vals[-1].decode() if vals and isinstance(vals[-1], bytes) else ""


def _msg(fields: dict, num: int) -> dict[int, list[bytes | int]]:
    vals = fields.get(num)
    return _fields(vals[-1]) if vals and isinstance(vals[-1], bytes) else {}


def _map(fields: dict, num: int, as_base64: bool = False) -> dict[str, str]:
    out = {}
    for entry in fields.get(num, []):
        kv = _fields(entry)
        key = _str(kv, 1)
        raw = kv.get(2, [b""])[-1]
        assert isinstance(raw, bytes)
        out[key] = base64.b64encode(raw).decode() if as_base64 else raw.decode()
    return out


def _meta(fields: dict) -> dict:
    m = _msg(fields, 1)
    meta: dict = {}
    for num, key in ((1, "name"), (2, "generateName"), (3, "namespace")):
        if _str(m, num):
            meta[key] = _str(m, num)
    for num, key in ((11, "labels"), (12, "annotations")):
        if num in m:
            meta[key] = _map(m, num)
    if 14 in m:
        meta["finalizers"] = [v.decode() for v in m[14] if isinstance(v, bytes)]
    return meta


def _text(fields: dict, num: int) -> str | None:
    return _str(fields, num) or None  # an empty string is left out, as the JSON form omits it


def _flag(fields: dict, num: int) -> bool:
    return bool(fields[num][-1])


def _b64_map(fields: dict, num: int) -> dict[str, str]:
    return _map(fields, num, as_base64=True)


#: kind -> (field number, JSON key, reader) after `metadata` (1), numbered as in k8s.io/api core/v1
#: generated.proto; a field the body does not carry is left out
_KINDS: dict[str, tuple] = {
    "ConfigMap": ((2, "data", _map), (3, "binaryData", _b64_map), (4, "immutable", _flag)),
    "Secret": (
        (2, "data", _b64_map),
        (3, "type", _text),
        (4, "stringData", _map),
        (5, "immutable", _flag),
    ),
    "Namespace": (),
    "ServiceAccount": ((4, "automountServiceAccountToken", _flag),),
}


def _object(kind: str, f: dict) -> dict:
    obj: dict = {"metadata": _meta(f)}
    for num, key, read in _KINDS[kind]:
        value = read(f, num) if num in f else None
        if value is not None:
            obj[key] = value
    return obj


def decode(body: bytes) -> dict:
    """The JSON form of a protobuf-encoded request object; 415 for kinds the simulator cannot decode."""
    if not body.startswith(MAGIC):
        raise StoreError(400, "the protobuf body lacks the Kubernetes envelope")
    unknown = _fields(body[len(MAGIC) :])
    type_meta = _msg(unknown, 1)
    kind, api_version = _str(type_meta, 2), _str(type_meta, 1)
    raw = _msg(unknown, 2)
    if kind == "SelfSubjectAccessReview":
        return _access_review(raw)
    if kind == "SelfSubjectRulesReview":
        spec = _msg(raw, 2)
        return {"apiVersion": "authorization.k8s.io/v1", "kind": kind, "spec": {"namespace": _str(spec, 1)}}
    if kind not in _KINDS:
        raise StoreError(415, f"the simulator cannot decode protobuf-encoded {kind or 'objects'}; send JSON",
                         "UnsupportedMediaType")  # fmt: skip
    return {"apiVersion": api_version or "v1", "kind": kind, **_object(kind, raw)}


def _access_review(review: dict) -> dict:
    spec_f = _fields(review.get(2, [b""])[-1])  # type: ignore[arg-type]
    spec: dict = {}
    if 1 in spec_f:
        ra = _fields(spec_f[1][-1])  # type: ignore[arg-type]
        spec["resourceAttributes"] = {
            k: _str(ra, i + 1) for i, k in enumerate(_RESOURCE_ATTRS) if _str(ra, i + 1)
        }
    if 2 in spec_f:
        nra = _fields(spec_f[2][-1])  # type: ignore[arg-type]
        spec["nonResourceAttributes"] = {"path": _str(nra, 1), "verb": _str(nra, 2)}
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": spec}
