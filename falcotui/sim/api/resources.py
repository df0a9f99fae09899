"""The kinds the simulated API serves: group, version, kind, scope, short names, verbs, subresources."""

from __future__ import annotations

from dataclasses import dataclass

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True, slots=True)
class ResourceInfo:
    plural: str
    singular: str
    kind: str
    group: str
    version: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    has_generation: bool = False  # metadata.generation tracks spec changes
    status_subresource: bool = False  # main-resource writes keep the stored status
    stored: bool = True  # False for virtual kinds such as SelfSubjectAccessReview

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        return self.api_version


RESOURCES: dict[str, ResourceInfo] = {
    r.plural: r
    for r in (
        ResourceInfo("namespaces", "namespace", "Namespace", "", "v1", False, ("ns",),
                     ("create", "delete", "get", "list", "patch", "update", "watch"),
                     subresources=("status",), status_subresource=True),
        ResourceInfo("nodes", "node", "Node", "", "v1", False, ("no",), subresources=("status",),
                     status_subresource=True),
        ResourceInfo("pods", "pod", "Pod", "", "v1", True, ("po",), categories=("all",),
                     subresources=("status", "log", "exec", "portforward"), status_subresource=True),
        ResourceInfo("configmaps", "configmap", "ConfigMap", "", "v1", True, ("cm",)),
        ResourceInfo("secrets", "secret", "Secret", "", "v1", True),
        ResourceInfo("resourcequotas", "resourcequota", "ResourceQuota", "", "v1", True, ("quota",),
                     subresources=("status",), status_subresource=True),
        ResourceInfo("serviceaccounts", "serviceaccount", "ServiceAccount", "", "v1", True, ("sa",)),
        ResourceInfo("events", "event", "Event", "", "v1", True, ("ev",)),
        ResourceInfo("daemonsets", "daemonset", "DaemonSet", "apps", "v1", True, ("ds",),
                     categories=("all",), subresources=("status",), has_generation=True,
                     status_subresource=True),
        # apps/v1 ReplicaSet (the owner a Deployment's pods have): pods it controls come back after a delete
        ResourceInfo("replicasets", "replicaset", "ReplicaSet", "apps", "v1", True, ("rs",),
                     categories=("all",), subresources=("status",), has_generation=True,
                     status_subresource=True),
        ResourceInfo("controllerrevisions", "controllerrevision", "ControllerRevision", "apps", "v1", True),
        ResourceInfo("clusterroles", "clusterrole", "ClusterRole", "rbac.authorization.k8s.io", "v1", False),
        ResourceInfo("clusterrolebindings", "clusterrolebinding", "ClusterRoleBinding",
                     "rbac.authorization.k8s.io", "v1", False),
        ResourceInfo("roles", "role", "Role", "rbac.authorization.k8s.io", "v1", True),
        ResourceInfo("rolebindings", "rolebinding", "RoleBinding", "rbac.authorization.k8s.io", "v1", True),
        # networking.k8s.io/v1 NetworkPolicy: stored and served as data; the simulator drops no packets
        ResourceInfo("networkpolicies", "networkpolicy", "NetworkPolicy", "networking.k8s.io", "v1", True,
                     ("netpol",)),
        ResourceInfo("selfsubjectrulesreviews", "selfsubjectrulesreview", "SelfSubjectRulesReview",
                     "authorization.k8s.io", "v1", False, verbs=("create",), stored=False),
        ResourceInfo("selfsubjectaccessreviews", "selfsubjectaccessreview", "SelfSubjectAccessReview",
                     "authorization.k8s.io", "v1", False, verbs=("create",), stored=False),
    )
}  # fmt: skip

BY_KIND: dict[tuple[str, str], ResourceInfo] = {(r.api_version, r.kind): r for r in RESOURCES.values()}

#: group -> version -> resources, in the order discovery lists them.
GROUPS: dict[str, dict[str, list[ResourceInfo]]] = {}
for _r in RESOURCES.values():
    GROUPS.setdefault(_r.group, {}).setdefault(_r.version, []).append(_r)


def info(resource: str) -> ResourceInfo:
    from falcotui.sim.api.errors import StoreError

    try:
        return RESOURCES[resource]
    except KeyError:
        raise StoreError(404, f"the server could not find the requested resource ({resource})") from None


def by_kind(api_version: str, kind: str) -> ResourceInfo | None:
    return BY_KIND.get((api_version, kind))
