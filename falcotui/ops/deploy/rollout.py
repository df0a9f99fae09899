"""Following Falco's rollout: the DaemonSet node by node until complete or stuck, stuck and uncovered nodes
explained (for crash loops with the last log lines of the crashed container), and `kubectl rollout restart`.

`RolloutSteps` is a mixin of `Deployer` (deployer.py), which gives it `clients` and `namespace`; the
follower is async, the rest sync. Progress goes to callbacks as typed objects, never to stdout.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import time
from collections.abc import Callable

from falcotui.kube.client import KubeClients
from falcotui.kube.errors import KubeApiError, KubeError
from falcotui.kube.logs import read_log
from falcotui.kube.resources import DAEMONSETS, NODES, PODS
from falcotui.kube.rollout import NodeRollout, RolloutStatus, rollout_status, wait_rollout
from falcotui.ops.deploy.manifests import FALCO_CONTAINER
from falcotui.ops.deploy.results import DeployError, RolloutResult, StuckNode
from falcotui.ops.deploy.rollout_problems import node_problem
from falcotui.ops.fleet.falco_problems import explain_log

DAEMONSET = "falco"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
CRASH_LOG_LINES = 10


class RolloutSteps:
    """Follow, explain and restart the Falco DaemonSet of `namespace` (a mixin of `Deployer`)."""

    clients: KubeClients
    namespace: str

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
