"""Readiness, read from Kubernetes objects as the API returns them (plain dicts): a pod's or node's Ready
condition and when it last changed, and whether one container of a pod is ready.

Facts: a Pod's `Ready` condition is True when all its containers pass their readiness probes (kubelet,
pkg/kubelet/status/generate.go GeneratePodReadyCondition); a Node's `Ready` condition is the kubelet's
heartbeat verdict (True/False/Unknown: node lifecycle controller). A missing condition is not Ready.
"""

from __future__ import annotations

from collections.abc import Mapping


def condition(obj: Mapping, kind: str = "Ready") -> Mapping | None:
    """The object's status condition of type `kind` (None when it reports none)."""
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return cond
    return None


def is_ready(obj: Mapping) -> bool:
    """A pod's or node's `Ready` condition is True."""
    cond = condition(obj)
    return cond is not None and cond.get("status") == "True"


def ready_changed_at(obj: Mapping) -> str | None:
    """When the `Ready` condition last changed (lastTransitionTime, RFC 3339), by the kubelet's account."""
    cond = condition(obj)
    return cond.get("lastTransitionTime") if cond is not None else None


def container_ready(pod: Mapping, container: str) -> bool:
    """The pod's container named `container` is ready (its own containerStatuses entry)."""
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return any(s.get("name") == container and s.get("ready") for s in statuses)
