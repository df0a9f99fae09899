"""What the API server does to an object before storing it: reject invalid ones, fill in defaults."""

from __future__ import annotations

import base64
import binascii
import re

from falcotui.sim.api.errors import StoreError, invalid
from falcotui.sim.api.resources import ResourceInfo
from falcotui.sim.api.selectors import match_label_selector

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_RBAC_NAME = re.compile(r"^[^/%]+$")


#: paths whose values must be objects (or lists of objects, "[]") when present, per kind ("*": every kind)
_SHAPES: dict[str, tuple[str, ...]] = {
    "*": ("spec", "status", "data", "binaryData", "stringData", "roleRef", "involvedObject", "source"),
    "daemonsets": ("spec.selector", "spec.selector.matchLabels", "spec.template", "spec.template.metadata",
                   "spec.template.metadata.labels", "spec.template.metadata.annotations",
                   "spec.template.spec", "spec.updateStrategy", "spec.updateStrategy.rollingUpdate"),
}  # fmt: skip
_LISTS = ("rules", "subjects", "secrets", "imagePullSecrets")


def _shape_causes(ri: ResourceInfo, obj: dict) -> list[tuple[str, str, str]]:
    causes = []
    for path in _SHAPES["*"] + _SHAPES.get(ri.plural, ()):
        cur: object = obj
        for part in path.split("."):
            cur = cur.get(part) if isinstance(cur, dict) else None
        if cur is not None and not isinstance(cur, dict):
            causes.append(("FieldValueTypeInvalid", path, "Invalid value: must be an object"))
    for field in _LISTS:
        val = obj.get(field)
        if val is not None and not (isinstance(val, list) and all(isinstance(x, dict) for x in val)):
            causes.append(("FieldValueTypeInvalid", field, "Invalid value: must be a list of objects"))
    return causes


def metadata_of(obj: object) -> dict:
    """The object's metadata after checking the shapes every later step relies on (400 otherwise)."""
    if not isinstance(obj, dict):
        raise StoreError(400, "the object must be a JSON object", "BadRequest")
    meta = obj.get("metadata")
    if meta is None:
        meta = obj["metadata"] = {}
    if not isinstance(meta, dict):
        raise StoreError(400, "metadata must be an object", "BadRequest")
    for key in ("name", "namespace", "generateName", "resourceVersion", "uid"):
        if meta.get(key) is not None and not isinstance(meta[key], str):
            raise StoreError(400, f"metadata.{key} must be a string", "BadRequest")
    for key in ("labels", "annotations"):
        val = meta.get(key)
        if val is not None and not (isinstance(val, dict) and all(isinstance(v, str) for v in val.values())):
            raise StoreError(400, f"metadata.{key} must be a map of strings", "BadRequest")
    for key in ("ownerReferences", "managedFields"):
        val = meta.get(key)
        if val is not None and not (isinstance(val, list) and all(isinstance(x, dict) for x in val)):
            raise StoreError(400, f"metadata.{key} must be a list of objects", "BadRequest")
    fin = meta.get("finalizers")
    if fin is not None and not (isinstance(fin, list) and all(isinstance(x, str) for x in fin)):
        raise StoreError(400, "metadata.finalizers must be a list of strings", "BadRequest")
    return meta


def _drop_nulls(obj: dict) -> None:
    """JSON null means "not set" when the API server decodes an object."""
    for d in (obj, obj.get("metadata")):
        if isinstance(d, dict):
            for k in [k for k, v in d.items() if v is None]:
                del d[k]


def validate(ri: ResourceInfo, obj: dict) -> None:
    meta = metadata_of(obj)
    _drop_nulls(obj)
    name = meta.get("name") or ""
    shape = _shape_causes(ri, obj)
    if shape:
        raise invalid(ri.kind, str(name), shape, ri.group)
    if not isinstance(name, str):
        raise invalid(
            ri.kind, str(name), [("FieldValueInvalid", "metadata.name", "Invalid value: must be a string")]
        )
    causes: list[tuple[str, str, str]] = []
    if not name:
        causes.append(
            ("FieldValueRequired", "metadata.name", "Required value: name or generateName is required")
        )
    elif ri.group == "rbac.authorization.k8s.io":
        if not _RBAC_NAME.match(name):
            causes.append(
                ("FieldValueInvalid", "metadata.name", f'Invalid value: "{name}": may not contain "/" or "%"')
            )
    elif len(name) > 253 or not _SUBDOMAIN.match(name):
        causes.append(
            (
                "FieldValueInvalid",
                "metadata.name",
                f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist of lower case '
                "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
            )
        )
    for field in ("labels", "annotations"):
        vals = meta.get(field)
        if vals is not None and (
            not isinstance(vals, dict) or not all(isinstance(v, str) for v in vals.values())
        ):
            causes.append(("FieldValueInvalid", f"metadata.{field}", "Invalid value: values must be strings"))
    check = _CHECKS.get(ri.plural)
    if check is not None:
        check(obj, causes)
    if causes:
        raise invalid(ri.kind, name, causes, ri.group)


def _is_strings(v: object) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _is_objects(v: object) -> bool:
    return isinstance(v, list) and all(isinstance(x, dict) for x in v)


def _is_string_map(v: object) -> bool:
    return isinstance(v, dict) and all(isinstance(x, str) for x in v.values())


#: (check, what it must be) of each kind of field value
_STRING = (lambda v: isinstance(v, str), "a string")
_BOOLEAN = (lambda v: isinstance(v, bool), "a boolean")
_OBJECT = (lambda v: isinstance(v, dict), "an object")
_STRINGS = (_is_strings, "a list of strings")
_OBJECTS = (_is_objects, "a list of objects")
_STRING_MAP = (_is_string_map, "a map of strings")

#: field -> its kind, for pod specs and containers; absent fields are fine
_POD_FIELDS = {
    "tolerations": _OBJECTS,
    "volumes": _OBJECTS,
    "imagePullSecrets": _OBJECTS,
    "nodeSelector": _STRING_MAP,
    "hostNetwork": _BOOLEAN,
    "serviceAccountName": _STRING,
    "nodeName": _STRING,
    "affinity": _OBJECT,
    "securityContext": _OBJECT,
}
_CONTAINER_FIELDS = {
    "name": _STRING,
    "image": _STRING,
    "args": _STRINGS,
    "command": _STRINGS,
    "env": _OBJECTS,
    "envFrom": _OBJECTS,
    "ports": _OBJECTS,
    "volumeMounts": _OBJECTS,
    "resources": _OBJECT,
    "securityContext": _OBJECT,
    "livenessProbe": _OBJECT,
    "readinessProbe": _OBJECT,
    "startupProbe": _OBJECT,
}


def _check_fields_of(obj: dict, fields: dict, path: str, causes: list) -> None:
    for field, (ok, what) in fields.items():
        if obj.get(field) is not None and not ok(obj[field]):
            causes.append(("FieldValueTypeInvalid", f"{path}.{field}", f"Invalid value: must be {what}"))


def _check_pod_spec(spec: object, path: str, causes: list) -> None:
    if not isinstance(spec, dict):
        causes.append(("FieldValueRequired", path, "Required value"))
        return
    _check_fields_of(spec, _POD_FIELDS, path, causes)
    containers = spec.get("containers")
    if not containers or not _is_objects(containers):
        causes.append(("FieldValueRequired", f"{path}.containers", "Required value"))
        return
    init = spec.get("initContainers") or []
    if not _is_objects(init):
        causes.append(
            ("FieldValueTypeInvalid", f"{path}.initContainers", "Invalid value: must be a list of objects")
        )
        return
    for field, items in (("containers", containers), ("initContainers", init)):
        for i, c in enumerate(items):
            where = f"{path}.{field}[{i}]"
            if not c.get("name"):
                causes.append(("FieldValueRequired", f"{where}.name", "Required value"))
            elif not c.get("image"):
                causes.append(("FieldValueRequired", f"{where}.image", "Required value"))
            _check_fields_of(c, _CONTAINER_FIELDS, where, causes)


def _check_pod(obj: dict, causes: list) -> None:
    _check_pod_spec(obj.get("spec"), "spec", causes)


def _check_daemonset(obj: dict, causes: list) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        causes.append(("FieldValueRequired", "spec", "Required value"))
        return
    selector = spec.get("selector")
    template = spec.get("template")
    if not isinstance(selector, dict) or not (
        selector.get("matchLabels") or selector.get("matchExpressions")
    ):
        causes.append(("FieldValueRequired", "spec.selector", "Required value"))
    if not isinstance(template, dict):
        causes.append(("FieldValueRequired", "spec.template", "Required value"))
        return
    labels = (template.get("metadata") or {}).get("labels") or {}
    if isinstance(selector, dict) and not match_label_selector(selector, labels):
        causes.append(
            (
                "FieldValueInvalid",
                "spec.template.metadata.labels",
                f"Invalid value: {labels!r}: `selector` does not match template `labels`",
            )
        )
    _check_pod_spec(template.get("spec"), "spec.template.spec", causes)


def _check_binding(obj: dict, causes: list) -> None:
    ref = obj.get("roleRef")
    if not isinstance(ref, dict):
        causes.append(("FieldValueRequired", "roleRef", "Required value"))
    else:
        for f in ("apiGroup", "kind", "name"):
            if f != "apiGroup" and not ref.get(f):
                causes.append(("FieldValueRequired", f"roleRef.{f}", "Required value"))
    for i, s in enumerate(obj.get("subjects") or []):
        for f in ("kind", "name"):
            if not isinstance(s, dict) or not s.get(f):
                causes.append(("FieldValueRequired", f"subjects[{i}].{f}", "Required value"))


def _check_role(obj: dict, causes: list) -> None:
    for i, rule in enumerate(obj.get("rules") or []):
        if not isinstance(rule, dict) or not rule.get("verbs"):
            causes.append(("FieldValueRequired", f"rules[{i}].verbs", "Required value"))
            continue
        for field in ("verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs"):
            if rule.get(field) is not None and not _is_strings(rule[field]):
                causes.append(
                    ("FieldValueTypeInvalid", f"rules[{i}].{field}", "Invalid value: must be strings")
                )


def _check_configmap(obj: dict, causes: list) -> None:
    for k, v in (obj.get("data") or {}).items():
        if not isinstance(v, str):
            causes.append(("FieldValueInvalid", f"data[{k}]", "Invalid value: must be a string"))


def _check_secret(obj: dict, causes: list) -> None:
    for k, v in (obj.get("data") or {}).items():
        try:
            base64.b64decode(v, validate=True)
        except (binascii.Error, TypeError, ValueError):
            causes.append(("FieldValueInvalid", f"data[{k}]", "Invalid value: illegal base64 data"))


def _check_event(obj: dict, causes: list) -> None:
    if not isinstance(obj.get("involvedObject"), dict):
        causes.append(("FieldValueRequired", "involvedObject", "Required value"))


_CHECKS = {
    "pods": _check_pod,
    "daemonsets": _check_daemonset,
    "rolebindings": _check_binding,
    "clusterrolebindings": _check_binding,
    "roles": _check_role,
    "clusterroles": _check_role,
    "configmaps": _check_configmap,
    "secrets": _check_secret,
    "events": _check_event,
}


# ---- defaulting ----------------------------------------------------------------------------------------
def _default_probe(probe: dict | None) -> None:
    if not isinstance(probe, dict):
        return
    for k, v in (
        ("timeoutSeconds", 1),
        ("periodSeconds", 10),
        ("successThreshold", 1),
        ("failureThreshold", 3),
    ):
        probe.setdefault(k, v)
    if isinstance(probe.get("httpGet"), dict):
        probe["httpGet"].setdefault("scheme", "HTTP")


def _default_container(c: dict) -> None:
    image = c.get("image") or ""
    tagged = ":" in image.rsplit("/", 1)[-1] or "@" in image
    latest = not tagged or image.endswith(":latest")
    c.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    c.setdefault("resources", {})
    for p in c.get("ports") or []:
        if isinstance(p, dict):
            p.setdefault("protocol", "TCP")
    for e in c.get("env") or []:
        ref = (e.get("valueFrom") or {}).get("fieldRef") if isinstance(e, dict) else None
        if isinstance(ref, dict):
            ref.setdefault("apiVersion", "v1")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        _default_probe(c.get(probe))


def default_pod_spec(spec: dict) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    if spec.get("serviceAccountName"):
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
    for c in list(spec.get("containers") or []) + list(spec.get("initContainers") or []):
        if isinstance(c, dict):
            _default_container(c)
    for v in spec.get("volumes") or []:
        if not isinstance(v, dict):
            continue
        for src in ("configMap", "secret"):
            if isinstance(v.get(src), dict):
                v[src].setdefault("defaultMode", 420)
        if isinstance(v.get("hostPath"), dict):
            v["hostPath"].setdefault("type", "")


def apply_defaults(ri: ResourceInfo, obj: dict) -> None:
    meta = obj["metadata"]
    if ri.plural == "namespaces":
        meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj.setdefault("status", {}).setdefault("phase", "Active")
    elif ri.plural == "daemonsets":
        spec = obj["spec"]
        strategy = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            ru = strategy.setdefault("rollingUpdate", {})
            ru.setdefault("maxUnavailable", 1)
            ru.setdefault("maxSurge", 0)
        spec.setdefault("revisionHistoryLimit", 10)
        tmeta = spec["template"].setdefault("metadata", {})
        tmeta.pop("creationTimestamp", None)
        default_pod_spec(spec["template"].setdefault("spec", {}))
        status = obj.setdefault("status", {})
        for k in ("currentNumberScheduled", "desiredNumberScheduled", "numberMisscheduled", "numberReady"):
            status.setdefault(k, 0)
    elif ri.plural == "pods":
        default_pod_spec(obj["spec"])
        obj.setdefault("status", {}).setdefault("phase", "Pending")
        obj["status"].setdefault("qosClass", "BestEffort")
    elif ri.plural == "secrets":
        string_data = obj.pop("stringData", None) or {}
        data = obj.setdefault("data", {}) if string_data else obj.get("data")
        for k, v in string_data.items():
            data[k] = base64.b64encode(str(v).encode()).decode()
        obj.setdefault("type", "Opaque")
    elif ri.plural == "serviceaccounts":
        pass
    elif ri.plural == "events":
        obj.setdefault("type", "Normal")
        obj.setdefault("count", 1)
        obj.setdefault("source", {})
    elif ri.plural == "nodes":
        obj.setdefault("spec", {})
        obj.setdefault("status", {})
