"""Why a node has no running Falco, as the Kubernetes API shows it, with the ways out: admission refusing
the pods, a taint the DaemonSet does not tolerate, a node that is not Linux, a registry's pull rate limit.

Reads one `NodeRollout` (kube/rollout.py): its state, reason, the message the API gave (the DaemonSet's
FailedCreate event, the container's waiting message) and the node's placement facts.
"""

from __future__ import annotations

import re

from falcotui.kube.failed_create import FAILED_CREATE
from falcotui.kube.rollout import NodeRollout
from falcotui.ops.fleet.falco_problems import FalcoProblem, ProblemKind

_PULL_REASONS = ("ErrImagePull", "ImagePullBackOff")
_WEBHOOK = re.compile(r'admission webhook "([^"]+)" denied the request')
# https://kubernetes.io/docs/concepts/policy/resource-quotas/#limit-priority-class-consumption-by-default
_QUOTA_DOC = (
    "https://kubernetes.io/docs/concepts/policy/resource-quotas/#limit-priority-class-consumption-by-default"
)


def _admission(message: str, namespace: str) -> FalcoProblem:
    webhook = _WEBHOOK.search(message)
    if webhook:
        summary = f"admission webhook {webhook.group(1)} refuses to create Falco's pods"
        remedies: tuple[str, ...] = (
            f"exempt namespace {namespace} from that policy (a Kyverno PolicyException, Gatekeeper "
            "excludedNamespaces, your platform's allowlist): the refusal above names the rule",
        )
    elif "security context constraint" in message:
        summary = "OpenShift's SecurityContextConstraints refuse Falco's pods (hostPath, capabilities)"
        remedies = (
            f"grant the falco ServiceAccount an SCC that allows them: `oc adm policy add-scc-to-user "
            f"privileged -z falco -n {namespace}` (or a custom SCC with hostPath volumes and the BPF, "
            "PERFMON, SYS_RESOURCE, SYS_PTRACE capabilities)",
        )
    elif "insufficient quota to match these scopes" in message and "PriorityClass" in message:
        summary = "priority class system-node-critical is only allowed where a ResourceQuota covers it"
        remedies = (
            f"falcotui apply creates one (ResourceQuota {namespace}/falco-critical-pods): re-apply, or "
            f"create a ResourceQuota in {namespace} with scopeSelector PriorityClass In "
            "[system-node-critical] "
            f"({_QUOTA_DOC})",
        )
    elif "violates PodSecurity" in message:
        summary = "Pod Security admission refuses Falco's pods"
        remedies = (
            f"label namespace {namespace} pod-security.kubernetes.io/enforce=privileged (falcotui's "
            "Namespace carries it; an existing namespace keeps its own labels)",
        )
    else:
        summary = "the API server refuses to create Falco's pods"
        remedies = ("the refusal above says who refuses and why; nothing starts until that changes",)
    return FalcoProblem(ProblemKind.ADMISSION, summary, remedies, message)


def node_problem(node: NodeRollout, namespace: str) -> FalcoProblem | None:
    """The problem keeping Falco off `node` or from starting there, when it is one of these."""
    if node.reason == FAILED_CREATE:
        return _admission(node.message, namespace)
    if node.state == "not-eligible":
        if node.placement == "taint":
            key = node.taint.split(":", 1)[0].split("=", 1)[0]
            return FalcoProblem(
                ProblemKind.UNTOLERATED_TAINT,
                f"taint {node.taint} not tolerated",
                ("use --tolerate-all", f"or add a toleration for {key} to the DaemonSet"),
                node.message,
            )
        if node.node_os and node.node_os != "linux":
            return FalcoProblem(
                ProblemKind.NOT_LINUX,
                f"a {node.node_os} node (kubernetes.io/os={node.node_os}): Falco runs on Linux only",
                ("nothing to change on Falco's side: this node stays unmonitored (--allow-uncovered)",),
                node.message,
            )
        return None
    if node.reason in _PULL_REASONS:
        if "toomanyrequests" in node.message or "429 Too Many Requests" in node.message:
            return FalcoProblem(
                ProblemKind.PULL_RATE_LIMIT,
                "the registry rate-limits this node's image pulls (429 toomanyrequests)",
                (
                    "pull with credentials: an imagePullSecret (Docker Hub account) on the falco "
                    "ServiceAccount gets a higher limit",
                    "or pull through a registry mirror configured in the nodes' container runtime",
                    "or wait: the kubelet retries with back-off and pulls once the limit resets",
                ),
                node.message,
            )
        if "no match for platform in manifest" in node.message or node.node_os not in ("", "linux"):
            return FalcoProblem(
                ProblemKind.NOT_LINUX,
                f"the image has no build for this node's platform (kubernetes.io/os={node.node_os or '?'})",
                (
                    "keep Falco on Linux nodes: nodeSelector kubernetes.io/os: linux (falcotui's manifests "
                    "carry it; re-apply them with falcotui apply)",
                ),
                node.message,
            )
    return None
