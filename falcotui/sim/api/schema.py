"""Known fields of the kinds we serve, for `fieldValidation` (Strict rejects unknown fields, Warn warns).

Checked where manifest typos happen: the top level, metadata, DaemonSet spec, pod template, pod spec,
containers and their security contexts. Deeper structures (probes, volume sources) are accepted as they
come. Security-context fields depend on the server's version, as a real API server's schema does: the field
lists and the version each field appeared in are read from kubernetes/api `core/v1/types.go` at the tags
v0.29.0..v0.32.0 (`SecurityContext`, `PodSecurityContext`); an older server decodes the request into
types without the newer field, so Strict refuses it as unknown
(https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_META = frozenset(
    "name generateName namespace selfLink uid resourceVersion generation creationTimestamp deletionTimestamp "
    "deletionGracePeriodSeconds labels annotations ownerReferences finalizers managedFields".split()
)
_TOP = {
    "namespaces": "spec status",
    "nodes": "spec status",
    "pods": "spec status",
    "configmaps": "data binaryData immutable",
    "secrets": "data stringData type immutable",
    "serviceaccounts": "secrets imagePullSecrets automountServiceAccountToken",
    "events": "involvedObject reason message source firstTimestamp lastTimestamp count type eventTime series "
    "action related reportingComponent reportingInstance",
    "daemonsets": "spec status",
    "controllerrevisions": "data revision",
    "clusterroles": "rules aggregationRule",
    "roles": "rules",
    "clusterrolebindings": "subjects roleRef",
    "rolebindings": "subjects roleRef",
    "networkpolicies": "spec",
    "resourcequotas": "spec status",
    "selfsubjectaccessreviews": "spec status",
    "selfsubjectrulesreviews": "spec status",
}
_DS_SPEC = frozenset("selector template updateStrategy minReadySeconds revisionHistoryLimit".split())
_POD_SPEC = frozenset(
    "volumes initContainers containers ephemeralContainers restartPolicy terminationGracePeriodSeconds "
    "activeDeadlineSeconds dnsPolicy nodeSelector serviceAccountName serviceAccount "
    "automountServiceAccountToken nodeName hostNetwork hostPID hostIPC shareProcessNamespace securityContext "
    "imagePullSecrets hostname subdomain affinity schedulerName tolerations hostAliases priorityClassName "
    "priority dnsConfig readinessGates runtimeClassName enableServiceLinks preemptionPolicy overhead os "
    "topologySpreadConstraints setHostnameAsFQDN hostUsers schedulingGates resourceClaims resources".split()
)
_CONTAINER = frozenset(
    "name image command args workingDir ports envFrom env resources resizePolicy restartPolicy volumeMounts "
    "volumeDevices livenessProbe readinessProbe startupProbe lifecycle terminationMessagePath "
    "terminationMessagePolicy imagePullPolicy securityContext stdin stdinOnce tty".split()
)
_BASE = frozenset({"apiVersion", "kind", "metadata"})
_SECURITY_CONTEXT = {
    **dict.fromkeys(
        "capabilities privileged seLinuxOptions windowsOptions runAsUser runAsGroup runAsNonRoot "
        "readOnlyRootFilesystem allowPrivilegeEscalation procMount seccompProfile".split(),
        (1, 0),
    ),
    "appArmorProfile": (1, 30),
}
_POD_SECURITY_CONTEXT = {
    **dict.fromkeys(
        "seLinuxOptions windowsOptions runAsUser runAsGroup runAsNonRoot supplementalGroups fsGroup sysctls "
        "fsGroupChangePolicy seccompProfile".split(),
        (1, 0),
    ),
    "appArmorProfile": (1, 30),
    "supplementalGroupsPolicy": (1, 31),
    "seLinuxChangePolicy": (1, 32),
}
LATEST = (1, 32)


def _since(fields: dict[str, tuple[int, int]], version: tuple[int, int]) -> frozenset[str]:
    return frozenset(name for name, since in fields.items() if since <= version)


Found = tuple[str, dict, str]  # (path as the server prints it, the dict holding it, its key)


def _unknown(obj: object, known: frozenset[str], path: str) -> Iterator[Found]:
    if isinstance(obj, dict):
        for k in obj:
            if k not in known:
                yield (f"{path}.{k}" if path else k), obj, k


def _pod_spec(spec: object, path: str, version: tuple[int, int]) -> Iterator[Found]:
    yield from _unknown(spec, _POD_SPEC, path)
    if isinstance(spec, dict):
        known = _since(_POD_SECURITY_CONTEXT, version)
        yield from _unknown(spec.get("securityContext"), known, f"{path}.securityContext")
        known = _since(_SECURITY_CONTEXT, version)
        for field in ("containers", "initContainers"):
            for i, c in enumerate(spec.get(field) or []):
                where = f"{path}.{field}[{i}]"
                yield from _unknown(c, _CONTAINER, where)
                if isinstance(c, dict):
                    yield from _unknown(c.get("securityContext"), known, f"{where}.securityContext")


def unknown_fields(resource: str, obj: dict, version: tuple[int, int] = LATEST) -> list[Found]:
    """Fields the kind does not declare on a server of `version` (major, minor), with paths as the API
    server's strict decoding reports them."""
    top = _TOP.get(resource)
    if top is None:
        return []
    out = list(_unknown(obj, _BASE | frozenset(top.split()), ""))
    out += _unknown(obj.get("metadata"), _META, "metadata")
    spec = obj.get("spec")
    if resource == "daemonsets" and isinstance(spec, dict):
        out += _unknown(spec, _DS_SPEC, "spec")
        template = spec.get("template")
        if isinstance(template, dict):
            out += _unknown(template, frozenset({"metadata", "spec"}), "spec.template")
            out += _unknown(template.get("metadata"), _META, "spec.template.metadata")
            out += _pod_spec(template.get("spec"), "spec.template.spec", version)
    elif resource == "pods":
        out += _pod_spec(spec, "spec", version)
    return out


_INDEXED = re.compile(r"(containers|initContainers)\[(\d+)\]")


def apply_path(obj: dict, path: str) -> str:
    """A strict-decoding path as structured-merge-diff writes it for server-side apply: a leading dot and
    list items by their merge key (`.spec.template.spec.containers[name="falco"].image`)."""
    out, cur = [], obj
    for part in path.split("."):
        indexed = _INDEXED.fullmatch(part)
        if indexed:
            items = cur.get(indexed[1]) if isinstance(cur, dict) else None
            index = int(indexed[2])
            cur = items[index] if isinstance(items, list) and index < len(items) else {}
            name = cur.get("name", "") if isinstance(cur, dict) else ""
            out.append(f'{indexed[1]}[name="{name}"]')
        else:
            out.append(part)
            cur = cur.get(part) if isinstance(cur, dict) else None
    return "." + ".".join(out)


def drop_unknown_fields(resource: str, obj: dict, version: tuple[int, int] = LATEST) -> list[str]:
    """Remove undeclared fields, as decoding into the typed object does; returns their paths."""
    found = unknown_fields(resource, obj, version)
    for _, holder, key in found:
        holder.pop(key, None)
    return [path for path, _, _ in found]
