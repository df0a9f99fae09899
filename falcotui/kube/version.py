"""The API server's Kubernetes version, read from `/version` the way kubectl reads it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from falcotui.kube.client import KubeClients
from falcotui.kube.errors import KubeError

# `minor` is "29" upstream but "29+" on GKE/EKS builds; gitVersion ("v1.29.4-gke.100") is the fallback.
_NUMBER = re.compile(r"^(\d+)")
_GIT_VERSION = re.compile(r"^v?(\d+)\.(\d+)")


@dataclass(frozen=True, slots=True)
class ServerVersion:
    major: int
    minor: int
    git_version: str

    @property
    def minor_version(self) -> tuple[int, int]:
        return self.major, self.minor

    def __str__(self) -> str:
        return self.git_version or f"v{self.major}.{self.minor}"


def parse_server_version(doc: Mapping) -> ServerVersion:
    """A `/version` answer as a ServerVersion; KubeError when it names no version."""
    git = str(doc.get("gitVersion") or "")
    major = _NUMBER.match(str(doc.get("major") or ""))
    minor = _NUMBER.match(str(doc.get("minor") or ""))
    if major and minor:
        return ServerVersion(int(major.group(1)), int(minor.group(1)), git)
    from_git = _GIT_VERSION.match(git)
    if from_git:
        return ServerVersion(int(from_git.group(1)), int(from_git.group(2)), git)
    raise KubeError(f"the API server's /version names no version: {dict(doc)!r:.200}")


def server_version(clients: KubeClients) -> ServerVersion:
    """GET /version (public on every API server; no RBAC needed)."""
    doc = clients.request("GET", "/version")
    if not isinstance(doc, Mapping):
        raise KubeError("the API server's /version is not a JSON object")
    return parse_server_version(doc)
