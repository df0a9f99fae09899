"""The one object every screen reads: the ops services of the cluster the app is connected to, and the
mixin that gives a write-capable screen `services` and `read_only`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from falcotui.ops.channels.nats import NatsSource
from falcotui.ops.deploy.deployer import Deployer
from falcotui.ops.engine_client import EngineClient
from falcotui.ops.rules.service import RulesService


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
    app's verdict (`--read-only` or RBAC) when it has one, else the services' flag (a screen hosted alone).

    With many clusters (`falcotui --context a --context b`) a screen keeps the services of the cluster that
    was current when it first asked: its writes go to that one cluster, whichever is drilled into later."""

    _bound_services: Services | None = None

    @property
    def services(self) -> Services:
        if self._bound_services is None:
            self._bound_services = self.app.services  # type: ignore[attr-defined]
        return self._bound_services

    @property
    def read_only(self) -> bool:
        verdict = getattr(self.app, "read_only_of", None)  # type: ignore[attr-defined]
        if callable(verdict):
            return bool(verdict(self.services))
        ro = getattr(self.app, "read_only", None)  # type: ignore[attr-defined]
        return bool(self.services.read_only if ro is None else ro)
