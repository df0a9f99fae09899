"""Where each kind lives in the REST API (typed paths) and the label that marks falcotui's Falco pods.

The rest of falcotui names a kind by its constant here (`PODS`, `CONFIGMAPS`, ...) and asks for objects
through its methods; no module outside `falcotui.kube` writes a REST path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from falcotui.kube.errors import KubeApiError

if TYPE_CHECKING:
    from falcotui.kube.client import KubeClients

#: a patch's content types (kubectl patch --type strategic|merge)
STRATEGIC_MERGE = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
Query = Sequence[tuple[str, Any]]

#: the label every Falco pod falcotui deploys carries (manifests' DaemonSet template), as a mapping
FALCO_LABELS: dict[str, str] = {"app.kubernetes.io/name": "falco"}
#: the same label as a `labelSelector` query value
FALCO_SELECTOR = ",".join(f"{k}={v}" for k, v in FALCO_LABELS.items())


@dataclass(frozen=True, slots=True)
class Resource:
    """Where a kind lives in the REST API."""

    api_path: str  # "/api/v1" or "/apis/<group>/<version>"
    plural: str
    namespaced: bool

    def collection_path(self, namespace: str | None) -> str:
        if self.namespaced and namespace:
            return f"{self.api_path}/namespaces/{namespace}/{self.plural}"
        return f"{self.api_path}/{self.plural}"

    def object_path(self, namespace: str | None, name: str) -> str:
        return f"{self.collection_path(namespace)}/{name}"

    # ---- the verbs, through a cluster's clients (raw JSON; KubeApiError / KubeConnectionError on failure)
    def read(self, clients: KubeClients, namespace: str | None, name: str) -> dict:
        """The object; a missing one raises KubeApiError with code 404."""
        return clients.request("GET", self.object_path(namespace, name))

    def get(self, clients: KubeClients, namespace: str | None, name: str) -> dict | None:
        """The object, or None when there is no such object (404)."""
        try:
            return self.read(clients, namespace, name)
        except KubeApiError as exc:
            if exc.code == 404:
                return None
            raise

    def items(
        self, clients: KubeClients, namespace: str | None = None, *, selector: str = "", query: Query = ()
    ) -> list[dict]:
        """LIST: the items (every namespace when `namespace` is None), optionally by label selector."""
        params = [*query, *([("labelSelector", selector)] if selector else [])]
        return clients.request("GET", self.collection_path(namespace), query=params).get("items") or []

    def create(self, clients: KubeClients, namespace: str | None, body: dict, *, query: Query = ()) -> dict:
        return clients.request("POST", self.collection_path(namespace), query=list(query), body=body)

    def replace(
        self, clients: KubeClients, namespace: str | None, name: str, body: dict, *, query: Query = ()
    ) -> dict:
        """PUT: the whole object (its resourceVersion, when set, makes a stale write a 409 Conflict)."""
        return clients.request("PUT", self.object_path(namespace, name), query=list(query), body=body)

    def patch(
        self,
        clients: KubeClients,
        namespace: str | None,
        name: str,
        body: dict,
        *,
        content_type: str = STRATEGIC_MERGE,
        query: Query = (),
    ) -> dict:
        return clients.request(
            "PATCH",
            self.object_path(namespace, name),
            query=list(query),
            body=body,
            content_type=content_type,
        )

    def delete(
        self, clients: KubeClients, namespace: str | None, name: str, body: dict | None = None
    ) -> dict:
        """DELETE, with DeleteOptions in `body` (preconditions, propagation) when given."""
        return clients.request("DELETE", self.object_path(namespace, name), body=body)


PODS = Resource("/api/v1", "pods", True)
NODES = Resource("/api/v1", "nodes", False)
CONFIGMAPS = Resource("/api/v1", "configmaps", True)
EVENTS = Resource("/api/v1", "events", True)
DAEMONSETS = Resource("/apis/apps/v1", "daemonsets", True)
NAMESPACES = Resource("/api/v1", "namespaces", False)
SECRETS = Resource("/api/v1", "secrets", True)
SERVICEACCOUNTS = Resource("/api/v1", "serviceaccounts", True)
NETWORKPOLICIES = Resource("/apis/networking.k8s.io/v1", "networkpolicies", True)
