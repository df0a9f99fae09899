"""`EngineClient`: the UI's handle on an engine that runs elsewhere (a child process, or a thread).

It takes the place of `Engine` in the UI's services. `await start()` opens the placement's link and starts
the engine there; each UI tick `await tick()` makes one round trip and gets one `TickBatch` (health,
changed fleet rows, notices, Warning events, store counts) which it applies to its mirrors — `fleet`,
`notices`, `k8s_events`, `store` — so the screens read them as before, off the UI loop's own memory.
Alert views go over the same link (`call("views", ...)`, ui/remote_view.py). `clients` are the UI
process's own, for the UI's direct calls (pod logs, describe, deploy, rules, the namespace list).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from falcotui.kube.client import KubeClients
from falcotui.ops.alerts.channel_health import ChannelStatus
from falcotui.ops.engine import Engine, EngineError, Health, K8sEvent, namespace_names
from falcotui.ops.engine_batch import TickBatch
from falcotui.ops.engine_link import Link, LinkClosed, RemoteError
from falcotui.ops.engine_mirror import DetailMirror, FleetMirror, NoticeMirror, StoreMirror
from falcotui.ops.engine_placement import ChildPlacement, Placement, ThreadPlacement
from falcotui.ops.engine_spawn import yield_to_ui
from falcotui.ops.fleet.falco_pods import FalcoPodInfo
from falcotui.ops.fleet.status import NodeStatus
from falcotui.ops.rules.reload_state import PushMark

T = TypeVar("T")
EVENTS_KEPT = 200


class EngineFailed(EngineError):
    """The engine's worker is gone (the child died, the link broke); `str()` says how."""


class EngineClient:
    """See the module docstring. One per connection: a stopped client is not started again."""

    def __init__(
        self,
        placement: Placement,
        clients: KubeClients,
        namespace: str,
        *,
        read_only: bool | None = None,
        cluster: str | None = None,
    ) -> None:
        self.placement = placement
        # one of many clusters in one worker (ops/engine_fleets.py): calls go to `engine@NAME`, `views@NAME`
        self.cluster = cluster
        self._targets = {"engine": f"engine@{cluster}", "views": f"views@{cluster}"} if cluster else {}
        self.clients = clients
        self.namespace = namespace
        self._read_only_given = read_only
        self.fleet = FleetMirror(namespace, mark_pending=self._mark_pending)
        self.notices = NoticeMirror()
        self.k8s_events: deque[K8sEvent] = deque(maxlen=EVENTS_KEPT)
        self.store = StoreMirror()
        self.health: Health | None = None
        self.link: Link | None = None
        self._details = DetailMirror()
        self._pending_marks: list[PushMark | None] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._failure = ""
        self._opening = False
        self._opened = asyncio.Event()  # set once `open()` has connected, or failed to

    # ------------------------------------------------------------ lifecycle

    @property
    def opens_fast(self) -> bool:
        """True when `open()` takes milliseconds (a thread), so a UI may await it before its first paint."""
        return isinstance(self.placement, ThreadPlacement)

    async def open(self) -> None:
        """Start the worker and connect to it (the engine itself is not started); safe to call twice."""
        if self.link is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._opening = True
        try:
            self.link = await self.placement.open()
        except (LinkClosed, RemoteError, OSError) as exc:
            self._failure = self.placement.failure() or str(exc)
            raise EngineFailed(self._failure) from None
        finally:
            self._opened.set()  # calls made meanwhile (a screen opening its view) go ahead, or fail
        await self._tick_once()  # the first paint shows what the engine already holds

    async def start(self, *, sync_timeout: float | None = 20.0) -> None:
        """Open the worker and start the engine in it; EngineError as `Engine.start` raises it."""
        await self.open()
        try:
            await self.call("engine", "start", sync_timeout)
        except RemoteError as exc:
            raise EngineError(str(exc)) from None
        if isinstance(self.placement, ChildPlacement) and self.placement.proc is not None:
            yield_to_ui(self.placement.proc.pid)  # the first rows are in: keys go first from now on

    async def stop(self) -> None:
        """Stop the engine and its worker; safe to call twice."""
        link = self.link
        if link is not None and not link.closed:
            try:
                await link.call(self._targets.get("engine", "engine"), "stop")
            except (LinkClosed, RemoteError):
                pass
        await self.placement.close()

    # ------------------------------------------------------------ per tick

    async def call(self, target: str, method: str, *args: Any) -> Any:
        """One call over the link (alert views use `call("views", ...)`); EngineFailed once it is gone."""
        if self.link is None and self._opening:
            await self._opened.wait()  # the worker is still starting (a child takes a second or two)
        if self.link is None:
            raise EngineFailed(self._failure or "the engine is not connected")
        try:
            return await self.link.call(self._targets.get(target, target), method, *args)
        except LinkClosed:
            raise EngineFailed(self.failure() or "the engine's connection closed") from None

    async def tick(self) -> TickBatch:
        """One round trip: the engine's changes since the previous tick, applied to the mirrors."""
        return await self._tick_once()

    async def _tick_once(self) -> TickBatch:
        while self._pending_marks:
            await self.call("engine", "mark_reload_pending", self._pending_marks.pop(0))
        batch: TickBatch = await self.call("engine", "tick", self._details.watched(time.monotonic()))
        self.health = batch.health
        self.fleet.apply(batch)
        self.notices.extend(batch.notices)
        self.k8s_events.extend(batch.k8s_events)
        self.store.counts = batch.store
        self._details.apply(batch.details)
        batch.nodes.update(batch.details)  # a screen showing that node's detail repaints it now
        return batch

    def failure(self) -> str:
        """Why the engine's worker is gone ("" while it runs)."""
        if not self._failure and self.link is not None and self.link.closed:
            self._failure = self.placement.failure() or self.link.close_reason
        return self._failure

    # ------------------------------------------------------------ what screens read

    @property
    def read_only(self) -> bool | None:
        """Writes off: as given, else as the engine found from RBAC (None until it knows)."""
        if self._read_only_given is not None:
            return self._read_only_given
        return self.health.read_only if self.health is not None else None

    def channels_of(self, node: str) -> list[ChannelStatus]:
        """The node's channels as of the last tick (asking keeps them coming for a few seconds)."""
        detail = self._details.ask(node, time.monotonic())
        return list(detail.channels) if detail is not None else []

    def pod_info(self, pod: str) -> FalcoPodInfo | None:
        """What the pod's Falco log said, as of the last tick (for the node running it)."""
        node = next((n for n, r in self.fleet.nodes.items() if r.pod is not None and r.pod.name == pod), None)
        if node is None:
            return None
        detail = self._details.ask(node, time.monotonic())
        return detail.pod_info if detail is not None else None

    def namespace_names(self) -> list[str]:
        """Blocking: the cluster's namespaces (asked with the UI's own clients)."""
        return namespace_names(self.clients)

    # ------------------------------------------------------------ an engine on a thread

    @property
    def local_engine(self) -> Engine | None:
        """The Engine itself when it runs on a thread of this process (None for a child process)."""
        return self.placement.engine if isinstance(self.placement, ThreadPlacement) else None

    async def run_in_engine(self, fn: Callable[[Engine], T]) -> T:
        """`fn(engine)` on the engine's loop (an engine on a thread only: tests feed it this way)."""
        if not isinstance(self.placement, ThreadPlacement):
            raise EngineError("the engine runs in another process")
        return await self.placement.run(fn)

    def _mark_pending(self, push: PushMark | None) -> None:
        self._pending_marks.append(push)

    # ------------------------------------------------------------ rules pushes (a ReloadSource)

    def log_marks(self) -> dict[str, int]:
        """Blocking, from a worker thread (a push runs in one): where each Falco pod's log stands in the
        engine now. {} from the UI loop itself (it cannot wait on its own loop) or without an engine (none
        started, or its worker died: the push still goes out, judged without marks)."""
        loop = self._loop
        try:
            on_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            on_loop = False
        if loop is None or on_loop or self.link is None or self.link.closed:
            return {}
        try:
            return asyncio.run_coroutine_threadsafe(self.call("engine", "log_marks"), loop).result(10)
        except EngineFailed:
            return {}

    def mark_reload_pending(self, push: PushMark | None) -> None:
        """A push was sent: the engine's fleet rows show it per node from the next tick on."""
        self.fleet.mark_reload_pending(push)

    def reload_rows(self) -> list[NodeStatus]:
        """The fleet rows as the engine last delivered them: their `reload` is each node's push state."""
        return self.fleet.rows()
