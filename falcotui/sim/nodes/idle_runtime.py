"""The default container runtime: a process that prints nothing, is always ready and runs until stopped."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from falcotui.sim.nodes.runtime import ContainerContext, ContainerHandle

KILLED_EXIT_CODE = 137  # 128 + SIGKILL, what a stopped container reports


class IdleHandle:
    """One idle container instance; keeps the latest mounted files for inspection."""

    def __init__(self, ctx: ContainerContext) -> None:
        self.ctx = ctx
        self.files: dict[str, str] = dict(ctx.files)
        self._stopped = asyncio.Event()

    async def wait(self) -> int:
        await self._stopped.wait()
        return KILLED_EXIT_CODE

    async def stop(self) -> None:
        self._stopped.set()

    def files_changed(self, files: Mapping[str, str]) -> None:
        self.files = dict(files)

    def ready(self) -> bool:
        return not self._stopped.is_set()


class IdleRuntime:
    """A `ContainerRuntime` for any image nobody simulates in more detail."""

    async def start(self, ctx: ContainerContext) -> ContainerHandle:
        return IdleHandle(ctx)
