"""Deploy Falco: render the manifests, diff them against the cluster, apply (rollout: rollout.py, undo:
uninstall.py, both mixed into `Deployer`).

`Deployer.plan()` renders the manifests and asks the server for a dry run of each object (created /
unchanged / changed with a unified diff). Two objects get special care:
- the `falco-rules` ConfigMap belongs to its users once it exists (they push rules with `falcotui rules`);
  a server-side apply would take its data back, so it is only applied when it does not exist yet;
- the gRPC profile's Secret keeps the certificates it already holds (no rotation on every apply).
`apply()` applies under field manager `falcotui`; `follow_rollout()` follows the DaemonSet node by node
until it is complete or stuck, and explains stuck nodes (for crash loops, with the last log lines of the
crashed container). Everything here is sync and thread-safe except the async rollout/uninstall followers;
progress goes to callbacks as typed objects, never to stdout.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from falcotui.falco.certs import RENEW_BEFORE_DAYS, CertificateDataError, GrpcCerts, generate_grpc_certs
from falcotui.kube.apply import Applier, ApplyConflictError, ApplyError, object_ref
from falcotui.kube.client import KubeClients
from falcotui.kube.errors import KubeError
from falcotui.kube.resources import CONFIGMAPS, DAEMONSETS, SECRETS, Resource
from falcotui.kube.version import ServerVersion, server_version
from falcotui.ops.deploy.diff import unified_yaml_diff
from falcotui.ops.deploy.manifests import (
    APPARMOR_FIELD_SINCE,
    DEFAULT_NAMESPACE,
    FALCO_CONTAINER,
    GRPC_CERTS_EXPIRE,
    GRPC_CLIENT_SECRET,
    GRPC_SERVER_SECRET,
    ManifestError,
    expiry_stamp,
    grpc_secrets,
    render,
)
from falcotui.ops.deploy.ownership import ADOPTED, adopted_namespace, label_changes, mark, ownership_of
from falcotui.ops.deploy.results import DeployConflictError, DeployError
from falcotui.ops.deploy.rollout import DAEMONSET, RolloutSteps
from falcotui.ops.deploy.uninstall import UninstallSteps

RULES_CONFIGMAP = "falco-rules"
KEPT_NOTE = "exists, left as it is: its rules are managed with `falcotui rules`; applying would reset them"
ADOPTED_NS_NOTE = "exists, not created by falcotui: left as it is"


@dataclass(frozen=True, slots=True)
class ObjectChange:
    ref: str  # "Kind namespace/name"
    kind: str
    name: str
    status: str  # created | changed | unchanged | kept
    diff: str = ""
    note: str = ""
    conflict: str = ""  # fields another manager owns (a report); applying needs force


@dataclass(slots=True)
class DeployPlan:
    namespace: str
    image: str
    grpc: bool
    objects: list[dict]  # what apply() sends, in apply order
    changes: list[ObjectChange]
    certs_reused: bool | None = None  # gRPC profile: True when the live Secret's certificates are kept
    server_version: str = ""  # the API server's gitVersion, as /version answered
    notes: list[str] = field(default_factory=list)  # what the server's version changed in the manifests
    #: an existing namespace falcotui did not create whose Pod Security labels differ from what Falco
    #: needs: label -> (live value, wanted value). Left unchanged unless `plan(label_namespace=True)`.
    namespace_labels: dict[str, tuple[str | None, str]] = field(default_factory=dict)
    namespace_adopted: bool = False  # the namespace existed and falcotui did not create it

    @property
    def pending(self) -> list[ObjectChange]:
        return [c for c in self.changes if c.status in ("created", "changed")]

    @property
    def conflicts(self) -> list[ObjectChange]:
        """Changes that take fields from another field manager: they need `apply(force=True)`."""
        return [c for c in self.changes if c.conflict]


def _relabel(obj: dict) -> bool:
    """The user agreed to set the Pod Security labels of a namespace falcotui adopted: those labels may
    belong to another field manager (whoever created the namespace), so the apply takes them."""
    return obj["kind"] == "Namespace" and ownership_of(obj) == ADOPTED


class Deployer(RolloutSteps, UninstallSteps):
    """Render, diff, apply and follow Falco's manifests in one namespace of one cluster."""

    def __init__(self, clients: KubeClients, namespace: str = DEFAULT_NAMESPACE):
        self.clients = clients
        self.namespace = namespace
        self.applier = Applier(clients)
        self._server_version: ServerVersion | None = None
        self.cert_note = ""  # set by render(): why the gRPC certificates were not reused

    # ---- reading the cluster -------------------------------------------------------------------------
    def _get(self, resource: Resource, name: str) -> dict | None:
        try:
            return resource.get(self.clients, self.namespace, name)
        except KubeError as exc:
            raise DeployError(str(exc)) from exc

    def live_certs(self) -> GrpcCerts | None:
        """The certificates of the live gRPC Secrets (server and client), None if either is missing or
        unusable."""
        data: dict = {}
        for name in (GRPC_CLIENT_SECRET, GRPC_SERVER_SECRET):
            secret = self._get(SECRETS, name)
            if secret is None:
                return None
            data.update(secret.get("data") or {})
        try:
            return GrpcCerts.from_secret_data(data)
        except CertificateDataError:
            return None

    def rotate_certs(self) -> str:
        """Replace the gRPC certificates (both Secrets) with fresh ones and stamp their expiry on the pod
        template, which rolls every Falco pod onto them; returns the new expiry. Raises DeployError when the
        gRPC profile is not deployed here."""
        ds = self._get(DAEMONSETS, DAEMONSET)
        volumes = ((ds or {}).get("spec", {}).get("template", {}).get("spec", {}).get("volumes")) or []
        if not any((v.get("secret") or {}).get("secretName") == GRPC_SERVER_SECRET for v in volumes):
            raise DeployError(
                f"the gRPC profile is not deployed in {self.namespace} (no DaemonSet {DAEMONSET} mounting "
                f"{GRPC_SERVER_SECRET}): nothing to rotate"
            )
        certs = generate_grpc_certs()
        stamp = expiry_stamp(certs)
        try:
            for secret in grpc_secrets(certs, self.namespace):
                mark(secret, self.applier.get_live(secret))
                self.applier.apply_one(secret, force=True)
            body = {"spec": {"template": {"metadata": {"annotations": {GRPC_CERTS_EXPIRE: stamp}}}}}
            DAEMONSETS.patch(
                self.clients, self.namespace, DAEMONSET, body, query=[("fieldManager", "falcotui")]
            )
        except (ApplyError, KubeError) as exc:
            raise DeployError(str(exc)) from exc
        return stamp

    def rules_configmap_exists(self) -> bool:
        return self._get(CONFIGMAPS, RULES_CONFIGMAP) is not None

    def server_version(self) -> ServerVersion:
        """The API server's version (asked once per Deployer)."""
        if self._server_version is None:
            try:
                self._server_version = server_version(self.clients)
            except KubeError as exc:
                raise DeployError(f"cannot read the API server's version: {exc}") from exc
        return self._server_version

    # ---- plan / apply --------------------------------------------------------------------------------
    def render(
        self,
        *,
        image_tag: str | None = None,
        grpc: bool = False,
        tolerate_all: bool = False,
        privileged: bool = False,
        for_version: bool = True,
    ) -> tuple[list[dict], bool | None]:
        """The manifests for this cluster: its server version decides how AppArmor is set (below 1.30
        the annotation) and refuses servers older than falcotui supports. `for_version=False` skips
        that (deleting needs only the objects' names, whatever the server's version)."""
        version = self.server_version() if for_version else None
        certs, reused = None, None
        self.cert_note = ""
        if grpc:
            certs = self.live_certs()
            if certs is not None and certs.expires_within(RENEW_BEFORE_DAYS):
                # Never reuse certificates about to expire: the pods would lose gRPC mid-run.
                self.cert_note = (
                    f"the gRPC certificates expire at {expiry_stamp(certs)} (within {RENEW_BEFORE_DAYS} "
                    "days): new ones replace them"
                )
                certs = None
            reused = certs is not None
            certs = certs or generate_grpc_certs()
        try:
            docs = render(
                self.namespace,
                image_tag,
                grpc,
                certs,
                tolerate_all=tolerate_all,
                kube_version=version.minor_version if version else None,
                privileged=privileged,
            )
        except ManifestError as exc:
            raise DeployError(f"API server {version}: {exc}" if version else str(exc)) from exc
        return docs, reused

    def plan(
        self,
        *,
        image_tag: str | None = None,
        grpc: bool = False,
        force: bool = False,
        tolerate_all: bool = False,
        privileged: bool = False,
        label_namespace: bool = False,
    ) -> DeployPlan:
        """Render and dry-run every object; nothing changes in the cluster. A change that would take fields
        from another field manager carries the report in `conflict` (unless `force`). Every object is
        stamped `created` or `adopted` (ownership.OWNERSHIP). An existing namespace falcotui did not create
        is left untouched; with `label_namespace` only its Pod Security labels are set."""
        objects, reused = self.render(
            image_tag=image_tag, grpc=grpc, tolerate_all=tolerate_all, privileged=privileged
        )
        version = self.server_version()
        notes = []
        if version.minor_version < APPARMOR_FIELD_SINCE:
            notes.append(
                f"API server {version} predates securityContext.appArmorProfile (1.30): AppArmor is set "
                "with the container.apparmor.security.beta.kubernetes.io annotation instead"
            )
        if self.cert_note:
            notes.append(self.cert_note)
        keep_rules = self.rules_configmap_exists()
        to_apply: list[dict] = []
        changes: list[ObjectChange] = []
        new_namespaces: set[str] = set()
        ns_labels: dict[str, tuple[str | None, str]] = {}
        ns_adopted = False
        for obj in objects:
            ref, kind, name = object_ref(obj), obj["kind"], obj["metadata"]["name"]
            if kind == "ConfigMap" and name == RULES_CONFIGMAP and keep_rules:
                changes.append(ObjectChange(ref, kind, name, "kept", note=KEPT_NOTE))
                continue
            if obj["metadata"].get("namespace") not in new_namespaces:
                try:
                    live = self.applier.get_live(obj)
                except KubeError as exc:
                    raise DeployError(str(exc)) from exc
            else:
                live = None
            if mark(obj, live) == ADOPTED and kind == "Namespace":
                ns_adopted = True
                ns_labels = label_changes(obj, live or {})
                if not (ns_labels and label_namespace):
                    note = ADOPTED_NS_NOTE + (" (its Pod Security labels differ)" if ns_labels else "")
                    changes.append(ObjectChange(ref, kind, name, "kept", note=note))
                    continue
                obj = adopted_namespace(obj)
            to_apply.append(obj)
            if obj["metadata"].get("namespace") in new_namespaces:
                # The server would refuse a dry run in a namespace that does not exist yet.
                changes.append(ObjectChange(ref, kind, name, "created", unified_yaml_diff(None, obj, ref)))
                continue
            conflict = ""
            try:
                try:
                    res = self.applier.apply_one(obj, dry_run=True, force=force or _relabel(obj))
                except ApplyConflictError as exc:
                    # What a forced apply would change, with the report of whose fields it takes.
                    conflict = exc.report() or str(exc)
                    res = self.applier.apply_one(obj, dry_run=True, force=True)
            except (ApplyError, KubeError) as exc:
                raise DeployError(str(exc)) from exc
            if res.status == "created" and kind == "Namespace":
                new_namespaces.add(name)
            diff, note = "", ""
            if res.status == "created":
                diff = unified_yaml_diff(None, res.obj, ref)
            elif res.status == "changed" and kind != "Secret":
                diff = unified_yaml_diff(self.applier.get_live(obj), res.obj, ref)
            if kind == "Secret":
                if res.status == "unchanged" and reused:
                    note = "existing certificates kept"
                elif res.status == "changed":
                    note = "certificate data changes (values hidden)"
            changes.append(ObjectChange(ref, kind, name, res.status, diff, note, conflict))
        image = next(
            c["image"]
            for o in objects
            if o["kind"] == "DaemonSet"
            for c in o["spec"]["template"]["spec"]["containers"]
            if c["name"] == FALCO_CONTAINER
        )
        plan = DeployPlan(self.namespace, image, grpc, to_apply, changes, reused, str(version), notes)
        plan.namespace_labels, plan.namespace_adopted = ns_labels, ns_adopted
        return plan

    def apply(
        self,
        plan: DeployPlan,
        *,
        force: bool = False,
        on_object: Callable[[ObjectChange], None] | None = None,
    ) -> list[ObjectChange]:
        """Apply the plan's objects (server-side, field manager `falcotui`); conflicts raise
        `DeployConflictError` naming the fields and their owners unless `force`."""
        done: list[ObjectChange] = []
        conflicts: list[str] = []
        for obj in plan.objects:
            ref = object_ref(obj)
            name = obj["metadata"]["name"]
            if obj["kind"] == "ConfigMap" and name == RULES_CONFIGMAP and self.rules_configmap_exists():
                change = ObjectChange(ref, "ConfigMap", name, "kept", note=KEPT_NOTE)
            else:
                try:
                    res = self.applier.apply_one(obj, force=force or _relabel(obj))
                except ApplyConflictError as exc:
                    conflicts.append(exc.report() or str(exc))
                    continue
                except (ApplyError, KubeError) as exc:
                    raise DeployError(str(exc)) from exc
                secret = obj["kind"] == "Secret"
                change = ObjectChange(ref, obj["kind"], name, res.status, "" if secret else res.diff)
            done.append(change)
            if on_object:
                on_object(change)
        if conflicts:
            raise DeployConflictError(conflicts)
        return done
