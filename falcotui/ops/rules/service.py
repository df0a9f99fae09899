"""The rules workflow: pull the rules ConfigMap, validate like Falco, push without lost updates, roll back.

The `falco-rules` ConfigMap holds one rules file per key, mounted at `/etc/falco/rules.d`, which Falco
loads after the image's `/etc/falco/falco_rules.yaml` in lexical order (model.py: those places and what
the workflow hands back). Validation loads the default rules
(read from a running Falco pod, cached per image) and then the custom files in key order, with the
project's loader. A push replaces the ConfigMap carrying the resourceVersion the edit started from: a
stale version gets a `Conflict` (theirs, ours, a diff), never an overwrite. Every push is recorded in the
history ConfigMap (`rules_history`), and `reload_tracker` follows each node's hot reload afterwards.

Methods are synchronous and safe to call from a worker thread; `track_reload` is async.
"""

from __future__ import annotations

import getpass
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from falcotui.falco.rules.loader import load_rules
from falcotui.falco.rules.rules_input import RulesInputError, check_configmap_size
from falcotui.kube.client import KubeClients
from falcotui.kube.errors import KubeApiError, KubeError
from falcotui.kube.exec import ExecError, read_file
from falcotui.kube.resources import CONFIGMAPS, FALCO_SELECTOR, PODS
from falcotui.ops.rules.history import HistoryEntry, HistoryError, RulesHistory
from falcotui.ops.rules.model import (
    CONFIGMAP_KEY,
    DEFAULT_RULES_PATH,
    MAX_KEY_LEN,
    RULES_CONFIGMAP,
    RULES_DIR,
    Conflict,
    DefaultRules,
    PushResult,
    PushStatus,
    RulesError,
    RulesSnapshot,
    Validation,
    files_diff,
)
from falcotui.ops.rules.reload_state import NodeReload, PushMark, ReloadSummary
from falcotui.ops.rules.reload_tracker import DEFAULT_RELOAD_TIMEOUT, ReloadTracker
from falcotui.ops.rules.reload_watch import server_time
from falcotui.ops.rules.target import RulesTarget, target_for_pods, unknown_target

if TYPE_CHECKING:
    from falcotui.ops.rules.reload_pipeline import HeadlessPipeline, ReloadSource

FIELD_MANAGER = "falcotui"


def default_author() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


@dataclass(eq=False)
class RulesService:
    clients: KubeClients
    namespace: str = "falco"
    configmap: str = RULES_CONFIGMAP
    history_limit: int = 10
    author: str = field(default_factory=default_author)
    _defaults: dict[str, DefaultRules] = field(default_factory=dict)  # by image
    _pushes: dict[int, PushResult] = field(default_factory=dict)  # the last pushes, by pushed_at_ns
    _exec_allowed: bool | None = None  # may these credentials exec in the namespace (asked once)
    target_ttl: float = 5.0  # seconds a looked-up target is reused (lint-as-you-type validates often)
    _target: tuple[float, RulesTarget] | None = None
    # pod name -> the Falco version its log printed; the TUI keeps it current from the fleet (a new dict
    # each time, so a worker thread reads one consistent snapshot)
    logged_versions: Mapping[str, str] = field(default_factory=dict)
    # the per-pod log pipeline that marks pushes and judges reloads: the engine (TUI), or None to run a
    # headless one on the first push when `pipeline` (for `rules push --wait` and a service used alone)
    reloads: ReloadSource | None = None
    pipeline: bool = True
    _own: HeadlessPipeline | None = None

    def __post_init__(self) -> None:
        self.history = RulesHistory(self.clients, self.namespace, limit=self.history_limit)

    # ---- pull ----------------------------------------------------------------------------------------
    def _get_cm(self) -> dict:
        try:
            return CONFIGMAPS.read(self.clients, self.namespace, self.configmap)
        except KubeApiError as exc:
            if exc.code == 404:
                raise RulesError(
                    f"no ConfigMap {self.namespace}/{self.configmap}: deploy Falco first (falcotui apply)"
                ) from exc
            raise RulesError(str(exc)) from exc
        except KubeError as exc:
            raise RulesError(str(exc)) from exc

    def pull(self) -> RulesSnapshot:
        cm = self._get_cm()
        data = cm.get("data") or {}
        return RulesSnapshot({k: data[k] for k in sorted(data)}, cm["metadata"]["resourceVersion"])

    def falco_pods(self) -> list[dict]:
        try:
            return PODS.items(self.clients, self.namespace, selector=FALCO_SELECTOR)
        except KubeError as exc:
            raise RulesError(f"cannot list the Falco pods: {exc}") from exc

    def _may_exec(self) -> bool:
        """Whether exec in Falco's namespace is allowed (asked once; True when the server cannot say)."""
        if self._exec_allowed is None:
            try:
                # the websocket upgrade is a GET; from Kubernetes 1.35 it also needs `create`
                # (AuthorizePodWebsocketUpgradeCreatePermission): ask for both
                self._exec_allowed = all(
                    self.clients.can_i(verb, "pods", self.namespace, subresource="exec")
                    for verb in ("get", "create")
                )
            except KubeError:
                return True  # no answer: try the exec itself, which reports its own error
        return self._exec_allowed

    def default_rules(self, *, refresh: bool = False) -> DefaultRules:
        """Falco's default rules as shipped in the running image (`cat` in a running Falco pod)."""
        problems: list[str] = []
        pods = self.falco_pods()
        if not self._may_exec():
            # Exec into a Falco pod is near-root on its node, so the viewer role does not grant it: ask
            # first (SelfSubjectAccessReview) rather than send a request the user's role forbids.
            raise RulesError(
                "cannot read Falco's default rules: they are read by exec in a Falco pod, and your "
                f"credentials may not exec into pods in namespace {self.namespace} (pods/exec is in the "
                "falcotui-operator role only)"
            )
        for pod in pods:
            containers = (pod.get("spec") or {}).get("containers") or []
            image = next((c.get("image", "") for c in containers if c.get("name") == "falco"), "")
            if not refresh and image in self._defaults:
                return self._defaults[image]
            statuses = (pod.get("status") or {}).get("containerStatuses") or []
            running = any(s.get("name") == "falco" and "running" in (s.get("state") or {}) for s in statuses)
            if not running:
                continue
            name = pod["metadata"]["name"]
            try:
                text = read_file(self.clients, self.namespace, name, DEFAULT_RULES_PATH, container="falco")
            except (ExecError, KubeError) as exc:
                problems.append(f"{name}: {exc}")
                continue
            self._defaults[image] = DefaultRules(text, image, name)
            return self._defaults[image]
        why = f" ({'; '.join(problems)})" if problems else ""
        raise RulesError(
            f"cannot read Falco's default rules: no running Falco pod in namespace {self.namespace}{why}"
        )

    def target(self, *, refresh: bool = False) -> RulesTarget:
        """The Falco version to validate for: the strictest one the cluster's Falco pods run."""
        now = time.monotonic()
        if not refresh and self._target is not None and now - self._target[0] < self.target_ttl:
            return self._target[1]
        try:
            target = target_for_pods(self.falco_pods(), self.logged_versions)
        except RulesError as exc:
            target = unknown_target(f"cannot tell which Falco the nodes run ({exc})")
        self._target = (now, target)
        return target

    # ---- validate ------------------------------------------------------------------------------------
    def validate(
        self,
        files: Mapping[str, str],
        defaults: DefaultRules | str | None = None,
        *,
        target: RulesTarget | None = None,
    ) -> Validation:
        """Load the default rules, then `files` in key order (as Falco reads rules.d), for the Falco the
        nodes run (`target`, default: looked up from the Falco pods)."""
        bad = [k for k in files if not CONFIGMAP_KEY.fullmatch(k) or len(k) > MAX_KEY_LEN]
        if bad:
            raise RulesError(
                f"invalid rules file name(s) {', '.join(map(repr, bad))}: use letters, digits, '-', '_', '.'"
            )
        try:
            check_configmap_size(dict(files))
        except RulesInputError as exc:
            raise RulesError(str(exc)) from None
        if defaults is None:
            defaults = self.default_rules()
        text = defaults.text if isinstance(defaults, DefaultRules) else defaults
        ordered = [(DEFAULT_RULES_PATH, text)] + [(f"{RULES_DIR}/{k}", files[k]) for k in sorted(files)]
        target = target if target is not None else self.target()
        return Validation(load_rules(ordered, falco_version=target.dialect), target)

    # ---- push ----------------------------------------------------------------------------------------
    def push(
        self,
        files: Mapping[str, str],
        base_rv: str,
        *,
        message: str = "",
        allow_warnings: bool = False,
        force_invalid: bool = False,
        defaults: DefaultRules | str | None = None,
        kind: str = "push",
    ) -> PushResult:
        """Validate, then replace the ConfigMap's files if it is still at `base_rv`."""
        files = {k: files[k] for k in sorted(files)}
        validation = self.validate(files, defaults, target=self.target(refresh=True))
        cm = self._get_cm()
        live = cm.get("data") or {}
        if dict(live) == files:  # nothing to send (and nobody's edit to overwrite)
            return PushResult(PushStatus.UNCHANGED, validation, cm["metadata"]["resourceVersion"])
        if not validation.ok and not force_invalid:
            return PushResult(PushStatus.INVALID, validation)
        if validation.ok and validation.warnings and not (allow_warnings or force_invalid):
            return PushResult(PushStatus.NEEDS_CONFIRMATION, validation)
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {**cm["metadata"], "resourceVersion": base_rv},
            "data": files,
        }
        body["metadata"].pop("managedFields", None)
        source = self._reload_source()
        marks = self._log_marks(source)
        pushed_at = time.time_ns()
        try:
            manager = [("fieldManager", FIELD_MANAGER)]
            new = CONFIGMAPS.replace(self.clients, self.namespace, self.configmap, body, query=manager)
        except KubeApiError as exc:
            if exc.code == 409:
                theirs = self.pull()
                diff = files_diff(theirs.files, files)
                conflict = Conflict(base_rv, theirs.resource_version, theirs.files, files, diff)
                return PushResult(PushStatus.CONFLICT, validation, conflict=conflict)
            raise RulesError(f"push refused: {exc}") from exc
        except KubeError as exc:
            raise RulesError(f"push failed: {exc}") from exc
        new_rv = new["metadata"]["resourceVersion"]
        result = PushResult(PushStatus.PUSHED, validation, new_rv, pushed_at, forced=not validation.ok)
        result.log_marks, result.server_time_ns = marks, server_time(new, FIELD_MANAGER)
        if source is not None:
            mark = PushMark(pushed_at, dict(marks), result.server_time_ns, DEFAULT_RELOAD_TIMEOUT)
            source.mark_reload_pending(mark)
        self._pushes[pushed_at] = result
        while len(self._pushes) > 8:
            del self._pushes[next(iter(self._pushes))]
        before = ({k: live[k] for k in sorted(live)}, base_rv)
        try:
            entry = self.history.record(
                files,
                author=self.author,
                message=message,
                kind=kind,
                source_rv=base_rv,
                pushed_rv=new_rv,
                before=before,
            )
            result.version = entry.version
        except HistoryError as exc:
            result.history_error = str(exc)
        return result

    # ---- history / rollback --------------------------------------------------------------------------
    def list_history(self) -> list[HistoryEntry]:
        try:
            return self.history.entries()
        except HistoryError as exc:
            raise RulesError(str(exc)) from exc

    def rollback_target(self, version: int | None = None) -> HistoryEntry:
        """The entry to roll back to: `version`, else the newest one that differs from the live rules."""
        try:
            if version is not None:
                return self.history.get(version)
            entries = self.history.entries()
        except HistoryError as exc:
            raise RulesError(str(exc)) from exc
        live = self.pull().files
        for entry in reversed(entries):
            if entry.files != live:
                return entry
        raise RulesError(
            "nothing to roll back to: the history holds no version that differs from the live rules"
        )

    def rollback(
        self,
        version: int | None = None,
        *,
        allow_warnings: bool = True,
        force_invalid: bool = False,
        defaults: DefaultRules | str | None = None,
    ) -> PushResult:
        """Push a recorded version again (validated, recorded in the history as a rollback)."""
        target = self.rollback_target(version)
        current = self.pull()
        return self.push(
            target.files,
            current.resource_version,
            message=f"rollback to version {target.version}",
            allow_warnings=allow_warnings,
            force_invalid=force_invalid,
            defaults=defaults,
            kind="rollback",
        )

    # ---- reload tracking -----------------------------------------------------------------------------
    def _reload_source(self) -> ReloadSource | None:
        if self.reloads is not None:
            return self.reloads
        if not self.pipeline:
            return None
        if self._own is None or self._own.closed:  # none yet, or it stopped itself when idle
            from falcotui.ops.rules.reload_pipeline import HeadlessPipeline  # an engine: only when needed

            own = HeadlessPipeline(self.clients, self.namespace)
            try:
                own.start()
            except Exception as exc:
                own.close()
                raise RulesError(f"cannot follow the Falco pods' logs: {exc}") from exc
            self._own = own
        return self._own

    @staticmethod
    def _log_marks(source: ReloadSource | None) -> dict[str, int | None]:
        """Where each Falco pod's log stands just before a push (pod -> last kubelet timestamp)."""
        if source is None:
            return {}
        try:
            return dict(source.log_marks())
        except Exception:  # the pipeline is gone: pods are judged by the push's time instead
            return {}

    async def track_reload(
        self,
        since_ns: int,
        *,
        timeout: float = DEFAULT_RELOAD_TIMEOUT,
        poll: float = 0.2,
        on_event: Callable[[NodeReload], None] | None = None,
    ) -> ReloadSummary:
        """Every node's reload of the rules pushed at `since_ns` (`PushResult.pushed_at_ns`), from the log
        pipeline's per-pod state (ReloadTracker). A push this service did not make is marked now."""
        source = self._reload_source()
        if source is None:
            raise RulesError("tracking the reload needs the Falco pods' log pipeline (none runs here)")
        push = self._pushes.get(since_ns)
        if push is None:  # a push this service did not make: judged from now on
            source.mark_reload_pending(PushMark(since_ns, {}, None, timeout))
        elif source is self._own and since_ns not in self._own.marked:  # a pipeline started since
            source.mark_reload_pending(PushMark(since_ns, push.log_marks, push.server_time_ns, timeout))
        tracker = ReloadTracker(source.reload_rows, since_ns, timeout=timeout, poll=poll)
        try:
            return await tracker.run(on_event)
        except KubeError as exc:
            raise RulesError(f"tracking the reload failed: {exc}") from exc

    def close(self) -> None:
        """Stop the headless log pipeline, if this service started one."""
        own, self._own = self._own, None
        if own is not None:
            own.close()
