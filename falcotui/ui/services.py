"""The one object every screen reads: the ops services of the cluster the app is connected to, and the
mixin that gives a write-capable screen `services` and `read_only`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from falcotui.ops.deployer import Deployer
from falcotui.ops.engine_client import EngineClient
from falcotui.ops.nats_channel import NatsSource
from falcotui.ops.rules_service import RulesService


@dataclass
class Services:
    engine: EngineClient  # the engine in its worker: fleet/notices/store mirrors, tick(), views over call()
    deployer: Deployer
    rules: RulesService
    context_name: str
    namespace: str
    read_only: bool
    demo: bool = False
    export_dir: Path | None = None  # `e` on Alerts writes here (None: the user's data dir)
    nats: NatsSource | None = None  # --alerts-from nats://…: Falcosidekick's stream (its creation is offered)


class ServicesMixin:
    """For screens that write (deploy, rules): the app's `services`, and whether writes are off — the
    app's verdict (`--read-only` or RBAC) when it has one, else the services' flag (a screen hosted alone)."""

    @property
    def services(self) -> Services:
        return self.app.services  # type: ignore[attr-defined]

    @property
    def read_only(self) -> bool:
        ro = getattr(self.app, "read_only", None)  # type: ignore[attr-defined]
        return bool(self.services.read_only if ro is None else ro)
