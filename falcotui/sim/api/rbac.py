"""RBAC for simulated users: decide requests from the Roles, ClusterRoles and bindings stored in the simulator
the way Kubernetes' RBAC authorizer does, and keep a journal of every decision.

Upstream facts this follows (kubernetes/kubernetes):
- plugin/pkg/auth/authorizer/rbac/rbac.go and pkg/registry/rbac/validation/rule.go (`VisitRulesFor`):
  every ClusterRoleBinding applies at every scope; RoleBindings apply only to requests in their own
  namespace, and may point at a Role of that namespace or at a ClusterRole. Rules only add (no deny).
- pkg/apis/rbac/v1/evaluation_helpers.go: a rule matches when a verb is `*` or equal; an API group is `*` or
  equal; a resource is `*`, equal to the combined `resource/subresource`, or `*/subresource`; and when
  `resourceNames` is set, only requests naming one of them match (a request without a name never does).
- Subjects: `User` by name, `Group` by name, `ServiceAccount` as `system:serviceaccount:<ns>:<name>`;
  every authenticated user is in the group `system:authenticated`.
- plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go: the bootstrap ClusterRole `system:basic-user`
  (bound to `system:authenticated`) lets everyone create SelfSubjectAccessReviews and
  SelfSubjectRulesReviews; `seed_bootstrap_policy` stores it like a real cluster's bootstrap does.
- Kubernetes documentation, "Using RBAC Authorization" (Referring to resources): `create` and
  `deletecollection` cannot be restricted by resource name; for a POST the name is not part of the
  request's attributes, so a rule with `resourceNames` never allows it.
- Kubernetes documentation, "Server-Side Apply" (RBAC and permissions): an apply needs `patch`, and also
  `create` when it creates the object.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from falcotui.sim.api.auth import forbidden
from falcotui.sim.api.store import Store

AUTHENTICATED = "system:authenticated"
_BASIC_USER = "system:basic-user"
_RBAC = "rbac.authorization.k8s.io"
_BOOTSTRAP = {"kubernetes.io/bootstrapping": "rbac-defaults"}


@dataclass(frozen=True, slots=True)
class Decision:
    """One authorization decision: who asked for what, and the answer."""

    user: str
    verb: str
    group: str
    resource: str  # "pods" or "pods/log"
    namespace: str
    name: str
    allowed: bool


def _matches(rule: dict, verb: str, group: str, resource: str, name: str) -> bool:
    verbs = rule.get("verbs") or []
    if "*" not in verbs and verb not in verbs:
        return False
    groups = rule.get("apiGroups") or []
    if "*" not in groups and group not in groups:
        return False
    sub = resource.split("/", 1)[1] if "/" in resource else ""
    resources = rule.get("resources") or []
    if not any(r in ("*", resource) or (sub and r == f"*/{sub}") for r in resources):
        return False
    names = rule.get("resourceNames") or []
    return not names or name in names


@dataclass(slots=True)
class RbacPolicy:
    """The authorizer for one simulated user; `decisions` is the journal of every check it answered."""

    store: Store
    user: str
    groups: tuple[str, ...] = ()
    decisions: list[Decision] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"RBAC policy for {self.user}"

    def _subject_matches(self, subject: dict) -> bool:
        kind, name = subject.get("kind"), subject.get("name")
        if kind == "User":
            return name == self.user
        if kind == "Group":
            return name in self.groups or name == AUTHENTICATED
        if kind == "ServiceAccount":
            return self.user == f"system:serviceaccount:{subject.get('namespace')}:{name}"
        return False

    def _role_rules(self, ref: dict, namespace: str) -> list[dict]:
        kind, name = ref.get("kind"), ref.get("name") or ""
        role = (
            self.store.peek("clusterroles", "", name)
            if kind == "ClusterRole"
            else self.store.peek("roles", namespace, name)
            if kind == "Role"
            else None
        )
        return list((role or {}).get("rules") or [])

    def rules_for(self, namespace: str | None) -> list[dict]:
        """Every rule that applies to this user for a request in `namespace` (None: cluster scope)."""
        rules: list[dict] = []
        for crb in self.store.peek_list("clusterrolebindings"):
            if any(self._subject_matches(s) for s in crb.get("subjects") or []):
                rules += self._role_rules(crb.get("roleRef") or {}, "")
        if namespace:
            for rb in self.store.peek_list("rolebindings", namespace):
                if any(self._subject_matches(s) for s in rb.get("subjects") or []):
                    rules += self._role_rules(rb.get("roleRef") or {}, namespace)
        return rules

    def allows(
        self, verb: str, resource: str, namespace: str | None = None, group: str = "", name: str = ""
    ) -> bool:
        return any(_matches(r, verb, group, resource, name or "") for r in self.rules_for(namespace))

    def check(self, verb: str, resource: str, namespace: str | None, group: str, name: str | None) -> None:
        # A POST to a collection carries no name (the server passes None); a server-side apply that creates
        # its object is authorized as `create` WITH the name (kubernetes#64892, `patchCreater`).
        allowed = self.allows(verb, resource, namespace, group, name or "")
        decision = Decision(self.user, verb, group, resource, namespace or "", name or "", allowed)
        self.decisions.append(decision)
        if not allowed:
            raise forbidden(self.user, verb, resource, namespace, group, name)

    def resource_rules(self, namespace: str | None) -> list[dict]:
        """SelfSubjectRulesReview's `resourceRules`: the user's rules as stored."""
        return [
            {k: list(r[k]) for k in ("verbs", "apiGroups", "resources", "resourceNames") if r.get(k)}
            for r in self.rules_for(namespace)
            if r.get("resources")
        ]

    def denied(self) -> list[Decision]:
        return [d for d in self.decisions if not d.allowed]


def seed_bootstrap_policy(store: Store) -> None:
    """Store `system:basic-user` and its binding to every authenticated user, as a real cluster boots with."""
    role_rules = [
        {
            "apiGroups": ["authorization.k8s.io"],
            "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
            "verbs": ["create"],
        }
    ]
    binding = {
        "roleRef": {"apiGroup": _RBAC, "kind": "ClusterRole", "name": _BASIC_USER},
        "subjects": [{"apiGroup": _RBAC, "kind": "Group", "name": AUTHENTICATED}],
    }
    for resource, kind, body in (
        ("clusterroles", "ClusterRole", {"rules": role_rules}),
        ("clusterrolebindings", "ClusterRoleBinding", binding),
    ):
        if store.peek(resource, "", _BASIC_USER) is None:
            store.create(
                resource,
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": kind,
                    "metadata": {"name": _BASIC_USER, "labels": dict(_BOOTSTRAP)},
                    **body,
                },
            )
