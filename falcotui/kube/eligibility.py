"""Whether a DaemonSet's pod belongs on a node, and if not, why: nodeSelector, required node affinity, or a
taint the pod does not tolerate.

Pure readings of plain dicts as the API returns them, following upstream Kubernetes:
`Toleration.ToleratesTaint`, the tolerations the DaemonSet controller adds to every daemon pod (so
cordoned, NotReady-NoExecute and pressure-tainted nodes still get one, and a hostNetwork pod a node whose
network is unavailable), and only NoSchedule/NoExecute taints keep a pod off a node. The simulated cluster
keeps its own copy (sim/controllers/scheduling.py) on purpose: it is Kubernetes' scheduling, not Falco's
domain, so it has no place in `falcotui.falco` (the one package `falcotui.sim` may import), and the
simulated DaemonSet controller is what the fleet's "why no Falco pod here" reading is tested against: one
shared copy would make that test agree with itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# Added by the DaemonSet controller to every daemon pod (upstream AddOrUpdateDaemonPodTolerations).
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


def _meta(obj: Mapping) -> Mapping:
    return obj.get("metadata") or {}


def format_taint(taint: Mapping) -> str:
    """`dedicated=gpu:NoSchedule`, as kubectl writes taints."""
    value = f"={taint['value']}" if taint.get("value") else ""
    return f"{taint.get('key', '')}{value}:{taint.get('effect', '')}"


def node_taints(node: Mapping) -> list[Mapping]:
    return list((node.get("spec") or {}).get("taints") or [])


def tolerates(toleration: Mapping, taint: Mapping) -> bool:
    """Whether one toleration tolerates one taint (upstream `Toleration.ToleratesTaint`)."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    if operator == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def daemon_tolerations(pod_spec: Mapping) -> list[Mapping]:
    """The pod template's tolerations plus those the DaemonSet controller adds."""
    extra = [HOST_NETWORK_TOLERATION] if pod_spec.get("hostNetwork") else []
    return [*(pod_spec.get("tolerations") or []), *DAEMON_TOLERATIONS, *extra]


def untolerated_taints(pod_spec: Mapping, node: Mapping) -> list[Mapping]:
    """The node's NoSchedule/NoExecute taints a daemon pod with `pod_spec` does not tolerate."""
    tolerations = daemon_tolerations(pod_spec)
    return [
        t
        for t in node_taints(node)
        if t.get("effect") in ("NoSchedule", "NoExecute")
        and not any(tolerates(tol, t) for tol in tolerations)
    ]


def unmatched_node_selector(pod_spec: Mapping, node: Mapping) -> list[str]:
    """The `key=value` pairs of the pod's nodeSelector the node's labels lack."""
    labels = _meta(node).get("labels") or {}
    return [f"{k}={v}" for k, v in (pod_spec.get("nodeSelector") or {}).items() if labels.get(k) != v]


def _requirement(req: Mapping, value: str | None) -> bool:
    op, values = req.get("operator"), list(req.get("values") or [])
    if op == "In":
        return value is not None and value in values
    if op == "NotIn":
        return value is None or value not in values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt") and value is not None and len(values) == 1:
        try:
            have, limit = int(value), int(values[0])
        except ValueError:
            return False
        return have > limit if op == "Gt" else have < limit
    return False


def _term(term: Mapping, node: Mapping) -> bool:
    exprs, fields = term.get("matchExpressions") or [], term.get("matchFields") or []
    if not exprs and not fields:
        return False  # an empty term matches nothing (upstream)
    labels = _meta(node).get("labels") or {}
    node_fields = {"metadata.name": _meta(node).get("name") or ""}
    return all(_requirement(e, labels.get(e.get("key"))) for e in exprs) and all(
        _requirement(f, node_fields.get(f.get("key"))) for f in fields
    )


def required_affinity_matches(pod_spec: Mapping, node: Mapping) -> bool:
    required = ((pod_spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    if not required:
        return True
    return any(_term(t, node) for t in required.get("nodeSelectorTerms") or [])


@dataclass(frozen=True, slots=True)
class Placement:
    """Whether a daemon pod belongs on a node; `kind` is "" (it does), "selector", "affinity" or "taint"
    (callers add kinds of their own, such as "no-daemonset")."""

    kind: str = ""
    reason: str = ""
    taint: str = ""

    @property
    def eligible(self) -> bool:
        return not self.kind


def daemon_placement(pod_spec: Mapping, node: Mapping) -> Placement:
    """Whether a DaemonSet with pod template spec `pod_spec` runs a pod on `node`, and if not, why."""
    missing = unmatched_node_selector(pod_spec, node)
    if missing:
        return Placement("selector", f"nodeSelector {', '.join(missing)} does not match the node's labels")
    if not required_affinity_matches(pod_spec, node):
        return Placement("affinity", "required node affinity does not match the node")
    blocked = untolerated_taints(pod_spec, node)
    if blocked:
        text = format_taint(blocked[0])
        more = f" (+{len(blocked) - 1} more)" if len(blocked) > 1 else ""
        return Placement("taint", f"taint {text} not tolerated{more}", text)
    return Placement()
