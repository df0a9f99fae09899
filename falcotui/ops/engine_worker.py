"""The engine's side of the link: the real `Engine` hosted where it cannot steal the UI's time.

`WorkerHost` owns one Engine and answers the UI's calls over a `Link`: target "engine" (start, stop, tick,
mark_reload_pending) and target "views" (the engine's alert views, `ViewService` of
ops/alerts/view_service.py). A child process runs `python -m falcotui.ops.engine_worker FD`: it builds its own
KubeClients from the picklable `EngineSpec` the UI sends first (call "worker"/"open"), serves until the link
closes — the UI exited or died: the socket's EOF is the parent-death signal — then stops the engine and
exits. The same host also runs on a thread of the UI process (see ops/engine_placement.py).
"""

from __future__ import annotations

import os

os.environ.setdefault("GRPC_VERBOSITY", "NONE")  # before grpc is imported: its C core writes to stderr

import asyncio
import signal
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from falcotui.kube.client import KubeClients, Timeouts, load_clients
from falcotui.kube.credentials import NoTerminal
from falcotui.kube.throttle import RateLimits
from falcotui.ops.engine import CHANNELS, Engine, EngineOptions
from falcotui.ops.engine_batch import TickBatch, TickBatcher
from falcotui.ops.engine_link import Link
from falcotui.ops.gc_tuning import tune_for_ingest
from falcotui.ops.rules.reload_state import PushMark

VIEW_CALLS = frozenset({"open", "sync", "close", "export", "report", "alert"})
STOP_GRACE_S = 5.0  # a child waits this long for the engine to stop before it exits anyway


@dataclass(frozen=True, slots=True)
class ConnectOptions:
    """How to reach the cluster, picklable: what `load_clients` needs to build a process's own clients."""

    kubeconfig: str | None = None
    context: str | None = None
    timeouts: Timeouts = field(default_factory=Timeouts)
    limits: RateLimits | None = None

    def load(self) -> KubeClients:
        """Clients for a process without a terminal (an exec plugin may not prompt here)."""
        return load_clients(
            self.kubeconfig, self.context, timeouts=self.timeouts, limits=self.limits, terminal=NoTerminal()
        )


@dataclass(frozen=True, slots=True)
class EngineSpec:
    """Everything a worker needs to build the Engine the UI asked for."""

    connect: ConnectOptions
    namespace: str = "falco"
    read_only: bool | None = None
    alert_capacity: int = 100_000
    channels: tuple[str, ...] = CHANNELS
    options: EngineOptions | None = None

    def build(self, clients: KubeClients | None = None) -> Engine:
        return Engine(
            clients if clients is not None else self.connect.load(),
            self.namespace,
            channels=self.channels,
            alert_capacity=self.alert_capacity,
            read_only=self.read_only,
            options=self.options,
        )


class WorkerHost:
    """The dispatcher: routes a link's calls to the engine, its tick batcher and its alert views."""

    ENGINE_CALLS = frozenset({"start", "stop", "tick", "mark_reload_pending", "log_marks", "followed_pods"})

    def __init__(self, engine: Engine | None = None) -> None:
        self.engine: Engine | None = None
        self.batcher: TickBatcher | None = None
        self.views: Any = None
        self.stopped = asyncio.Event()
        self.delegate: Any = None  # a spec's own dispatcher (many clusters: ops/engine_fleets.py)
        if engine is not None:
            self._host(engine)

    def _host(self, engine: Engine) -> None:
        self.engine = engine
        self.batcher = TickBatcher(engine)
        self.views = engine.views  # the UI's alert views by id (ops/alerts/view_service.py)

    def __call__(self, target: str, method: str, args: tuple) -> Any:
        if self.delegate is not None and target != "worker":
            return self.delegate(target, method, args)
        if target == "engine" and method in self.ENGINE_CALLS:
            return getattr(self, method)(*args)
        if target == "views" and self.views is not None and method in VIEW_CALLS:
            return getattr(self.views, method)(*args)
        if target == "worker" and method == "open":
            return self.open(*args)
        if target == "worker" and method == "ping":
            return os.getpid()
        raise LookupError(f"the engine worker has no {target}.{method}")

    # ------------------------------------------------------------ calls

    def open(self, spec: Any) -> int:
        """Build the engine from `spec` (a child's first call); returns the worker's pid. A spec with a
        `host()` of its own (`FleetsSpec`: many clusters) is served by that dispatcher instead."""
        if self.engine is not None or self.delegate is not None:
            raise RuntimeError("the worker already hosts an engine")
        if hasattr(spec, "host"):
            self.delegate = spec.host()
        else:
            self._host(spec.build())
        return os.getpid()

    async def stop_hosted(self) -> None:
        """Stop whatever this worker hosts (the link closed)."""
        if self.delegate is not None:
            await self.delegate.stop()
        elif self.engine is not None:
            await self.engine.stop()

    async def start(self, sync_timeout: float | None = 20.0) -> None:
        await self._engine().start(sync_timeout=sync_timeout)
        tune_for_ingest()  # this process's work from now on is the alert storm

    async def stop(self) -> None:
        if self.engine is not None:
            await self.engine.stop()
        self.stopped.set()

    def tick(self, watch: Sequence[str] = ()) -> TickBatch:
        if self.batcher is None:
            raise RuntimeError("the worker hosts no engine yet")
        return self.batcher.batch(watch)

    def mark_reload_pending(self, push: PushMark | None) -> None:
        self._engine().fleet.mark_reload_pending(push)

    def log_marks(self) -> dict[str, int]:
        return self._engine().log_marks()

    def followed_pods(self) -> set[str]:
        return self._engine().followed_pods()

    def _engine(self) -> Engine:
        if self.engine is None:
            raise RuntimeError("the worker hosts no engine yet")
        return self.engine


async def serve(sock: socket.socket, host: WorkerHost) -> None:
    """Answer calls on `sock` until the peer goes away, then stop the engine (bounded)."""
    link = await Link.over(sock, host, name="engine-worker")
    try:
        await link.wait_closed()
    finally:
        await link.aclose()
        if not host.stopped.is_set() and not (host.delegate and host.delegate.stopped.is_set()):
            try:
                async with asyncio.timeout(STOP_GRACE_S):
                    await host.stop_hosted()
            except (TimeoutError, Exception):  # the UI is gone; nothing is left to tell
                pass


def main(argv: Sequence[str] | None = None) -> int:
    """A child process: `python -m falcotui.ops.engine_worker FD` (FD: its end of the socket pair)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or not args[0].isdigit():
        print("usage: python -m falcotui.ops.engine_worker FD", file=sys.stderr)
        return 2
    # Ctrl-C in the terminal is the UI's to handle (it stops us over the link); a hang-up ends us both.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sock = socket.socket(fileno=int(args[0]))
    asyncio.run(serve(sock, WorkerHost()))
    sys.stderr.flush()
    os._exit(0)  # informer and follower threads are daemons of an engine already stopped


if __name__ == "__main__":
    sys.exit(main())
