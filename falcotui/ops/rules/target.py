"""Which Falco the rules must load on: the versions the cluster's Falco pods run, reduced to the strictest.

A pod's Falco version is what its log printed (`Falco version: ...`, `ops.falco_pods`, known to the fleet
when the TUI runs) or else the tag of its `falco` container image (`ops.fleet_k8s.image_tag`): the fleet
grid's order of sources. With several
versions in the cluster the oldest wins: Falco 0.43 (libs 0.23.2) refuses the string-operator modifiers
that 0.44+ accept, and a push must load on every node. Without readable pods (none yet, no RBAC, an image
pinned by digest only) the target is the version the manifests pin, and the note says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from falcotui.falco.rules.dialect import (
    DEFAULT_DIALECT,
    Dialect,
    UnknownFalcoVersion,
    parse_version,
    strictest,
)
from falcotui.ops.fleet.k8s import image_tag


@dataclass(frozen=True, slots=True)
class RulesTarget:
    """The dialect to validate for, the versions seen (pod -> version) and a sentence when it matters."""

    dialect: Dialect
    versions: dict[str, str] = field(default_factory=dict)
    note: str = ""

    @property
    def falco_version(self) -> str:
        return self.dialect.text

    @property
    def noteworthy(self) -> bool:
        """Worth a word on screen: mixed versions, or nodes on another Falco than the one pinned."""
        return len(set(self.versions.values())) > 1 or (
            bool(self.versions) and self.dialect != DEFAULT_DIALECT
        )

    def describe(self) -> str:
        """`validated for Falco 0.43.1 (libs 0.23.2)` plus the note when there is one."""
        text = f"validated for Falco {self.dialect.text} (libs {self.dialect.libs_version})"
        return f"{text}: {self.note}" if self.note else text


def pod_falco_version(pod: Mapping) -> str | None:
    """The Falco version a pod's `falco` container image names (None for a digest-only or foreign image)."""
    containers = (pod.get("spec") or {}).get("containers") or []
    image = next((c.get("image", "") for c in containers if c.get("name") == "falco"), "")
    return image_tag(image) if image else None


def target_for_pods(pods: Iterable[Mapping], logged: Mapping[str, str] | None = None) -> RulesTarget:
    """The strictest Falco among `pods` (Kubernetes Pod objects), or the pinned version if none says;
    `logged` (pod name -> the version its log printed) wins over the image tag."""
    versions: dict[str, str] = {}
    for pod in pods:
        name = (pod.get("metadata") or {}).get("name", "?")
        version = (logged or {}).get(name) or pod_falco_version(pod)
        if version:
            versions[name] = version
    return target_for_versions(versions)


def target_for_versions(versions: Mapping[str, str]) -> RulesTarget:
    """The strictest of `versions` (pod or node -> Falco version) with the note `strictest` writes."""
    readable = {name: v for name, v in versions.items() if _parses(v)}
    if not readable:
        why = (
            "no Falco pod names a version falcotui can read" if versions else "no Falco pod names its version"
        )
        return unknown_target(why)
    dialect, note = strictest(list(readable.values()))
    if note:
        oldest = sorted(name for name, v in readable.items() if parse_version(v) == dialect.falco_version)
        shown = ", ".join(oldest[:3]) + (f" and {len(oldest) - 3} more" if len(oldest) > 3 else "")
        note = f"{note} (Falco {dialect.text} on {shown})"
    return RulesTarget(dialect, readable, note)


def unknown_target(why: str) -> RulesTarget:
    return RulesTarget(
        DEFAULT_DIALECT,
        {},
        f"{why}: validating for Falco {DEFAULT_DIALECT.text}, the version the manifests pin",
    )


def _parses(version: str) -> bool:
    try:
        parse_version(version)
    except UnknownFalcoVersion:
        return False
    return True
