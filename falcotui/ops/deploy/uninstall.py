"""Uninstalling Falco: what falcotui created and may delete (and what it keeps, with the reasons), the
deletes, and the wait until the Falco pods and a namespace falcotui created are gone.

`UninstallSteps` is a mixin of `Deployer` (deployer.py), which gives it `clients`, `namespace`, `applier`
and `render`; `uninstall` is async, the rest sync. Progress goes to callbacks as typed objects.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from falcotui.kube.apply import Applier, ApplyError
from falcotui.kube.client import KubeClients
from falcotui.kube.errors import KubeApiError, KubeError
from falcotui.kube.resources import FALCO_SELECTOR, NAMESPACES, PODS, Resource
from falcotui.ops.deploy.ownership import Removal, plan_removals
from falcotui.ops.deploy.results import DeployError, UninstallProgress
from falcotui.ops.rules.history import HISTORY_CONFIGMAP


class UninstallSteps:
    """Plan and run the removal of what falcotui deployed in `namespace` (a mixin of `Deployer`)."""

    clients: KubeClients
    namespace: str
    applier: Applier
    render: Callable[..., tuple[list[dict], bool | None]]  # Deployer.render: the manifests it deploys

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
