"""Shared helpers of the Rules/Deploy screen tests: the ops services over a simulated cluster running the
simulated Falco (the `falco_sim`/`clients_for` fixtures of tests/conftest.py), Falco deployed on it, and a
small app hosting one screen."""

from __future__ import annotations

from collections.abc import Callable

from pilot_waits import wait_for
from textual.app import App
from textual.pilot import Pilot
from textual.screen import Screen

from falcotui.kube.client import KubeClients
from falcotui.ops.deploy.deployer import Deployer
from falcotui.ops.engine import Engine
from falcotui.ops.engine_client import EngineClient
from falcotui.ops.engine_placement import ThreadPlacement
from falcotui.ops.rules.service import RulesService
from falcotui.ui.services import Services
from falcotui.ui.tick import EngineTicks


def services_for(clients: KubeClients, *, read_only: bool = False) -> Services:
    """The services of the app; the engine is not started (these screens do not read it)."""
    return Services(
        engine=EngineClient(
            ThreadPlacement(Engine(clients, read_only=read_only)), clients, "falco", read_only=read_only
        ),
        deployer=Deployer(clients),
        rules=RulesService(clients, author="alice@test"),
        context_name="sim",
        namespace="falco",
        read_only=read_only,
    )


async def deploy(clients: KubeClients) -> None:
    dep = Deployer(clients)
    dep.apply(dep.plan())
    result = await dep.follow_rollout(timeout=30, stuck_grace=5)
    assert result.done, result.explain()


class ScreenApp(App):
    """Hosts one screen over `services`, as the real app does (`app.services`, `app.read_only`)."""

    def __init__(self, services: Services, screen: Callable[[], Screen]) -> None:
        super().__init__()
        self.services = services
        self.make_screen = screen
        self.ticks = EngineTicks()  # the screens subscribe to it; nothing publishes (the engine is not run)

    @property
    def read_only(self) -> bool:
        return self.services.read_only

    def on_mount(self) -> None:
        self.theme = "textual-dark"
        self.push_screen(self.make_screen())


def fast_rules_screen():
    """A Rules screen with short reload polling; its lint debounce is long enough that a burst of keys
    from Pilot (which waits for idle after each) is checked once, as when a person types."""
    from falcotui.ui.rules.screen import RulesScreen

    screen = RulesScreen()
    screen.reload_poll = 0.1
    screen.reload_timeout = 30
    screen.lint_delay = 1.0
    return screen


async def loaded(pilot: Pilot, screen) -> None:
    """Until the ConfigMap is shown and linted."""
    await wait_for(pilot, lambda: screen.snapshot is not None and screen.linted_gen == screen.lint_gen)


async def linted(pilot: Pilot, screen) -> None:
    """Until the last edit has been checked (the editor's Changed message schedules the check)."""
    await pilot.pause()
    await wait_for(pilot, lambda: screen.linted_gen == screen.lint_gen)
