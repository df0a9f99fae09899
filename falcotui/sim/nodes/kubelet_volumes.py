"""What the kubelet hands a container: ConfigMap/Secret volume files and the resolved environment."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

# (resource, name) -> stored object or None; resource is "configmaps" or "secrets", namespace implied
Lookup = Callable[[str, str], Mapping | None]

_VAR_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)|\$\$")


class VolumeError(Exception):
    """A volume cannot be set up yet (missing ConfigMap/Secret or key); the kubelet retries."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason  # the Event/waiting reason: FailedMount or CreateContainerConfigError
        self.message = message


@dataclass(slots=True)
class MountedFiles:
    files: dict[str, str] = field(default_factory=dict)
    subpath_files: set[str] = field(default_factory=set)  # never updated after start, like a real kubelet


def _decode(value: str) -> str:
    try:
        return base64.b64decode(value, validate=True).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return ""


def object_data(resource: str, obj: Mapping) -> dict[str, str]:
    """Key -> text content of a ConfigMap (data + binaryData) or a Secret (base64 data decoded)."""
    out: dict[str, str] = {}
    if resource == "configmaps":
        out.update({k: str(v) for k, v in (obj.get("data") or {}).items()})
        out.update({k: _decode(v) for k, v in (obj.get("binaryData") or {}).items()})
    else:
        out.update({k: _decode(v) for k, v in (obj.get("data") or {}).items()})
        out.update({k: str(v) for k, v in (obj.get("stringData") or {}).items()})
    return out


def _source_of(volume: Mapping) -> list[tuple[str, Mapping]]:
    """(resource, source dict) pairs a volume draws from; projected volumes can have several."""
    if isinstance(volume.get("configMap"), Mapping):
        return [("configmaps", volume["configMap"])]
    if isinstance(volume.get("secret"), Mapping):
        return [("secrets", volume["secret"])]
    projected = volume.get("projected")
    if isinstance(projected, Mapping):
        out = []
        for src in projected.get("sources") or []:
            if isinstance(src.get("configMap"), Mapping):
                out.append(("configmaps", src["configMap"]))
            elif isinstance(src.get("secret"), Mapping):
                out.append(("secrets", src["secret"]))
        return out
    return []


def _source_name(resource: str, src: Mapping) -> str:
    return (src.get("name") if resource == "configmaps" else src.get("secretName") or src.get("name")) or ""


def referenced_objects(pod_spec: Mapping) -> set[tuple[str, str]]:
    """Every (resource, name) a pod reads: volume sources, env valueFrom, envFrom."""
    refs: set[tuple[str, str]] = set()
    for vol in pod_spec.get("volumes") or []:
        for resource, src in _source_of(vol):
            refs.add((resource, _source_name(resource, src)))
    for c in list(pod_spec.get("containers") or []) + list(pod_spec.get("initContainers") or []):
        for env in c.get("env") or []:
            vf = env.get("valueFrom") or {}
            if isinstance(vf.get("configMapKeyRef"), Mapping):
                refs.add(("configmaps", vf["configMapKeyRef"].get("name") or ""))
            if isinstance(vf.get("secretKeyRef"), Mapping):
                refs.add(("secrets", vf["secretKeyRef"].get("name") or ""))
        for ef in c.get("envFrom") or []:
            if isinstance(ef.get("configMapRef"), Mapping):
                refs.add(("configmaps", ef["configMapRef"].get("name") or ""))
            if isinstance(ef.get("secretRef"), Mapping):
                refs.add(("secrets", ef["secretRef"].get("name") or ""))
    return refs


def _kind_word(resource: str) -> str:
    return "configmap" if resource == "configmaps" else "secret"


def volume_contents(volume: Mapping, lookup: Lookup) -> dict[str, str]:
    """Relative path -> content of a ConfigMap/Secret/projected volume, honouring `items`."""
    out: dict[str, str] = {}
    vname = volume.get("name", "")
    for resource, src in _source_of(volume):
        name = _source_name(resource, src)
        obj = lookup(resource, name)
        if obj is None:
            if src.get("optional"):
                continue
            raise VolumeError(
                "FailedMount",
                f'MountVolume.SetUp failed for volume "{vname}" : {_kind_word(resource)} "{name}" not found',
            )
        data = object_data(resource, obj)
        items = src.get("items")
        if items:
            for item in items:
                key = item.get("key", "")
                if key not in data:
                    if src.get("optional"):
                        continue
                    raise VolumeError(
                        "FailedMount",
                        f'MountVolume.SetUp failed for volume "{vname}" : {_kind_word(resource)} '
                        f"references non-existent config key: {key}",
                    )
                out[item.get("path") or key] = data[key]
        else:
            out.update(data)
    return out


def mounted_files(pod_spec: Mapping, container: Mapping, lookup: Lookup) -> MountedFiles:
    """Absolute path -> content for every ConfigMap/Secret mount of one container."""
    volumes = {v.get("name"): v for v in pod_spec.get("volumes") or []}
    result = MountedFiles()
    for mount in container.get("volumeMounts") or []:
        vol = volumes.get(mount.get("name"))
        if vol is None or not _source_of(vol):
            continue
        contents = volume_contents(vol, lookup)
        mount_path = (mount.get("mountPath") or "/").rstrip("/")
        sub = mount.get("subPath")
        if sub:
            if sub in contents:
                path = mount_path or "/"
                result.files[path] = contents[sub]
                result.subpath_files.add(path)
            continue
        for rel, content in contents.items():
            result.files[f"{mount_path}/{rel}"] = content
    return result


def host_path_mounts(pod_spec: Mapping, container: Mapping) -> dict[str, str]:
    """mountPath -> host path for every hostPath volume one container mounts (subPath appended)."""
    volumes = {v.get("name"): v for v in pod_spec.get("volumes") or [] if isinstance(v, Mapping)}
    out: dict[str, str] = {}
    for mount in container.get("volumeMounts") or []:
        host = (volumes.get(mount.get("name")) or {}).get("hostPath")
        if not isinstance(host, Mapping) or not host.get("path") or not mount.get("mountPath"):
            continue
        path = str(host["path"]).rstrip("/") or "/"
        if mount.get("subPath"):
            path = f"{path.rstrip('/')}/{mount['subPath']}"
        out[str(mount["mountPath"]).rstrip("/") or "/"] = path
    return out


def mount_modes(pod_spec: Mapping, container: Mapping) -> dict[str, bool]:
    """mountPath -> writable, for every volume one container mounts. ConfigMap, Secret, projected and
    downward-API volumes are always read-only (Kubernetes 1.9.4+, CVE-2017-1002102); other volumes
    (emptyDir, hostPath) are writable unless the mount says `readOnly: true`."""
    volumes = {v.get("name"): v for v in pod_spec.get("volumes") or [] if isinstance(v, Mapping)}
    out: dict[str, bool] = {}
    for mount in container.get("volumeMounts") or []:
        vol = volumes.get(mount.get("name"))
        if not isinstance(vol, Mapping) or not mount.get("mountPath"):
            continue
        always_ro = any(k in vol for k in ("configMap", "secret", "projected", "downwardAPI"))
        out[str(mount["mountPath"]).rstrip("/") or "/"] = not always_ro and not mount.get("readOnly")
    return out


def refreshed_files(
    pod_spec: Mapping, container: Mapping, lookup: Lookup, current: MountedFiles
) -> MountedFiles | None:
    """The container's files after a ConfigMap/Secret change (subPath files frozen); None if unchanged.

    A source that vanished keeps its old files, as a kubelet leaves the last good projection in place.
    """
    try:
        fresh = mounted_files(pod_spec, container, lookup)
    except VolumeError:
        return None
    for path in current.subpath_files:
        if path in current.files:
            fresh.files[path] = current.files[path]
    fresh.subpath_files = set(current.subpath_files)
    if fresh.files == current.files:
        return None
    return fresh


def _field_value(path: str, pod: Mapping, host_ip: str, pod_ip: str) -> str:
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName") or "default",
        "status.hostIP": host_ip,
        "status.hostIPs": host_ip,
        "status.podIP": pod_ip,
        "status.podIPs": pod_ip,
    }
    if path in simple:
        return simple[path]
    m = re.fullmatch(r"metadata\.(labels|annotations)\['([^']*)'\]", path)
    if m:
        return (meta.get(m.group(1)) or {}).get(m.group(2), "")
    return ""


def _expand(value: str, env: Mapping[str, str]) -> str:
    def sub(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1), m.group(0))

    return _VAR_REF.sub(sub, value)


def _key_ref(ref: Mapping, resource: str, lookup: Lookup) -> str | None:
    name = ref.get("name") or ""
    obj = lookup(resource, name)
    if obj is None:
        if ref.get("optional"):
            return None
        raise VolumeError("CreateContainerConfigError", f'{_kind_word(resource)} "{name}" not found')
    data = object_data(resource, obj)
    key = ref.get("key") or ""
    if key not in data:
        if ref.get("optional"):
            return None
        kind = "ConfigMap" if resource == "configmaps" else "Secret"
        raise VolumeError("CreateContainerConfigError", f"couldn't find key {key} in {kind} {name}")
    return data[key]


def container_env(
    container: Mapping, pod: Mapping, host_ip: str, pod_ip: str, lookup: Lookup
) -> dict[str, str]:
    """The container's environment: envFrom first, then env (with $(VAR) expansion and valueFrom)."""
    env: dict[str, str] = {}
    for ef in container.get("envFrom") or []:
        prefix = ef.get("prefix") or ""
        for key, resource in (("configMapRef", "configmaps"), ("secretRef", "secrets")):
            ref = ef.get(key)
            if not isinstance(ref, Mapping):
                continue
            obj = lookup(resource, ref.get("name") or "")
            if obj is None:
                if ref.get("optional"):
                    continue
                raise VolumeError(
                    "CreateContainerConfigError", f'{_kind_word(resource)} "{ref.get("name")}" not found'
                )
            env.update({prefix + k: v for k, v in object_data(resource, obj).items()})
    for item in container.get("env") or []:
        name = item.get("name")
        if not name:
            continue
        if "value" in item and item["value"] is not None:
            env[name] = _expand(str(item["value"]), env)
            continue
        vf = item.get("valueFrom") or {}
        value: str | None = ""
        if isinstance(vf.get("fieldRef"), Mapping):
            value = _field_value(vf["fieldRef"].get("fieldPath", ""), pod, host_ip, pod_ip)
        elif isinstance(vf.get("configMapKeyRef"), Mapping):
            value = _key_ref(vf["configMapKeyRef"], "configmaps", lookup)
        elif isinstance(vf.get("secretKeyRef"), Mapping):
            value = _key_ref(vf["secretKeyRef"], "secrets", lookup)
        elif isinstance(vf.get("resourceFieldRef"), Mapping):
            value = "0"
        if value is not None:
            env[name] = value
    return env
