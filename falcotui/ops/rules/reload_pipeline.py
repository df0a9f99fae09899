"""The engine's per-pod log pipeline for a process that has no engine running (the headless `rules push
--wait`, a RulesService used alone): an `Engine` with the log channel only, on its own event loop in a
daemon thread, tailing one line per pod (where each log stands before a push) and then following every
line, classified once into the per-pod Falco state that reload tracking reads.

Its methods may be called from any thread; `reload_rows` is awaitable from any event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Coroutine
from typing import Any, Protocol, TypeVar

from falcotui.kube.client import KubeClients
from falcotui.ops.engine import Engine, EngineOptions
from falcotui.ops.fleet.status import NodeStatus
from falcotui.ops.rules.reload_state import PushMark

T = TypeVar("T")
#: how long to wait at start for every followed pod's last line (its mark); a pod still silent then is
#: judged by the push's time instead
SETTLE_S = 5.0
START_TIMEOUT_S = 20.0
#: a pipeline nobody asked anything for this long stops itself (a service used alone and never closed)
IDLE_S = 60.0


class ReloadSource(Protocol):
    """What rules pushes need from the pipeline: where each pod's log stands, a push to mark, the rows."""

    def log_marks(self) -> dict[str, int]: ...

    def mark_reload_pending(self, push: PushMark | None) -> None: ...

    def reload_rows(self) -> Any: ...  # list[NodeStatus], or an awaitable of it


class HeadlessPipeline:
    """See the module docstring. `start()` blocks until the pods are listed and their tails read."""

    def __init__(
        self, clients: KubeClients, namespace: str, *, settle_s: float = SETTLE_S, idle_s: float = IDLE_S
    ) -> None:
        options = EngineOptions(tail_lines=1)
        self.engine = Engine(clients, namespace, channels=("log",), read_only=True, options=options)
        self.settle_s = settle_s
        self.idle_s = idle_s
        self._used = time.monotonic()
        self.marked: set[int] = set()  # the pushes marked on this pipeline (PushMark.since_ns)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="reload-pipeline", daemon=True)
        self._started = False
        self._closed = False

    def _submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        self._thread.start()
        self._submit(self.engine.start(sync_timeout=START_TIMEOUT_S)).result(START_TIMEOUT_S + 5)
        self._submit(self._settle()).result(self.settle_s + 5)
        self._loop.call_soon_threadsafe(lambda: self._loop.create_task(self._idle_watch()))

    async def _settle(self) -> None:
        logs = self.engine.logs
        deadline = time.monotonic() + self.settle_s
        while logs is not None and not logs.settled() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    async def _idle_watch(self) -> None:
        while time.monotonic() - self._used < self.idle_s:
            await asyncio.sleep(min(1.0, self.idle_s))
        self._closed = True
        await self.engine.stop()
        self._loop.stop()

    @property
    def closed(self) -> bool:
        return self._closed

    async def _call(self, fn: Any, *args: Any) -> Any:
        self._used = time.monotonic()
        return fn(*args)

    def log_marks(self) -> dict[str, int]:
        return self._submit(self._call(self.engine.log_marks)).result(10)

    def mark_reload_pending(self, push: PushMark | None) -> None:
        if push is not None:
            self.marked.add(push.since_ns)
        self._submit(self._call(self.engine.fleet.mark_reload_pending, push)).result(10)

    async def reload_rows(self) -> list[NodeStatus]:
        return await asyncio.wrap_future(self._submit(self._call(self.engine.reload_rows)))

    def close(self) -> None:
        """Stop the engine and its loop (the thread ends)."""
        if self._closed:
            return
        self._closed = True
        if self._started and self._loop.is_running():
            try:
                self._submit(self.engine.stop()).result(15)
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join(5)
        if not self._loop.is_running():
            self._loop.close()
