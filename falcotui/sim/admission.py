"""Admission that refuses pods, worded the way a real API server words each kind of refusal.

The refusal is a Status error on the pod create; the DaemonSet controller turns it into a `FailedCreate`
event on the DaemonSet, "Error creating: <message>" (kubernetes/kubernetes pkg/controller/controller_utils.go,
RealPodControl.createPods), and retries with back-off. Messages:

- webhook: `admission webhook "<name>" denied the request: <message>`, code 403 when the webhook sets none
  (k8s.io/apiserver pkg/admission/plugin/webhook/errors/statuserror.go, ToStatusErr);
- scc and quota: `pods "<name>" is forbidden: <reason>` (admission.NewForbidden), where <name> is the
  pod's generateName while the API server has not generated the name yet (k8s.io/apiserver
  pkg/admission/errors.go, extractResourceName) - hence DaemonSet events like `pods "falco-" is forbidden`;
  OpenShift's SCC reason is "unable to validate against any security context constraint: [...]" (as its
  FailedCreate events show), the ResourceQuota plugin's "insufficient quota to match these scopes: [...]"
  (kubernetes.io/docs/concepts/policy/resource-quotas/#limit-priority-class-consumption-by-default).
"""

from __future__ import annotations

from collections.abc import Iterable

from falcotui.sim.config import AdmissionRule
from falcotui.sim.errors import StoreError

CRITICAL_QUOTA_SCOPES = "[{PriorityClass In [system-node-critical system-cluster-critical]}]"
_CRITICAL = ("system-node-critical", "system-cluster-critical")


def _applies(rule: AdmissionRule, pod: dict) -> bool:
    meta = pod.get("metadata") or {}
    if rule.namespace is not None and meta.get("namespace") != rule.namespace:
        return False
    if rule.kind == "quota":
        return (pod.get("spec") or {}).get("priorityClassName") in _CRITICAL
    return True


def refusal(rule: AdmissionRule, pod: dict) -> StoreError:
    """The error the API server answers a pod create with when `rule` refuses it."""
    meta = pod.get("metadata") or {}
    name = meta.get("generateName") or meta.get("name") or "Unknown"
    if rule.kind == "webhook":
        return StoreError(403, f'admission webhook "{rule.webhook}" denied the request: {rule.detail}')
    if rule.kind == "scc":
        reason = f"unable to validate against any security context constraint: [{rule.detail}]"
    elif rule.kind == "quota":
        reason = f"insufficient quota to match these scopes: {CRITICAL_QUOTA_SCOPES}"
    else:
        raise ValueError(f"unknown admission rule kind {rule.kind!r}")
    return StoreError(403, f'pods "{name}" is forbidden: {reason}', "Forbidden")


def admit(rules: Iterable[AdmissionRule], resource: str, obj: dict) -> None:
    """Raise the first refusal of `rules` for a pod about to be created; anything else passes."""
    if resource != "pods":
        return
    for rule in rules:
        if _applies(rule, obj):
            raise refusal(rule, obj)
