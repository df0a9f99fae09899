"""Deploy Falco: render the manifests, diff them against the cluster, apply, follow the rollout, undo.

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

import asyncio
import datetime as _dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from falcotui.falco.certs import RENEW_BEFORE_DAYS, CertificateDataError, GrpcCerts, generate_grpc_certs
from falcotui.kube.apply import Applier, ApplyConflictError, ApplyError, object_ref
from falcotui.kube.client import KubeClients
from falcotui.kube.errors import KubeApiError, KubeError
from falcotui.kube.logs import read_log
from falcotui.kube.resources import (
    CONFIGMAPS,
    DAEMONSETS,
    FALCO_SELECTOR,
    NAMESPACES,
    NODES,
    PODS,
    SECRETS,
    Resource,
)
from falcotui.kube.rollout import NodeRollout, RolloutStatus, rollout_status, wait_rollout
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
from falcotui.ops.deploy.ownership import (
    ADOPTED,
    Removal,
    adopted_namespace,
    label_changes,
    mark,
    ownership_of,
    plan_removals,
)
from falcotui.ops.deploy.results import RolloutResult, StuckNode, UninstallProgress
from falcotui.ops.deploy.rollout_problems import node_problem
from falcotui.ops.fleet.falco_problems import explain_log
from falcotui.ops.rules.history import HISTORY_CONFIGMAP

RULES_CONFIGMAP = "falco-rules"
DAEMONSET = "falco"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
CRASH_LOG_LINES = 10
KEPT_NOTE = "exists, left as it is: its rules are managed with `falcotui rules`; applying would reset them"
ADOPTED_NS_NOTE = "exists, not created by falcotui: left as it is"


class DeployError(Exception):
    """A deployment step failed; `str()` explains it in one or a few readable lines."""


class DeployConflictError(DeployError):
    """Another field manager owns fields this apply sets; re-apply with force to take them."""

    def __init__(self, reports: list[str]):
        self.reports = reports
        super().__init__("\n".join(reports))


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


class Deployer:
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

    # ---- rollout -------------------------------------------------------------------------------------
    async def follow_rollout(
        self,
        *,
        timeout: float = 300.0,
        stuck_grace: float = 30.0,
        on_progress: Callable[[RolloutStatus], None] | None = None,
    ) -> RolloutResult:
        """Follow the DaemonSet until complete; stops early when a node is stuck for `stuck_grace` s."""
        started = time.monotonic()
        try:
            status = await wait_rollout(
                self.clients,
                self.namespace,
                DAEMONSET,
                timeout=timeout,
                stuck_grace=stuck_grace,
                on_update=on_progress,
            )
        except KubeError as exc:
            raise DeployError(str(exc)) from exc
        if status.done:
            status = await asyncio.to_thread(self._settled, status)
            if on_progress is not None:
                on_progress(status)
            return RolloutResult(True, status.message, status, uncovered=self._uncovered(status))
        if not status.exists:
            return RolloutResult(False, status.message, status, timed_out=True)
        stuck = [await asyncio.to_thread(self._explain_stuck, n) for n in status.stuck]
        timed_out = not stuck or time.monotonic() - started >= timeout
        uncovered = self._uncovered(status)
        return RolloutResult(False, status.message, status, stuck, timed_out=timed_out, uncovered=uncovered)

    def _uncovered(self, status: RolloutStatus) -> list[StuckNode]:
        """Nodes the DaemonSet does not place Falco on, for a reason falcotui can name and explain."""
        out = []
        for n in status.nodes:
            if n.state == "not-eligible":
                problem = node_problem(n, self.namespace)
                if problem is not None:
                    out.append(StuckNode(n.node, "", n.reason, n.message, problem=problem))
        return out

    def _settled(self, done: RolloutStatus) -> RolloutStatus:
        """The finished rollout as one fresh read shows it. The DaemonSet, pod and node watches deliver
        independently, so the DaemonSet may report every pod available before the pod watch has shown
        the last pod turning ready; the per-node view must not be left behind at "starting"."""
        try:
            ds = DAEMONSETS.read(self.clients, self.namespace, DAEMONSET)
            pods = PODS.items(self.clients, self.namespace)
            nodes = NODES.items(self.clients)
        except KubeError:
            return done  # the rollout did finish; only the per-node detail stays as the watches saw it
        fresh = rollout_status(ds, pods, nodes, namespace=self.namespace, name=DAEMONSET)
        return fresh if fresh.done else done

    def _explain_stuck(self, node: NodeRollout) -> StuckNode:
        lines: tuple[str, ...] = ()
        if node.reason == "CrashLoopBackOff" and node.pod:
            try:
                got = read_log(
                    self.clients,
                    self.namespace,
                    node.pod,
                    container=FALCO_CONTAINER,
                    previous=True,
                    tail_lines=CRASH_LOG_LINES,
                )
                lines = tuple(line for _, line in got)
            except KubeError as exc:
                lines = (f"(previous log unavailable: {exc})",)
        problem = explain_log(list(lines)) or node_problem(node, self.namespace)
        return StuckNode(node.node, node.pod, node.reason, node.message, lines, problem)

    def restart(self) -> str:
        """`kubectl rollout restart`: stamp the pod template so every pod is replaced; returns the stamp."""
        stamp = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
        try:
            DAEMONSETS.patch(
                self.clients, self.namespace, DAEMONSET, body, query=[("fieldManager", "falcotui")]
            )
        except KubeApiError as exc:
            if exc.code == 404:
                what = f"{self.namespace}/{DAEMONSET}"
                raise DeployError(f"no DaemonSet {what} to restart: deploy first") from exc
            raise DeployError(str(exc)) from exc
        except KubeError as exc:
            raise DeployError(str(exc)) from exc
        return stamp

    # ---- uninstall -----------------------------------------------------------------------------------
    def uninstall_objects(self) -> list[dict]:
        """Everything falcotui may have deployed here (both profiles and the rules history)."""
        objects, _ = self.render(grpc=True, for_version=False)
        history = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": HISTORY_CONFIGMAP, "namespace": self.namespace},
        }
        return [*objects, history]

    def uninstall_plan(self) -> list[Removal]:
        """What `uninstall` would delete and what it keeps, with the reasons; nothing changes."""

        def listing(resource: Resource, namespace: str) -> list[dict]:
            return resource.items(self.clients, namespace)

        try:
            return plan_removals(self.uninstall_objects(), self.applier.get_live, listing)
        except KubeError as exc:
            raise DeployError(str(exc)) from exc

    async def uninstall(
        self,
        *,
        removals: list[Removal] | None = None,
        timeout: float = 120.0,
        poll: float = 0.2,
        on_progress: Callable[[UninstallProgress], None] | None = None,
    ) -> bool:
        """Delete what falcotui created (`removals`, by default a fresh `uninstall_plan()`: the objects it
        created, in reverse order, and its namespace if it created it and nothing else is in it) and wait
        until the deleted DaemonSet's pods are gone; returns False if pods are still there after `timeout`."""
        if removals is None:
            removals = await asyncio.to_thread(self.uninstall_plan)
        doomed = [r.obj for r in removals if r.action == "delete" and r.obj is not None]
        try:
            results = await asyncio.to_thread(self.applier.delete, doomed, propagation="Background")
        except (ApplyError, KubeError) as exc:
            raise DeployError(str(exc)) from exc
        for ref, status in results:
            if on_progress:
                on_progress(UninstallProgress(ref, status))
        for r in removals:
            if r.action != "delete" and on_progress:
                on_progress(UninstallProgress(r.ref, f"kept: {r.reason}"))
        if not any(o["kind"] in ("DaemonSet", "Namespace") for o in doomed):
            return True
        deadline = time.monotonic() + timeout
        last = -1
        while True:
            pods = await asyncio.to_thread(self._falco_pods)
            if len(pods) != last and on_progress:
                on_progress(UninstallProgress(f"{len(pods)} Falco pod(s)", "waiting" if pods else "gone"))
            last = len(pods)
            if not pods:
                break
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(poll)
        if not any(o["kind"] == "Namespace" for o in doomed):
            return True
        # A terminating namespace refuses every create (403 "being terminated"): an apply right after an
        # uninstall would fail, so the uninstall ends when the namespace is gone, not when it is marked.
        reported = False
        while await asyncio.to_thread(self._namespace_exists):
            if on_progress and not reported:
                on_progress(UninstallProgress(f"Namespace {self.namespace}", "terminating"))
                reported = True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(poll)
        if on_progress:
            on_progress(UninstallProgress(f"Namespace {self.namespace}", "gone"))
        return True

    def _namespace_exists(self) -> bool:
        try:
            return NAMESPACES.get(self.clients, None, self.namespace) is not None
        except KubeError as exc:
            raise DeployError(str(exc)) from exc

    def _falco_pods(self) -> list[dict]:
        try:
            return PODS.items(self.clients, self.namespace, selector=FALCO_SELECTOR)
        except KubeApiError as exc:
            if exc.code == 404:
                return []
            raise DeployError(str(exc)) from exc
        except KubeError as exc:
            raise DeployError(str(exc)) from exc
