"""The one object every screen reads: the ops services of the cluster the app is connected to, the
mixin that gives a write-capable screen `services` and `read_only`, and how a screen's worker thread
turns a call to them into a value or the words of its failure (`attempt`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

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


T = TypeVar("T")


def attempt(
    call: Callable[[], T], expected: type[Exception] | tuple[type[Exception], ...] = ()
) -> tuple[T | None, str]:
    """`(call(), "")`, or `(None, why)` when it raised: an `expected` error (the service's own, already
    worded for the user) in its own words, anything else with its type named (a bug, a dropped link)."""
    try:
        return call(), ""
    except expected as exc:
        return None, str(exc)
    except Exception as exc:
        return None, f"{type(exc).__name__}: {exc}"


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
