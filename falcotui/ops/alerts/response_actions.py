"""Response actions on an alert's pod or node: delete the pod, cordon/uncordon the node, quarantine (label +
deny-all NetworkPolicy) / un-quarantine, annotate the pod with the alert. Each is planned first (the exact
change, as YAML), checked with SelfSubjectAccessReview (disabled with the reason when the user may not, and
all of them in read-only mode), then run and recorded in the `ActionLog`.

Kubernetes facts relied on:
- `kubectl cordon` sets `spec.unschedulable: true` on the Node (a patch; uncordon removes it), and the node
  lifecycle controller adds the `node.kubernetes.io/unschedulable:NoSchedule` taint in step (kubernetes/
  kubernetes pkg/controller/nodelifecycle, `doNoScheduleTaintingPass`).
- A NetworkPolicy (networking.k8s.io/v1) with a podSelector, `policyTypes: [Ingress, Egress]` and no rules
  denies all traffic to and from the selected pods ("Default deny all ingress and all egress traffic",
  Kubernetes docs, Network Policies) — when the cluster's network plugin enforces NetworkPolicy.
- A pod whose controller is a ReplicaSet or DaemonSet is recreated by it under a new name after a delete;
  a StatefulSet's under the same name; a bare pod is not recreated (Kubernetes docs, Pods: "Pods and
  controllers").
- Annotations: total size per object at most 256 KiB (apimachinery `TotalAnnotationSizeLimitB`); the alert
  annotation stays far below (`ANNOTATION_MAX`).
- Falco puts `k8s.pod.name` / `k8s.ns.name` into an alert only through the container plugin's
  `suggested_output` (falco.yaml `append_output`); without them only the node actions are offered.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import yaml

from falcotui.falco.alerts import Alert
from falcotui.falco.sanitize import sanitize
from falcotui.falco.sidekick import CLUSTER_FIELD
from falcotui.kube.client import KubeClients
from falcotui.kube.errors import KubeError
from falcotui.kube.resources import MERGE, NETWORKPOLICIES, NODES, PODS, Resource
from falcotui.ops.alerts.action_log import ActionLog, ActionRecord, AlertRef, now_iso
from falcotui.ops.alerts.store import NAMESPACE_FIELD, POD_FIELD, alert_field, alert_node
from falcotui.ops.deploy.ownership import CREATED, OWNERSHIP

QUARANTINE_LABEL = "falcotui.io/quarantine"
ALERT_ANNOTATION = "falcotui.io/alert"
POLICY_PREFIX = "falcotui-quarantine-"
ANNOTATION_MAX = 2048  # bytes of the annotation's JSON value
OUTPUT_MAX = 1024

POD_ACTIONS = ("delete-pod", "quarantine", "unquarantine", "annotate")
NODE_ACTIONS = ("cordon", "uncordon")
ACTIONS = (*POD_ACTIONS, *NODE_ACTIONS)
TITLES = {
    "delete-pod": "Delete the pod",
    "quarantine": "Quarantine the pod",
    "unquarantine": "Lift the pod's quarantine",
    "annotate": "Annotate the pod with the alert",
    "cordon": "Cordon the node",
    "uncordon": "Uncordon the node",
}
UNDO = {"uncordon": "cordon", "unquarantine": "quarantine"}
NO_POD = (
    "the alert names no pod: Falco adds k8s.pod.name/k8s.ns.name only through the container plugin's "
    "suggested output (append_output), and only for processes in a container"
)
READ_ONLY = "read-only mode (--read-only): falcotui writes nothing to the cluster"


class ActionError(Exception):
    """A response action could not be planned or run; the message says why."""


@dataclass(frozen=True, slots=True)
class Target:
    """What an action acts on: the node and, when the alert names one, the pod."""

    node: str = ""
    namespace: str = ""
    pod: str = ""
    alert: AlertRef | None = None
    output: str = ""  # the alert's output (only for the annotation; sanitized and bounded there)
    cluster: str = ""  # the alert's `cluster` field: with many clusters, the context it came from

    @classmethod
    def of_alert(cls, alert: Alert) -> Target:
        pod, ns = alert_field(alert, POD_FIELD) or "", alert_field(alert, NAMESPACE_FIELD) or ""
        node = alert_node(alert) or ""
        ref = AlertRef.of(
            {
                "rule": alert.rule,
                "priority": alert.priority.label,
                "time": alert.time_iso,
                "node": node,
                "namespace": ns,
                "pod": pod,
            }
        )
        cluster = alert_field(alert, CLUSTER_FIELD) or ""
        return cls(node, ns if pod else "", pod if ns else "", ref, alert.message, cluster)

    @property
    def pod_ref(self) -> str:
        return f"Pod {self.namespace}/{self.pod}"


@dataclass(frozen=True, slots=True)
class Check:
    """One SelfSubjectAccessReview an action needs."""

    verb: str
    resource: str
    namespace: str = ""
    name: str = ""
    group: str = ""

    def text(self) -> str:
        res = f"{self.resource}.{self.group}" if self.group else self.resource
        where = f" in namespace {self.namespace}" if self.namespace else ""
        return f"{self.verb} {res}{where}"


@dataclass(frozen=True, slots=True)
class Availability:
    enabled: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Step:
    """One request of an action: `verb` ("patch", "create", "delete") on an object of `resource`."""

    verb: str
    resource: Resource
    namespace: str | None
    name: str  # "" for a create
    body: Any = None

    def run(self, clients: KubeClients) -> None:
        if self.verb == "patch":
            self.resource.patch(clients, self.namespace, self.name, self.body, content_type=MERGE)
        elif self.verb == "create":
            self.resource.create(clients, self.namespace, self.body)
        else:
            self.resource.delete(clients, self.namespace, self.name, self.body)

    def text(self) -> str:
        return f"{self.verb.upper()} {self.name or self.resource.plural}"


@dataclass
class Plan:
    """One action, ready to ask about: `change` is the exact change (YAML), `note` what follows from it."""

    action: str
    target: Target
    ref: str  # "Pod ns/name" or "Node name"
    change: str
    note: str = ""
    steps: list[Step] = field(default_factory=list)


def _yaml(doc: Any) -> str:
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, width=100)


def quarantine_id(namespace: str, pod: str, at: str) -> str:
    """A label value (<= 63 chars, alphanumeric) naming one quarantine."""
    return "q" + hashlib.sha256(f"{namespace}/{pod}/{at}".encode()).hexdigest()[:10]


def deny_all_policy(namespace: str, qid: str, pod: str) -> dict[str, Any]:
    """The NetworkPolicy that cuts every connection of the pods labelled `falcotui.io/quarantine=<qid>`."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": POLICY_PREFIX + qid,
            "namespace": namespace,
            "labels": {QUARANTINE_LABEL: qid},
            "annotations": {OWNERSHIP: CREATED, "falcotui.io/quarantined-pod": pod},
        },
        "spec": {
            "podSelector": {"matchLabels": {QUARANTINE_LABEL: qid}},
            "policyTypes": ["Ingress", "Egress"],
        },
    }


def alert_annotation(target: Target) -> str:
    """The annotation value: the alert's rule, priority, time and output as JSON, sanitized and bounded."""
    a = target.alert
    if a is None:
        raise ActionError("there is no alert to annotate the pod with")
    value = {
        "rule": a.rule,
        "priority": a.priority,
        "time": a.time,
        "output": sanitize(target.output, max_len=OUTPUT_MAX),
    }
    text = json.dumps(value, ensure_ascii=True, sort_keys=True)
    while len(text) > ANNOTATION_MAX and len(value["output"]) > 16:
        value["output"] = value["output"][: len(value["output"]) // 2] + "…"
        text = json.dumps(value, ensure_ascii=True, sort_keys=True)
    return text


def recreation_note(pod: dict[str, Any]) -> str:
    """What happens after the delete, from the pod's controller."""
    owner = next((o for o in pod["metadata"].get("ownerReferences") or [] if o.get("controller")), None)
    if owner is None:
        return "a bare pod: no controller owns it, so NOTHING recreates it — it is gone for good"
    kind, name = owner.get("kind", "?"), sanitize(owner.get("name", "?"), max_len=120)
    if kind == "StatefulSet":
        return f"its StatefulSet {name} recreates it under the same name"
    if kind == "DaemonSet":
        return f"its DaemonSet {name} recreates it on the same node under a new name"
    if kind in ("ReplicaSet", "ReplicationController"):
        return (
            f"its {kind} {name} recreates it under a new name (the new pod is not quarantined or annotated)"
        )
    return f"its controller {kind} {name} decides whether it comes back"


class ResponseActions:
    """Plan, check and run response actions against one cluster, recording each in `log`."""

    def __init__(self, clients: KubeClients, log: ActionLog, *, read_only: bool = False) -> None:
        self.clients = clients
        self.log = log
        self.read_only = read_only

    @property
    def who(self) -> str:
        return self.clients.user or "unknown user"

    # ------------------------------------------------------------------ checks
    @staticmethod
    def checks(action: str, target: Target, policy: str = "") -> list[Check]:
        ns, pod = target.namespace, target.pod
        if action == "delete-pod":
            return [Check("delete", "pods", ns, pod)]
        if action == "annotate":
            return [Check("patch", "pods", ns, pod)]
        if action == "quarantine":
            return [
                Check("patch", "pods", ns, pod),
                Check("create", "networkpolicies", ns, "", "networking.k8s.io"),
            ]
        if action == "unquarantine":
            return [
                Check("patch", "pods", ns, pod),
                Check("delete", "networkpolicies", ns, policy, "networking.k8s.io"),
            ]
        return [Check("patch", "nodes", "", target.node)]

    def availability(self, action: str, target: Target) -> Availability:
        """Whether `action` may be offered, and if not, why (read-only, no pod/node, RBAC, its state)."""
        if self.read_only:
            return Availability(False, READ_ONLY)
        if action in POD_ACTIONS and not target.pod:
            return Availability(False, NO_POD)
        if action in NODE_ACTIONS and not target.node:
            return Availability(False, "the alert names no node")
        if action == "annotate" and target.alert is None:
            return Availability(False, "no alert to record on the pod")
        try:
            for check in self.checks(action, target):
                if not self.clients.can_i(
                    check.verb, check.resource, check.namespace or None, group=check.group, name=check.name
                ):
                    return Availability(False, f"RBAC: {self.who} may not {check.text()}")
            state = self._state(action, target)
        except KubeError as exc:
            return Availability(False, f"cannot ask the cluster: {exc}")
        return Availability(not state, state)

    def _state(self, action: str, target: Target) -> str:
        """ "" when the object's state allows the action, else why not (already cordoned, not quarantined)."""
        if action in NODE_ACTIONS:
            node = self._get(NODES, None, target.node, f"Node {target.node}")
            cordoned = bool((node.get("spec") or {}).get("unschedulable"))
            if action == "cordon" and cordoned:
                return "the node is already cordoned"
            if action == "uncordon" and not cordoned:
                return "the node is not cordoned"
            return ""
        pod = self._pod(target)
        quarantined = bool((pod["metadata"].get("labels") or {}).get(QUARANTINE_LABEL))
        if action == "quarantine" and quarantined:
            return "the pod is already quarantined"
        if action == "unquarantine" and not quarantined:
            return "the pod is not quarantined"
        return ""

    def _get(self, resource: Resource, namespace: str | None, name: str, what: str) -> dict[str, Any]:
        try:
            return resource.read(self.clients, namespace, name)
        except KubeError as exc:
            if getattr(exc, "code", None) == 404:
                raise ActionError(f"{what} is gone") from exc
            raise

    def _pod(self, target: Target) -> dict[str, Any]:
        return self._get(PODS, target.namespace, target.pod, target.pod_ref)

    # ------------------------------------------------------------------ plans
    def plan(self, action: str, target: Target) -> Plan:
        """The exact change `action` makes on `target` now (reads the live object)."""
        if action not in ACTIONS:
            raise ActionError(f"unknown action {action!r} (one of {', '.join(ACTIONS)})")
        if action in NODE_ACTIONS:
            body = {"spec": {"unschedulable": True if action == "cordon" else None}}
            change = f"# PATCH Node {target.node} (merge patch)\n" + _yaml(body)
            note = (
                "new pods are no longer scheduled on the node (the node controller adds the taint "
                "node.kubernetes.io/unschedulable:NoSchedule); running pods stay"
                if action == "cordon"
                else "the node takes new pods again (the unschedulable taint goes)"
            )
            return Plan(
                action,
                target,
                f"Node {target.node}",
                change,
                note,
                [Step("patch", NODES, None, target.node, body)],
            )
        if not target.pod:
            raise ActionError(NO_POD)
        pod = self._pod(target)
        ns, pod_name = target.namespace, target.pod
        if action == "delete-pod":
            change = f"# DELETE {target.pod_ref}\n"
            uid = pod["metadata"].get("uid")
            body = {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"uid": uid}}
            return Plan(
                action,
                target,
                target.pod_ref,
                change,
                recreation_note(pod),
                [Step("delete", PODS, ns, pod_name, body)],
            )
        if action == "annotate":
            body = {"metadata": {"annotations": {ALERT_ANNOTATION: alert_annotation(target)}}}
            change = f"# PATCH {target.pod_ref} (merge patch)\n" + _yaml(body)
            return Plan(
                action,
                target,
                target.pod_ref,
                change,
                "replaces an earlier falcotui alert annotation",
                [Step("patch", PODS, ns, pod_name, body)],
            )
        if action == "quarantine":
            qid = quarantine_id(target.namespace, target.pod, now_iso())
            label = {"metadata": {"labels": {QUARANTINE_LABEL: qid}}}
            policy = deny_all_policy(target.namespace, qid, target.pod)
            change = (
                f"# PATCH {target.pod_ref} (merge patch)\n{_yaml(label)}---\n"
                f"# CREATE NetworkPolicy {target.namespace}/{policy['metadata']['name']}\n{_yaml(policy)}"
            )
            note = (
                "every connection to and from the pod is denied where the network plugin enforces "
                "NetworkPolicy; undo removes the label and the policy"
            )
            steps = [
                Step("patch", PODS, ns, pod_name, label),
                Step("create", NETWORKPOLICIES, ns, "", policy),
            ]
            return Plan(action, target, target.pod_ref, change, note, steps)
        qid = (pod["metadata"].get("labels") or {}).get(QUARANTINE_LABEL)
        if not qid:
            raise ActionError(f"{target.pod_ref} is not quarantined")
        name = POLICY_PREFIX + qid
        label = {"metadata": {"labels": {QUARANTINE_LABEL: None}}}
        change = (
            f"# DELETE NetworkPolicy {target.namespace}/{name}\n---\n"
            f"# PATCH {target.pod_ref} (merge patch)\n{_yaml(label)}"
        )
        steps = [Step("delete", NETWORKPOLICIES, ns, name), Step("patch", PODS, ns, pod_name, label)]
        return Plan(action, target, target.pod_ref, change, "the pod's traffic flows again", steps)

    # ------------------------------------------------------------------ run
    def run(self, plan: Plan, *, context: str = "") -> ActionRecord:
        """Check RBAC again, make the change, record the outcome (done, refused or failed) and return it."""
        ctx = context or self.clients.context or ""
        reason = self.availability(plan.action, plan.target)
        if not reason.enabled:
            record = self._record(plan, ctx, "refused", reason.reason)
            raise ActionError(f"{TITLES[plan.action]}: refused: {reason.reason}") from _Logged(record)
        done: list[str] = []
        try:
            for step in plan.steps:
                try:
                    step.run(self.clients)
                except KubeError as exc:
                    # un-quarantine of a policy someone already removed: the goal is reached
                    if not (step.verb == "delete" and plan.action == "unquarantine" and exc.code == 404):
                        raise
                done.append(step.text())
        except KubeError as exc:
            detail = f"{exc}" + (f" (after {', '.join(done)})" if done else "")
            record = self._record(plan, ctx, "failed", detail)
            raise ActionError(f"{TITLES[plan.action]}: failed: {detail}") from _Logged(record)
        return self._record(plan, ctx, "done", plan.note)

    def _record(self, plan: Plan, context: str, result: str, detail: str) -> ActionRecord:
        record = ActionRecord(
            at=now_iso(),
            who=self.who,
            context=context,
            action=plan.action,
            target=sanitize(plan.ref, max_len=300),
            result=result,
            detail=sanitize(detail, max_len=1000),
            alert=plan.target.alert,
            undo_of=self._undone(plan) if plan.action in UNDO else "",
        )
        self.log.append(record)
        return record

    def _undone(self, plan: Plan) -> str:
        """The time of the last successful action this one reverses (same target), if any."""
        original = UNDO[plan.action]
        ref = sanitize(plan.ref, max_len=300)
        for r in reversed(self.log.records()):
            if r.action == original and r.target == ref and r.result == "done":
                return r.at
        return ""


class _Logged(Exception):
    """Carries the record of a refused or failed action (its `__cause__`)."""

    def __init__(self, record: ActionRecord) -> None:
        super().__init__(record.result)
        self.record = record
