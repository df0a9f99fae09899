"""The UI's handle on many clusters served by one engine worker (ops/engine_fleets.py).

`FleetsClient` opens the worker once (a child process, or a thread with `FALCOTUI_ENGINE=thread`) and hands
out one `EngineClient` per cluster over the same link (`engine@NAME`, `views@NAME`): each has its own
mirrors, so a cluster's screens (its fleet, node detail, rules, deploy) read that cluster alone, as they do
with one cluster. `merged` is the Alerts screen's source: views over the merged store (`views`) and its
counts. `tick()` makes every cluster's round trip and the merged one at once: a cluster whose API hangs
answers from its own engine's memory like the others (its informers and followers retry on their own).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from falcotui.ops.engine import Engine
from falcotui.ops.engine_batch import TickBatch
from falcotui.ops.engine_client import EngineClient, EngineFailed
from falcotui.ops.engine_fleets import ClusterState, FleetsHost, FleetsSpec, FleetsTick
from falcotui.ops.engine_link import Link, LinkClosed, RemoteError
from falcotui.ops.engine_mirror import StoreMirror
from falcotui.ops.engine_placement import ChildPlacement, ThreadPlacement, needs_terminal

T = TypeVar("T")


class FleetsThreadPlacement(ThreadPlacement):
    """The fleets worker on a thread of this process (FALCOTUI_ENGINE=thread, or a cluster whose exec
    credential plugin may have to ask the user: its engine then uses the UI's own clients, which the app
    lends the terminal)."""

    def __init__(self, spec: FleetsSpec, clients: dict[str, Any] | None = None) -> None:
        super().__init__(None)
        self.spec = spec
        self.clients = clients

    async def open(self) -> Link:
        link = await super().open()
        assert self._loop is not None

        async def build() -> None:  # on the worker's loop, as a child builds it on its first call
            self.host.delegate = self.spec.host(self.clients)

        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(build(), self._loop))
        return link

    @property
    def fleets_host(self) -> FleetsHost | None:
        """The worker's dispatcher (a thread only)."""
        return self.host.delegate

    async def run_in_cluster(self, name: str, fn: Callable[[Engine], T]) -> T:
        """`fn(engine)` on the worker's loop with cluster `name`'s engine (tests feed alerts this way)."""
        host = self.fleets_host
        engine = host.clusters[name].engine if host is not None else None
        if engine is None or self._loop is None:
            raise EngineFailed(f"cluster {name} has no engine here")

        async def call() -> T:
            return fn(engine)

        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(call(), self._loop))


class SharedPlacement:
    """One cluster's view of the shared worker: opened once for all, closed when the last one closes."""

    def __init__(self, inner: Any, users: list[SharedPlacement]) -> None:
        self.inner = inner
        self._users = users
        self._closed = False
        users.append(self)

    @property
    def link(self) -> Link | None:
        return self.inner.link

    async def open(self) -> Link:
        return await _open_once(self.inner)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if all(u._closed for u in self._users):
            await self.inner.close()

    def failure(self) -> str:
        return self.inner.failure()


_OPEN_LOCKS: dict[int, asyncio.Lock] = {}


async def _open_once(placement: Any) -> Link:
    lock = _OPEN_LOCKS.setdefault(id(placement), asyncio.Lock())
    async with lock:
        if placement.link is None:
            await placement.open()
        assert placement.link is not None
        return placement.link


class MergedClient:
    """The Alerts screen's source over every cluster: `call` for views of the merged store, `store` for its
    counts, `fleet.nodes` for the node names of every cluster (the filter's unmatched-node hint)."""

    def __init__(self, fleets: FleetsClient) -> None:
        self._fleets = fleets
        self.store = StoreMirror()

    async def call(self, target: str, method: str, *args: Any) -> Any:
        link = await self._fleets.link()
        try:
            return await link.call(target, method, *args)
        except LinkClosed:
            raise EngineFailed(self._fleets.failure() or "the engine's connection closed") from None

    @property
    def fleet(self) -> _AllNodes:
        return _AllNodes(self._fleets)


class _AllNodes:
    def __init__(self, fleets: FleetsClient) -> None:
        self.nodes = {n: r for c in fleets.clients.values() for n, r in c.fleet.nodes.items()}


class FleetsClient:
    """See the module docstring."""

    def __init__(self, placement: Any, clients: dict[str, EngineClient]) -> None:
        self.placement = placement
        self.clients = clients
        self.merged = MergedClient(self)
        self.states: dict[str, ClusterState] = {n: ClusterState("connecting") for n in clients}
        self.errors: dict[str, str] = {}  # a cluster's tick failed (its engine is missing): why

    @property
    def names(self) -> Sequence[str]:
        return tuple(self.clients)

    async def link(self) -> Link:
        try:
            return await _open_once(self.placement)
        except (LinkClosed, RemoteError, OSError) as exc:
            raise EngineFailed(self.placement.failure() or str(exc)) from None

    def failure(self) -> str:
        return self.placement.failure()

    async def start(self) -> None:
        """Open the worker and start every cluster's engine there (each returns at once, retried there)."""
        await self.link()
        names = list(self.clients)
        opened = await asyncio.gather(*(self.clients[n].open() for n in names), return_exceptions=True)
        for name, result in zip(names, opened, strict=True):
            if isinstance(result, EngineFailed):
                raise result
            if isinstance(result, BaseException):  # its engine could not be built: its state says why
                self.errors[name] = str(result)
        await asyncio.gather(*(self.clients[n].call("engine", "start", 20.0) for n in names))

    async def tick(self) -> dict[str, TickBatch]:
        """One round trip per cluster and one for the merged store, all in flight at once; the batches of
        the clusters that answered (a cluster whose engine is missing has none, `errors` says why)."""
        names = list(self.clients)
        ticks = [self.clients[n].tick() for n in names]
        results = await asyncio.gather(*ticks, self.merged.call("fleets", "tick"), return_exceptions=True)
        merged = results[-1]
        if isinstance(merged, EngineFailed):
            raise merged
        if isinstance(merged, BaseException):
            raise EngineFailed(f"{type(merged).__name__}: {merged}")
        assert isinstance(merged, FleetsTick)
        self.merged.store.counts = merged.store
        self.states = merged.clusters
        fresh: dict[str, TickBatch] = {}
        for name, result in zip(names, results, strict=False):
            if isinstance(result, EngineFailed):
                raise result
            if isinstance(result, BaseException):
                self.errors[name] = str(result)
            else:
                self.errors.pop(name, None)
                fresh[name] = result
        return fresh

    async def stop(self) -> None:
        await asyncio.gather(*(c.stop() for c in self.clients.values()), return_exceptions=True)
        await self.placement.close()


def fleets_client(
    spec: FleetsSpec, ui_clients: dict[str, Any], *, thread: bool | None = False, spawned: Any = None
) -> FleetsClient:
    """A FleetsClient for `spec`: the worker in a child process (`spawned` early, or now), or on a thread
    (`thread`; None: when a cluster's credential plugin may prompt); one EngineClient per cluster with the
    UI's own clients of that cluster (`ui_clients[name]`)."""
    inner: Any
    if thread is None:  # a credential plugin that may prompt needs the terminal: only a thread can lend it
        thread = any(needs_terminal(getattr(c, "credentials", None)) for c in ui_clients.values())
    if thread:
        if spawned is not None:
            spawned.discard()
        inner = FleetsThreadPlacement(spec, ui_clients)
    else:
        inner = ChildPlacement(spec, spawned=spawned)  # type: ignore[arg-type]
        inner.spawn()
    users: list[SharedPlacement] = []
    clients = {}
    for c in spec.clusters:
        placement = SharedPlacement(inner, users)
        clients[c.name] = EngineClient(
            placement,  # type: ignore[arg-type]
            ui_clients[c.name],
            c.spec.namespace,
            read_only=c.spec.read_only,
            cluster=c.name,
        )
    return FleetsClient(inner, clients)
