"""Server-side apply of manifest dicts under field manager `falcotui`, with dry-run diffs and deletes.

Each object is sent as `PATCH` with `Content-Type: application/apply-patch+yaml` to its REST path (found
from apiVersion/kind: built-in table, else API discovery). `dry_run=True` adds `dryRun=All`; the result is
compared with the live object to say `created` / `unchanged` / `changed` and to give a unified YAML diff
with server-managed noise stripped. A 409 becomes `ApplyConflictError`, whose text names every contested
field and the manager that owns it.
"""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import yaml

from falcotui.kube.client import KubeClients
from falcotui.kube.errors import KubeApiError, KubeError
from falcotui.kube.resources import Resource

FIELD_MANAGER = "falcotui"

_BUILTIN: dict[tuple[str, str], Resource] = {
    ("v1", "Namespace"): Resource("/api/v1", "namespaces", False),
    ("v1", "Node"): Resource("/api/v1", "nodes", False),
    ("v1", "Pod"): Resource("/api/v1", "pods", True),
    ("v1", "ConfigMap"): Resource("/api/v1", "configmaps", True),
    ("v1", "Secret"): Resource("/api/v1", "secrets", True),
    ("v1", "ResourceQuota"): Resource("/api/v1", "resourcequotas", True),
    ("v1", "ServiceAccount"): Resource("/api/v1", "serviceaccounts", True),
    ("v1", "Service"): Resource("/api/v1", "services", True),
    ("apps/v1", "DaemonSet"): Resource("/apis/apps/v1", "daemonsets", True),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): Resource(
        "/apis/rbac.authorization.k8s.io/v1", "clusterroles", False
    ),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): Resource(
        "/apis/rbac.authorization.k8s.io/v1", "clusterrolebindings", False
    ),
    ("rbac.authorization.k8s.io/v1", "Role"): Resource("/apis/rbac.authorization.k8s.io/v1", "roles", True),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): Resource(
        "/apis/rbac.authorization.k8s.io/v1", "rolebindings", True
    ),
}

# Helm's install order: what others depend on goes first; deletes run in reverse.
_KIND_ORDER = [
    "Namespace", "ResourceQuota", "LimitRange", "ServiceAccount", "Secret", "ConfigMap",
    "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "NetworkPolicy", "Service", "DaemonSet",
    "Deployment",
]  # fmt: skip

_STRIP_META = ("managedFields", "resourceVersion", "generation", "uid", "creationTimestamp", "selfLink")


class ApplyError(KubeError):
    """An object could not be applied or deleted; the message names it."""


@dataclass(frozen=True, slots=True)
class FieldConflict:
    field: str
    manager: str
    message: str


class ApplyConflictError(ApplyError):
    """Another field manager owns fields this apply sets; `report()` explains, `force=True` takes them."""

    def __init__(self, ref: str, conflicts: list[FieldConflict], server_message: str):
        self.ref = ref
        self.conflicts = conflicts
        super().__init__(self.report() or f"{ref}: {server_message}", code=409, reason="Conflict")

    def report(self) -> str:
        if not self.conflicts:
            return ""
        n = len(self.conflicts)
        lines = [f"{self.ref}: {n} field{'s' if n != 1 else ''} owned by another manager:"]
        for c in self.conflicts:
            lines.append(f"  {c.field}  (owned by {c.manager!r})")
        lines.append("Re-apply with force to take ownership, or change the fields back.")
        return "\n".join(lines)


@dataclass(slots=True)
class ApplyResult:
    ref: str  # "Kind namespace/name" or "Kind name"
    status: str  # created | unchanged | changed
    diff: str = ""
    obj: dict = field(default_factory=dict)  # what the server returned (dry-run: what it would store)


def object_ref(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    name = meta.get("name", "?")
    return f"{obj.get('kind', '?')} {ns}/{name}" if ns else f"{obj.get('kind', '?')} {name}"


def sort_for_apply(manifests: Iterable[dict]) -> list[dict]:
    def rank(obj: dict) -> int:
        kind = obj.get("kind", "")
        return _KIND_ORDER.index(kind) if kind in _KIND_ORDER else len(_KIND_ORDER)

    return sorted(manifests, key=rank)


def normalized(obj: dict | None) -> dict:
    """The object without server-managed noise (managedFields, RVs, uid, timestamps, status)."""
    if not obj:
        return {}
    out = copy.deepcopy(obj)
    out.pop("status", None)
    meta = out.get("metadata") or {}
    for key in _STRIP_META:
        meta.pop(key, None)
    if not meta.get("annotations"):
        meta.pop("annotations", None)
    return out


def yaml_diff(before: dict | None, after: dict | None, ref: str) -> str:
    """Unified diff of the normalized objects as YAML ("" when equal)."""
    a = yaml.safe_dump(normalized(before), sort_keys=True) if before else ""
    b = yaml.safe_dump(normalized(after), sort_keys=True) if after else ""
    if a == b:
        return ""
    return "".join(
        difflib.unified_diff(
            a.splitlines(keepends=True), b.splitlines(keepends=True), f"live: {ref}", f"applied: {ref}"
        )
    )


_MANAGER = re.compile(r'conflict with "([^"]*)"(?: using ([\w./-]+))?')


def parse_conflicts(status: dict | None) -> list[FieldConflict]:
    """Field conflicts from a 409 apply Status: `details.causes[]` with `field` and 'conflict with "m"'."""
    out: list[FieldConflict] = []
    for cause in ((status or {}).get("details") or {}).get("causes") or []:
        message = cause.get("message", "")
        m = _MANAGER.search(message)
        manager = m.group(1) if m else "unknown manager"
        out.append(FieldConflict(cause.get("field", "") or "(unknown field)", manager, message))
    return out


class Applier:
    """Applies/deletes manifest dicts through one `KubeClients` (discovery answers are cached)."""

    def __init__(self, clients: KubeClients, field_manager: str = FIELD_MANAGER):
        self.clients = clients
        self.field_manager = field_manager
        self._discovered: dict[tuple[str, str], Resource] = {}

    def resource_for(self, api_version: str, kind: str) -> Resource:
        key = (api_version, kind)
        if key in _BUILTIN:
            return _BUILTIN[key]
        if key not in self._discovered:
            base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
            try:
                listing = self.clients.request("GET", base)
            except KubeApiError as exc:
                raise ApplyError(f"the server does not serve {api_version}: {exc.message}") from exc
            for res in listing.get("resources") or []:
                if res.get("kind") == kind and "/" not in res.get("name", ""):
                    self._discovered[key] = Resource(base, res["name"], bool(res.get("namespaced")))
                    break
            else:
                raise ApplyError(f"the server has no kind {kind} in {api_version}")
        return self._discovered[key]

    def _locate(self, obj: dict) -> tuple[Resource, str | None, str]:
        if not isinstance(obj, dict) or not obj.get("apiVersion") or not obj.get("kind"):
            raise ApplyError("a manifest without apiVersion/kind cannot be applied")
        meta = obj.get("metadata") or {}
        name = meta.get("name")
        if not name:
            raise ApplyError(f"{obj['kind']} without metadata.name cannot be applied")
        res = self.resource_for(obj["apiVersion"], obj["kind"])
        ns = (meta.get("namespace") or self.clients.namespace) if res.namespaced else None
        return res, ns, name

    def get_live(self, obj: dict) -> dict | None:
        res, ns, name = self._locate(obj)
        try:
            return self.clients.request("GET", res.object_path(ns, name))
        except KubeApiError as exc:
            if exc.code == 404:
                return None
            raise

    def apply_one(self, obj: dict, *, dry_run: bool = False, force: bool = False) -> ApplyResult:
        res, ns, name = self._locate(obj)
        body = copy.deepcopy(obj)
        if ns:
            body.setdefault("metadata", {})["namespace"] = ns
        ref = object_ref(body)
        live = self.get_live(body)
        # Strict, as `kubectl apply --server-side` sends by default: duplicate fields are refused too. A field
        # the server does not know (a newer one on an older server) is refused by server-side apply in any
        # case ("not optional", KEP-2885), never silently dropped from what runs.
        # https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation
        query: list[tuple[str, object]] = [
            ("fieldManager", self.field_manager),
            ("fieldValidation", "Strict"),
        ]
        if force:
            query.append(("force", "true"))
        if dry_run:
            query.append(("dryRun", "All"))
        try:
            result = self.clients.request(
                "PATCH",
                res.object_path(ns, name),
                query=query,
                body=body,
                content_type="application/apply-patch+yaml",
            )
        except KubeApiError as exc:
            if exc.code == 409:
                status = {"details": exc.details}
                raise ApplyConflictError(ref, parse_conflicts(status), exc.message) from exc
            raise ApplyError(f"{ref}: {exc.message}", code=exc.code, reason=exc.reason) from exc
        if live is None:
            return ApplyResult(ref, "created", yaml_diff(None, result, ref), result)
        diff = yaml_diff(live, result, ref)
        return ApplyResult(ref, "changed" if diff else "unchanged", diff, result)

    def apply(
        self, manifests: Iterable[dict], *, dry_run: bool = False, force: bool = False
    ) -> list[ApplyResult]:
        """Apply every object (dependencies first); a dry run of objects in a namespace this same set
        creates is answered locally (the server would refuse: the namespace does not exist yet)."""
        results: list[ApplyResult] = []
        new_namespaces: set[str] = set()
        for obj in sort_for_apply(manifests):
            ns = (obj.get("metadata") or {}).get("namespace")
            if dry_run and ns in new_namespaces:
                ref = object_ref(obj)
                results.append(ApplyResult(ref, "created", yaml_diff(None, obj, ref), copy.deepcopy(obj)))
                continue
            result = self.apply_one(obj, dry_run=dry_run, force=force)
            if result.status == "created" and obj.get("kind") == "Namespace":
                new_namespaces.add(obj["metadata"]["name"])
            results.append(result)
        return results

    def delete(self, manifests: Iterable[dict], *, propagation: str = "Foreground") -> list[tuple[str, str]]:
        """Delete every object (reverse apply order); returns (ref, "deleted" | "not found")."""
        if propagation not in ("Foreground", "Background", "Orphan"):
            raise ApplyError(f"unknown propagation policy {propagation!r}")
        out: list[tuple[str, str]] = []
        for obj in reversed(sort_for_apply(manifests)):
            res, ns, name = self._locate(obj)
            ref = object_ref({**obj, "metadata": {**(obj.get("metadata") or {}), "namespace": ns}})
            body = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": propagation}
            try:
                self.clients.request("DELETE", res.object_path(ns, name), body=body)
                out.append((ref, "deleted"))
            except KubeApiError as exc:
                if exc.code != 404:
                    raise ApplyError(f"{ref}: {exc.message}", code=exc.code, reason=exc.reason) from exc
                out.append((ref, "not found"))
        return out


def load_manifests(texts: Iterable[str]) -> list[dict]:
    """Every non-empty YAML document of the given texts (List kinds are flattened)."""
    out: list[dict] = []
    for text in texts:
        try:
            docs = list(yaml.safe_load_all(text))
        except yaml.YAMLError as exc:
            raise ApplyError(f"invalid manifest YAML: {exc}") from exc
        for doc in docs:
            if doc is None:
                continue
            if not isinstance(doc, dict):
                raise ApplyError("a manifest document is not a mapping")
            if doc.get("kind", "").endswith("List") and isinstance(doc.get("items"), list):
                out.extend(doc["items"])
            else:
                out.append(doc)
    return out
