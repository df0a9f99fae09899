"""Where the engine's worker runs: a child process (the TUI's default) or a thread with its own event loop.

Both hand the UI the same `Link` over a socket pair; only the far end differs.
- `ChildPlacement(spec)`: `python -m falcotui.ops.engine_worker FD`, the worker builds its own KubeClients
  from the picklable spec; parsing, dedup and the store then never hold the UI process's GIL. Its stderr
  goes to an anonymous file whose tail `failure()` reports when the child dies; the child exits by itself
  when the UI process dies (its end of the socket sees EOF).
- `ThreadPlacement(engine)`: the given Engine on a thread's loop, for fast UI tests and for clusters whose
  exec credential plugin must talk to the user (see `needs_terminal`).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, Any, Protocol, TypeVar

from falcotui.kube.client import KubeClients
from falcotui.kube.credentials import ExecCredentials
from falcotui.ops.engine import Engine
from falcotui.ops.engine_link import Link, LinkClosed
from falcotui.ops.engine_spawn import SpawnedWorker, spawn_worker
from falcotui.ops.engine_worker import EngineSpec, WorkerHost, serve

T = TypeVar("T")
STDERR_TAIL = 600  # characters of a dead child's stderr shown in the header
STOP_TIMEOUT_S = 8.0


class Placement(Protocol):
    link: Link | None

    async def open(self) -> Link: ...

    async def close(self) -> None: ...

    def failure(self) -> str: ...


def needs_terminal(credentials: ExecCredentials | None, *, tty: bool | None = None) -> bool:
    """True when the cluster's exec credential plugin may have to prompt the user: interactiveMode Always,
    or IfAvailable with a terminal at hand (`tty`; default: whether stdin is one). A child process has no
    terminal to lend (the UI owns the screen and stdin), so such an engine must stay in the UI process, on
    a thread (`ThreadPlacement`), where the UI can suspend itself around the plugin's prompt."""
    if credentials is None:
        return False
    mode = credentials.plugin.interactive_mode
    if mode == "Always":
        return True
    if mode != "IfAvailable":
        return False
    if tty is None:
        try:
            tty = sys.stdin is not None and sys.stdin.isatty()
        except (ValueError, OSError):
            tty = False
    return tty


class ThreadPlacement:
    """The worker on a thread of this process, serving `engine` (already built, maybe already fed)."""

    def __init__(self, engine: Engine | None) -> None:
        self.engine = engine  # None: the link's first call ("worker"/"open") builds what it serves
        self.host = WorkerHost(engine)
        self.link: Link | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._error = ""

    async def open(self) -> Link:
        ui_end, worker_end = socket.socketpair()
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            ready.set()
            try:
                loop.run_until_complete(serve(worker_end, self.host))
            except Exception as exc:  # shown in the header as the engine's failure
                self._error = f"the engine thread failed: {type(exc).__name__}: {exc}"
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name="falcotui-engine", daemon=True)
        self._thread.start()
        await asyncio.to_thread(ready.wait)
        self.link = await Link.over(ui_end, name="engine-link")
        return self.link

    async def run(self, fn: Callable[[Engine], T]) -> T:
        """`fn(engine)` on the engine's own loop (tests feed a frozen engine this way); its result."""
        if self._loop is None:
            return fn(self.engine)

        async def call() -> T:
            return fn(self.engine)

        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(call(), self._loop))

    async def close(self) -> None:
        if self.link is not None:
            await self.link.aclose()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, STOP_TIMEOUT_S)

    def failure(self) -> str:
        return self._error


class ChildPlacement:
    """The worker in a child process, building its engine from `spec`."""

    def __init__(
        self, spec: EngineSpec, *, python: str = sys.executable, spawned: SpawnedWorker | None = None
    ) -> None:
        self.spec = spec
        self.python = python
        self.link: Link | None = None
        self.proc: subprocess.Popen | None = None
        self.pid: int | None = None
        self.started_s: float | None = None  # seconds from spawn to the worker's first answer (engine built)
        self._worker: SpawnedWorker | None = None
        self._stderr: IO[bytes] | None = None
        self._closing = False
        if spawned is not None:
            self._adopt(spawned)

    def spawn(self) -> None:
        """Start the child now (no loop needed), unless it was handed over already started (`spawned`):
        its imports then overlap with the UI's own start-up; `open()` connects later. Safe to call twice."""
        if self._worker is None:
            self._adopt(spawn_worker(self.python))

    def _adopt(self, worker: SpawnedWorker) -> None:
        self._worker, self.proc, self._stderr = worker, worker.proc, worker.stderr

    async def open(self) -> Link:
        self.spawn()
        assert self._worker is not None
        t0 = self._worker.spawned_at
        self.link = await Link.over(self._worker.ui_end, name="engine-link")
        try:
            self.pid = await self.link.call("worker", "open", self.spec)
        except LinkClosed:
            raise LinkClosed(self.failure() or "the engine process ended at start") from None
        self.started_s = time.monotonic() - t0
        return self.link

    async def close(self) -> None:
        self._closing = True
        if self.link is not None:
            await self.link.aclose()  # EOF: the worker stops its engine and exits
        elif self._worker is not None:
            self._worker.ui_end.close()
        proc = self.proc
        if proc is not None and proc.poll() is None:
            try:
                await asyncio.to_thread(proc.wait, STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                await asyncio.to_thread(proc.wait)
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def failure(self) -> str:
        """ "" while the child runs; after it died: its exit status and the tail of what it wrote."""
        proc = self.proc
        if proc is None or self._closing:
            return ""
        code = proc.poll()
        if code is None and self.link is not None and self.link.closed:
            try:  # the socket closed first; the exit status follows within moments
                code = proc.wait(0.5)
            except subprocess.TimeoutExpired:
                return "the engine process stopped answering (its connection closed)"
        if code is None:
            return ""
        how = f"killed by signal {-code}" if code < 0 else f"exited with status {code}"
        tail = self._stderr_tail()
        return f"the engine process {how}" + (f": {tail}" if tail else "")

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        try:
            self._stderr.seek(0, os.SEEK_END)
            size = self._stderr.tell()
            self._stderr.seek(max(0, size - 4 * STDERR_TAIL))
            text = self._stderr.read().decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""
        return " ⏎ ".join(line for line in text.strip().splitlines()[-6:])[-STDERR_TAIL:]


def place(
    spec: EngineSpec,
    clients: KubeClients,
    *,
    thread: bool | None = None,
    spawned: SpawnedWorker | None = None,
) -> Any:
    """The placement for the TUI: a child process (the one already `spawned`, if given) unless `thread`, or
    unless the exec credential plugin may need the terminal (then the engine runs on a thread over the UI's
    own clients, and a spawned child is let go)."""
    if thread is None:
        thread = needs_terminal(clients.credentials)
    if thread:
        if spawned is not None:
            spawned.discard()
        return ThreadPlacement(spec.build(clients))
    return ChildPlacement(spec, spawned=spawned)
