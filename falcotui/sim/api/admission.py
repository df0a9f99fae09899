"""Admission that refuses pods, worded the way a real API server words each kind of refusal.

The refusal is a Status error on the pod create; the DaemonSet controller turns it into a `FailedCreate`
event on the DaemonSet, "Error creating: <message>" (kubernetes/kubernetes pkg/controller/controller_utils.go,
RealPodControl.createPods), and retries with back-off. Messages:

- webhook: `admission webhook "<name>" denied the request: <message>`, code 403 when the webhook sets none
  (k8s.io/apiserver pkg/admission/plugin/webhook/errors/statuserror.go, ToStatusErr);
- scc: `pods "<name>" is forbidden: unable to validate against any security context constraint: [...]`
  (admission.NewForbidden), where <name> is the pod's generateName while the API server has not generated
  the name yet (k8s.io/apiserver pkg/admission/errors.go, extractResourceName) - hence OpenShift's
  DaemonSet events `pods "falco-" is forbidden: ...`;
- quota: the ResourceQuota plugin, configured to limit the critical priority classes (GKE's default,
  kubernetes.io/docs/concepts/policy/resource-quotas/#limit-priority-class-consumption-by-default), refuses
  a pod of such a class in a namespace where no ResourceQuota's scopeSelector covers it, with the bare
  "insufficient quota to match these scopes: [{PriorityClass In [system-node-critical
  system-cluster-critical]}]" that GKE users report in FailedCreate events (open-policy-agent/gatekeeper#1120,
  cilium/cilium#13852). The status code of that refusal is not established here: the error is not an API
  status, so 500 as the API server answers plain errors. Quota usage (`hard` against `used`) is not counted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from falcotui.sim.api.errors import StoreError
from falcotui.sim.config import AdmissionRule

CRITICAL_QUOTA_SCOPES = "[{PriorityClass In [system-node-critical system-cluster-critical]}]"
_CRITICAL = ("system-node-critical", "system-cluster-critical")


Quotas = Callable[[str], Iterable[dict]]  # namespace -> its ResourceQuota objects


def _covered(quota: dict, priority_class: str) -> bool:
    """Whether a ResourceQuota's scopeSelector covers pods of `priority_class` (operator In/Exists)."""
    selector = (quota.get("spec") or {}).get("scopeSelector") or {}
    for expr in selector.get("matchExpressions") or []:
        if expr.get("scopeName") != "PriorityClass":
            continue
        if expr.get("operator") == "Exists" or (
            expr.get("operator") == "In" and priority_class in (expr.get("values") or [])
        ):
            return True
    return False


def _applies(rule: AdmissionRule, pod: dict, quotas: Quotas) -> bool:
    meta = pod.get("metadata") or {}
    if rule.namespace is not None and meta.get("namespace") != rule.namespace:
        return False
    if rule.kind == "quota":
        priority_class = (pod.get("spec") or {}).get("priorityClassName")
        if priority_class not in _CRITICAL:
            return False
        return not any(_covered(q, priority_class) for q in quotas(meta.get("namespace") or ""))
    return True


def refusal(rule: AdmissionRule, pod: dict) -> StoreError:
    """The error the API server answers a pod create with when `rule` refuses it."""
    meta = pod.get("metadata") or {}
    name = meta.get("generateName") or meta.get("name") or "Unknown"
    if rule.kind == "webhook":
        return StoreError(403, f'admission webhook "{rule.webhook}" denied the request: {rule.detail}')
    if rule.kind == "scc":
        reason = f"unable to validate against any security context constraint: [{rule.detail}]"
        return StoreError(403, f'pods "{name}" is forbidden: {reason}', "Forbidden")
    if rule.kind == "quota":
        return StoreError(500, f"insufficient quota to match these scopes: {CRITICAL_QUOTA_SCOPES}")
    raise ValueError(f"unknown admission rule kind {rule.kind!r}")


def admit(rules: Iterable[AdmissionRule], resource: str, obj: dict, quotas: Quotas = lambda _ns: ()) -> None:
    """Raise the first refusal of `rules` for a pod about to be created; anything else passes. `quotas`
    gives a namespace's ResourceQuotas (a covering one lets critical-priority pods through)."""
    if resource != "pods":
        return
    for rule in rules:
        if _applies(rule, obj, quotas):
            raise refusal(rule, obj)
