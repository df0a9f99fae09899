"""Where each kind lives in the REST API (typed paths) and the label that marks falcotui's Falco pods.

The rest of falcotui names a kind by its constant here (`PODS`, `CONFIGMAPS`, ...) and asks for objects
through its methods; no module outside `falcotui.kube` writes a REST path.
"""

from __future__ import annotations

from dataclasses import dataclass

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


PODS = Resource("/api/v1", "pods", True)
NODES = Resource("/api/v1", "nodes", False)
CONFIGMAPS = Resource("/api/v1", "configmaps", True)
EVENTS = Resource("/api/v1", "events", True)
DAEMONSETS = Resource("/apis/apps/v1", "daemonsets", True)
NAMESPACES = Resource("/api/v1", "namespaces", False)
