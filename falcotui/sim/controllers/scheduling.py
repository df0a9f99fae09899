"""Pure scheduling rules of the DaemonSet controller: taints/tolerations, node eligibility, update budgets.

Everything here follows the upstream Kubernetes code paths (`ToleratesTaint`, `NodeShouldRunDaemonPod`,
`GetScaledValueFromIntOrPercent`, the DaemonSet `rollingUpdate` planner) on plain JSON-shaped dicts.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

# Tolerations the DaemonSet controller adds to every pod it creates (AddOrUpdateDaemonPodTolerations).
DAEMON_TOLERATIONS: tuple[dict, ...] = (
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
)
HOST_NETWORK_TOLERATION = {
    "key": "node.kubernetes.io/network-unavailable",
    "operator": "Exists",
    "effect": "NoSchedule",
}

_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # k8s rand.SafeEncodeString: no vowels, no 0/1/3


class SchedulingError(ValueError):
    """A spec value the scheduler cannot interpret (bad percentage, unknown operator)."""


def tolerates(toleration: Mapping, taint: Mapping) -> bool:
    """Whether one toleration tolerates one taint (upstream `Toleration.ToleratesTaint`)."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    op = toleration.get("operator") or "Equal"
    if op == "Exists":
        return True
    if op == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def untolerated_taints(
    taints: Iterable[Mapping], tolerations: Iterable[Mapping], effects: Iterable[str]
) -> list[Mapping]:
    """Taints with one of `effects` that no toleration tolerates."""
    tols = list(tolerations)
    wanted = set(effects)
    return [t for t in taints if t.get("effect") in wanted and not any(tolerates(tol, t) for tol in tols)]


def daemon_pod_tolerations(pod_spec: Mapping) -> list[dict]:
    """The pod's own tolerations plus the ones the DaemonSet controller always adds (no duplicates)."""
    result = [dict(t) for t in pod_spec.get("tolerations") or []]
    extra = list(DAEMON_TOLERATIONS)
    if pod_spec.get("hostNetwork"):
        extra.append(HOST_NETWORK_TOLERATION)
    for tol in extra:
        if not any(
            t.get("key") == tol["key"] and t.get("effect") == tol["effect"] and t.get("operator") == "Exists"
            for t in result
        ):
            result.append(dict(tol))
    return result


def _requirement_matches(req: Mapping, value: str | None) -> bool:
    op = req.get("operator")
    values = req.get("values") or []
    if op == "In":
        return value is not None and value in values
    if op == "NotIn":
        return value is None or value not in values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt"):
        if value is None or len(values) != 1:
            return False
        try:
            have, want = int(value), int(values[0])
        except ValueError:
            return False
        return have > want if op == "Gt" else have < want
    raise SchedulingError(f"unknown node selector operator {op!r}")


def _term_matches(term: Mapping, node: Mapping) -> bool:
    exprs = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not exprs and not fields:
        return False  # an empty term selects no node
    labels = node.get("metadata", {}).get("labels") or {}
    for req in exprs:
        if not _requirement_matches(req, labels.get(req.get("key"))):
            return False
    for req in fields:
        if req.get("key") != "metadata.name":
            return False
        if not _requirement_matches(req, node.get("metadata", {}).get("name")):
            return False
    return True


def matches_node_selector_terms(terms: Iterable[Mapping], node: Mapping) -> bool:
    """Required node affinity: the terms are ORed, the expressions inside a term ANDed."""
    return any(_term_matches(term, node) for term in terms)


def fits_node_affinity(pod_spec: Mapping, node: Mapping) -> bool:
    """nodeSelector (every label equal) and requiredDuringSchedulingIgnoredDuringExecution."""
    labels = node.get("metadata", {}).get("labels") or {}
    for key, value in (pod_spec.get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return False
    required = ((pod_spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or None
    if required is not None:
        return matches_node_selector_terms(required.get("nodeSelectorTerms") or [], node)
    return True


def node_should_run(pod_template_spec: Mapping, node: Mapping) -> tuple[bool, bool]:
    """(should_run, should_continue_running) of a DaemonSet pod on `node` (`NodeShouldRunDaemonPod`).

    A cordoned node still runs daemon pods: the controller adds the unschedulable toleration, as upstream.
    """
    node_name = node.get("metadata", {}).get("name")
    wanted = pod_template_spec.get("nodeName")
    if wanted and wanted != node_name:
        return False, False
    if not fits_node_affinity(pod_template_spec, node):
        return False, False
    taints = (node.get("spec") or {}).get("taints") or []
    tolerations = daemon_pod_tolerations(pod_template_spec)
    if untolerated_taints(taints, tolerations, ("NoSchedule", "NoExecute")):
        return False, not untolerated_taints(taints, tolerations, ("NoExecute",))
    return True, True


def scaled_int_or_percent(value: int | str | None, total: int, *, round_up: bool, default: int) -> int:
    """`GetScaledValueFromIntOrPercent`: 2 → 2, "25%" of 10 → 3 (rounded up) or 2 (down)."""
    if value is None:
        return default
    if isinstance(value, bool):
        raise SchedulingError(f"invalid int-or-percent value {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise SchedulingError(f"invalid int-or-percent value {value!r}: must be >= 0")
        return value
    text = str(value).strip()
    if text.endswith("%"):
        try:
            pct = int(text[:-1])
        except ValueError as exc:
            raise SchedulingError(
                "invalid value for IntOrString: invalid type: string is not a percentage"
            ) from exc
        if pct < 0:
            raise SchedulingError(f"invalid int-or-percent value {value!r}: must be >= 0")
        scaled = pct * total / 100
        return math.ceil(scaled) if round_up else math.floor(scaled)
    try:
        return int(text)
    except ValueError as exc:
        raise SchedulingError(f"invalid int-or-percent value {value!r}") from exc


def update_budget(rolling_update: Mapping | None, desired: int) -> tuple[int, int]:
    """(maxUnavailable, maxSurge) for `desired` scheduled nodes; both zero falls back to 1 unavailable."""
    ru = rolling_update or {}
    max_unavailable = scaled_int_or_percent(ru.get("maxUnavailable"), desired, round_up=True, default=1)
    max_surge = scaled_int_or_percent(ru.get("maxSurge"), desired, round_up=True, default=0)
    if max_unavailable == 0 and max_surge == 0:
        max_unavailable = 1
    return max_unavailable, max_surge


def template_hash(template: Mapping, collision_count: int = 0) -> str:
    """A stable short hash of a pod template, in the alphabet Kubernetes uses for such labels."""
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    h = 0x811C9DC5
    for byte in data:
        h ^= byte
        h = (h * 0x01000193) & 0xFFFFFFFF
    if collision_count:
        for byte in str(collision_count).encode():
            h ^= byte
            h = (h * 0x01000193) & 0xFFFFFFFF
    return "".join(_SAFE_ALPHABET[ord(c) % len(_SAFE_ALPHABET)] for c in str(h))


def random_suffix(rng, length: int = 5) -> str:
    """The random tail `generateName` appends (same alphabet as upstream)."""
    return "".join(rng.choice(_SAFE_ALPHABET) for _ in range(length))


@dataclass(slots=True)
class NodePods:
    """What the rolling-update planner needs to know about one node's daemon pods."""

    node: str
    old: list[str] = field(default_factory=list)  # pod names with an outdated template hash
    new: list[str] = field(default_factory=list)  # pod names with the current hash
    available: set[str] = field(default_factory=set)  # names of the pods that count as available
    should_run: bool = True


@dataclass(slots=True)
class RolloutStep:
    delete: list[str] = field(default_factory=list)  # pod names
    create_on: list[str] = field(default_factory=list)  # node names (surge only)


def plan_rolling_update(nodes: Iterable[NodePods], max_unavailable: int, max_surge: int) -> RolloutStep:
    """One step of the upstream DaemonSet `rollingUpdate`: which old pods to delete, where to surge.

    Without surge, an unavailable old pod is replaced at once; available ones only while fewer than
    `max_unavailable` nodes are unavailable. With surge, a new pod starts beside the old one and the old
    one goes once the new one is available.
    """
    step = RolloutStep()
    ordered = sorted(nodes, key=lambda n: n.node)
    if max_surge == 0:
        unavailable = 0
        allowed: list[str] = []
        candidates: list[str] = []
        for np in ordered:
            if len(np.old) > 1 or len(np.new) > 1:
                unavailable += 1
                continue
            old = np.old[0] if np.old else None
            new = np.new[0] if np.new else None
            if (old is None) == (new is None):
                unavailable += 1
            elif new is not None:
                if new not in np.available:
                    unavailable += 1
            elif old not in np.available:
                allowed.append(old)
            elif unavailable < max_unavailable:
                candidates.append(old)
        remaining = max(0, min(max_unavailable - unavailable, len(candidates)))
        step.delete = allowed + candidates[:remaining]
        return step
    surge = 0
    allowed_nodes: list[str] = []
    candidate_nodes: list[str] = []
    for np in ordered:
        if len(np.old) > 1 or len(np.new) > 1:
            surge += 1
            continue
        old = np.old[0] if np.old else None
        new = np.new[0] if np.new else None
        if old is None:
            continue
        if new is None:
            if old not in np.available:
                if not np.should_run:
                    step.delete.append(old)
                    continue
                allowed_nodes.append(np.node)
            elif surge < max_surge:
                candidate_nodes.append(np.node)
            continue
        if new not in np.available:
            surge += 1
            continue
        step.delete.append(old)
    remaining = max(0, min(max_surge - surge, len(candidate_nodes)))
    step.create_on = allowed_nodes + candidate_nodes[:remaining]
    return step
