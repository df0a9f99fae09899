"""Follow every node's hot reload after a rules push, from the fleet rows: pending → restarting → reloaded,
rejected, crash-loop or timed out, one `NodeReload` per change, then one `ReloadSummary`.

The rows are what the engine computes per tick (`NodeStatus.reload`, from each pod's log model: see
ops/reload_watch.py), read through `rows()` — the engine itself, its mirror on the UI side of the worker
boundary, or the headless pipeline of `rules push`. Nothing here reads a log or asks the API server: the
engine's log followers already classify every line of every Falco pod.

Facts (DESIGN.md): a changed rules ConfigMap reaches the pods after the kubelet's sync (~60-90 s on real
clusters); Falco dry-runs the new rules; valid → `SIGHUP received, restarting...` then its startup lines
again; invalid → the old rules keep running and the internal alert `Falco internal: hot restart failure`
is emitted; an `Error:` or a container restart means Falco exited (the pod crash-loops).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable

from falcotui.ops.fleet.status import NodeStatus
from falcotui.ops.rules.reload_state import (
    RESTARTED_DETAIL,
    SIGHUP_DETAIL,
    NodeReload,
    ReloadState,
    ReloadSummary,
)

#: Kubernetes documents up to "the kubelet sync period + cache propagation delay" (60 s, plus up to the
#: TTL, 60 s, with a TTL cache) before a mounted ConfigMap changes; then Falco dry-runs and restarts.
DEFAULT_RELOAD_TIMEOUT = 150.0
MAX_DOCUMENTED_PROPAGATION = 120.0

Rows = Callable[[], Iterable[NodeStatus] | Awaitable[Iterable[NodeStatus]]]


def _skipped_restart(before: NodeReload | None, now: NodeReload) -> bool:
    """A running Falco's reload goes pending → restarting → reloaded; a poll can see only its end."""
    return (
        now.state is ReloadState.RELOADED
        and now.detail == RESTARTED_DETAIL
        and (before is None or before.state is ReloadState.PENDING)
    )


class ReloadTracker:
    """Tracks the reload of the push marked `push_ns` (`PushMark.since_ns`) on every node with a Falco pod,
    reading `rows()` every `poll` seconds (in memory: the engine delivers them)."""

    def __init__(
        self, rows: Rows, push_ns: int, *, timeout: float = DEFAULT_RELOAD_TIMEOUT, poll: float = 0.2
    ) -> None:
        self.rows = rows
        self.push_ns = push_ns
        self.timeout = timeout
        self.poll = poll

    async def _states(self) -> dict[str, NodeReload | None]:
        """Node -> its state of this push, for every node with a Falco pod; None for a node whose row does
        not show this push yet (a mirror a tick behind, a pod adopted later)."""
        got = self.rows()
        rows = await got if inspect.isawaitable(got) else got
        return {
            r.name: r.reload if r.reload.push_ns == self.push_ns else None
            for r in rows  # type: ignore[union-attr]
            if r.pod is not None
        }

    async def events(self) -> AsyncIterator[NodeReload | ReloadSummary]:
        """Per-node state changes as they happen, then the summary (always last)."""
        started = time.monotonic()
        deadline = started + self.timeout
        seen: dict[str, NodeReload] = {}
        while True:
            states = await self._states()
            for node, state in states.items():
                before = seen.get(node)
                if state is None:
                    continue
                if before is None or (before.state, before.detail) != (state.state, state.detail):
                    if _skipped_restart(before, state):  # both steps came within one poll
                        yield NodeReload(ReloadState.RESTARTING, None, SIGHUP_DETAIL, None, state.node,
                                         state.pod, state.push_ns)  # fmt: skip
                    seen[node] = state
                    yield state
            for node in [n for n in seen if n not in states]:
                del seen[node]  # the node or its pod is gone
            if states and all(s is not None and s.state.final for s in states.values()):
                break
            if time.monotonic() >= deadline:
                for node in states:
                    state = seen.get(node)
                    if state is None or not state.state.final:
                        seen[node] = NodeReload(
                            ReloadState.TIMED_OUT, None, f"no reload seen within {self.timeout:g}s", None,
                            node, state.pod if state else "", self.push_ns,
                        )  # fmt: skip
                        yield seen[node]
                break
            await asyncio.sleep(self.poll)
        nodes = tuple(seen[n] for n in sorted(seen))
        yield ReloadSummary(nodes, time.monotonic() - started)

    async def run(self, on_event: Callable[[NodeReload], None] | None = None) -> ReloadSummary:
        """Drive `events()` to the end; `on_event(NodeReload)` for each state change."""
        async for ev in self.events():
            if isinstance(ev, ReloadSummary):
                return ev
            if on_event is not None:
                on_event(ev)
        raise AssertionError("events() always ends with a summary")
