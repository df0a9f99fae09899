"""Who may do what: bearer-token authentication and a small authorization policy.

The policy also answers SelfSubjectAccessReview, so a client's "can I?" question and the server's
actual decision always agree.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from falcotui.sim.api.errors import StoreError
from falcotui.sim.api.tokens import TokenAuthority

if TYPE_CHECKING:
    from falcotui.sim.api.rbac import RbacPolicy

WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})
SIM_USER = "falcotui-sim"
#: the authorizer deciding a request: the server's policy, or a simulated user's RBAC (set by the server)
POLICY: web.RequestKey[Policy | RbacPolicy] = web.RequestKey("policy", object)  # type: ignore[arg-type]


@dataclass(slots=True)
class Policy:
    """allow-all by default; `read_only()` denies every write verb."""

    denied_verbs: frozenset[str] = frozenset()
    name: str = "allow-all policy"

    @classmethod
    def allow_all(cls) -> Policy:
        return cls()

    @classmethod
    def read_only(cls) -> Policy:
        return cls(WRITE_VERBS, "read-only policy")

    def allows(
        self, verb: str, resource: str, namespace: str | None = None, group: str = "", name: str = ""
    ) -> bool:
        return verb not in self.denied_verbs

    def check(self, verb: str, resource: str, namespace: str | None, group: str, name: str | None) -> None:
        if resource in ("selfsubjectaccessreviews", "selfsubjectrulesreviews") or self.allows(
            verb, resource, namespace, group
        ):
            return
        raise forbidden(SIM_USER, verb, resource, namespace, group, name)

    def resource_rules(self, namespace: str | None) -> list[dict]:
        """SelfSubjectRulesReview's `resourceRules` under this policy."""
        verbs = sorted({"get", "list", "watch", *WRITE_VERBS} - self.denied_verbs)
        return [{"verbs": verbs, "apiGroups": ["*"], "resources": ["*"]}]


def forbidden(
    user: str, verb: str, resource: str, namespace: str | None, group: str, name: str | None
) -> StoreError:
    """The API server's 403 Status for a denied request (the RBAC authorizer's wording)."""
    what = f'{resource} "{name}"' if name else resource
    where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
    return StoreError(
        403,
        f'{what} is forbidden: User "{user}" cannot {verb} resource "{resource}" in API group '
        f'"{group}"{where}',
        "Forbidden",
        {"name": name or "", "group": group, "kind": resource},
    )


def check_token(header: str | None, token: str | None, authority: TokenAuthority | None = None) -> None:
    """Raise 401 unless `Authorization: Bearer <token>` matches the static token or is an unexpired token
    of `authority` (neither configured: anyone)."""
    if token is None and authority is None:
        return
    if header and header.startswith("Bearer "):
        sent = header[len("Bearer ") :].strip()
        if token is not None and hmac.compare_digest(sent.encode(), token.encode()):
            return
        if authority is not None and authority.valid(sent):
            return
    raise StoreError(401, "Unauthorized", "Unauthorized")


def access_review(policy: Policy | RbacPolicy, body: dict) -> dict:
    """Fill in `status` of a SelfSubjectAccessReview from the policy."""
    spec = body.get("spec") or {}
    ra = spec.get("resourceAttributes")
    if isinstance(ra, dict):
        resource = ra.get("resource") or ""
        if ra.get("subresource"):
            resource = f"{resource}/{ra['subresource']}"
        allowed = policy.allows(ra.get("verb") or "", resource, ra.get("namespace"), ra.get("group") or "",
                                ra.get("name") or "")  # fmt: skip
    elif isinstance(spec.get("nonResourceAttributes"), dict):
        allowed = True
    else:
        raise StoreError(
            422,
            'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec: Invalid value: '
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
            "Invalid",
        )
    status: dict = {"allowed": allowed}
    if allowed:
        status["reason"] = f"allowed by the simulator's {policy.name}"
    elif not isinstance(policy, Policy):
        pass  # RBAC has no deny rules: it has "no opinion", so neither `denied` nor a reason is set
    else:
        status["denied"] = True
        status["reason"] = f"denied by the simulator's {policy.name}"
    out = {
        "kind": "SelfSubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "spec": spec,
        "status": status,
    }
    return out


def rules_review(policy: Policy | RbacPolicy, body: dict) -> dict:
    """Fill in `status` of a SelfSubjectRulesReview: what the policy lets this user do."""
    spec = body.get("spec") or {}
    namespace = spec.get("namespace") if isinstance(spec, dict) else None
    return {
        "kind": "SelfSubjectRulesReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "spec": spec if isinstance(spec, dict) else {},
        "status": {
            "resourceRules": policy.resource_rules(namespace),
            "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": ["*"]}],
            "incomplete": False,
        },
    }
