"""`FalcoTuiApp`: the app shell — modes (fleet, alerts, rules, deploy), the engine lifecycle, a 15 Hz tick.

The engine runs outside the UI's way (a worker process, or a thread: `EngineClient`); a timer makes one
round trip per tick (`await engine.tick()`, never blocking the loop), refreshes the status header and
publishes the batch on `app.ticks` (`ui/tick.py`: the subscribers on the visible screen; a coroutine
subscriber is awaited) inside `batch_update()`, so a storm of alerts costs one repaint per tick, never one
per alert. Screens read
everything else through `self.app.services`. A worker that dies shows in the header as an engine failure.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRPC_VERBOSITY", "NONE")  # grpc's C core would write to the terminal

import asyncio
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from typing import Any, ClassVar

from rich.text import Text
from textual import events
from textual._context import NoActiveAppError
from textual.app import App, ComposeResult, ScreenStackError, SuspendNotSupported
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen

from falcotui.falco.sanitize import sanitize
from falcotui.ops.alerts.query import parse_query
from falcotui.ops.engine import EngineError, Health
from falcotui.ops.engine_batch import TickBatch
from falcotui.ops.engine_client import EngineClient, EngineFailed
from falcotui.ops.engine_fleets_client import MergedClient
from falcotui.ops.fleet.k8s import certs_text
from falcotui.ops.terminal import lend_terminal, reclaim_terminal
from falcotui.ui.alerts.nats_stream import NatsStreamOffer
from falcotui.ui.alerts.screen import AlertsScreen
from falcotui.ui.commands import FalcoCommands
from falcotui.ui.deploy.screen import DeployScreen
from falcotui.ui.fleet.fleets import (
    ClusterSet,
    ClustersScreen,
    ContextsPrompt,
    clusters_badge,
    use_cluster,
)
from falcotui.ui.fleet.screen import FleetScreen
from falcotui.ui.help_screen import HelpScreen
from falcotui.ui.keymap import UserKeymap
from falcotui.ui.reconnect import NamespacePrompt, Reconnect
from falcotui.ui.rules.screen import RulesScreen
from falcotui.ui.services import Services
from falcotui.ui.terminal_driver import hangup_safe
from falcotui.ui.tick import EngineTicks
from falcotui.ui.widgets.common import StatusHeader, health_text, use_no_color
from falcotui.ui.widgets.dialogs import ConfirmDialog
from falcotui.ui.widgets.keybar import KeyBar
from falcotui.ui.widgets.state import redraw_on

TICK_HZ = 15
LATE_S = 5.0  # a tick unanswered this long shows in the header
MODE_TITLES = {"fleet": "Fleet", "alerts": "Alerts", "rules": "Rules", "deploy": "Deploy"}


def with_chrome(screen_cls: type[Screen]) -> type[Screen]:
    """`screen_cls` with the status header on top and the key footer at the bottom (unless it has them)."""

    class Chromed(screen_cls):  # type: ignore[valid-type,misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # A new screen starts with a CSS count of -1, so Textual's first switch to a mode re-parses the
            # whole stylesheet from its text (App.refresh_css: a fresh Stylesheet, no parse cache), 100-200
            # ms on the key that first opens Alerts, Rules or Deploy. Nothing needs it: this screen's own
            # widgets are styled as they mount (App._register applies the stylesheet, parsing only the
            # DEFAULT_CSS it has not seen), as for any widget mounted into a shown screen; a theme change
            # still bumps the app's count and refreshes every screen on its next resume.
            with suppress(NoActiveAppError):
                self._css_update_count = self.app._css_update_count

        def compose(self) -> ComposeResult:
            # yielded lazily: Textual's compose stack must see the `with` blocks of the inner compose
            yield StatusHeader(classes="chrome")
            yield from super().compose()
            yield KeyBar(classes="chrome")

        def post_message(self, message: Message) -> bool:
            # On every resume Textual re-applies the whole stylesheet to the screen's widgets, a large
            # part of a mode switch. A changed stylesheet or theme bumps the app's CSS count and is
            # refreshed by Textual before the resume; with the counts equal nothing can differ.
            if (
                isinstance(message, events.ScreenResume)
                and message.refresh_styles
                and self._css_update_count == self.app._css_update_count
            ):
                message = events.ScreenResume(refresh_styles=False)
            return super().post_message(message)

        def on_mount(self) -> None:
            for kind in (StatusHeader, KeyBar):
                found = list(self.query_children(kind))
                if len(found) > 1:
                    for widget in found:
                        if widget.has_class("chrome"):
                            widget.remove()

    Chromed.__name__ = screen_cls.__name__
    Chromed.__qualname__ = screen_cls.__qualname__
    return Chromed


class FalcoTuiApp(App):
    """The falcotui terminal UI over one cluster's `Services`."""

    TITLE = "falcotui"
    CSS_PATH = "app.tcss"
    COMMANDS: ClassVar = App.COMMANDS | {FalcoCommands}
    HORIZONTAL_BREAKPOINTS: ClassVar = [(0, "-narrow"), (100, "-normal"), (170, "-wide")]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "switch_mode('fleet')", "Fleet", id="app.fleet"),
        Binding("f2", "switch_mode('alerts')", "Alerts", id="app.alerts"),
        Binding("f3", "switch_mode('rules')", "Rules", id="app.rules"),
        Binding("f4", "switch_mode('deploy')", "Deploy", id="app.deploy"),
        Binding("question_mark", "help", "Help", id="app.help"),
        Binding("A", "action_log", "Action log", show=False, id="app.action-log"),
        Binding("colon", "command_palette", "Command", show=False, id="app.command"),
        # A binding of ours for command_palette stops Textual adding its default ctrl+p, so say it here;
        # priority, as Textual's own: it must work from inside the rules editor and the filter input.
        Binding("ctrl+p", "command_palette", "Command", show=False, priority=True, id="app.command"),
        Binding("escape", "back", "Back", show=False, id="app.back"),
        Binding("q", "quit", "Quit", id="app.quit"),
    ]

    #: what the header says of the engine when it cannot answer ("" while it does): it failed, or it is late
    engine_error: reactive[str] = reactive("")
    #: the NATS JetStream stream being created on the user's word ("" when none: ui/alerts/nats_stream.py);
    #: the header says so instead of offering it again
    nats_creating: reactive[str] = reactive("")

    def __init__(
        self,
        services: Services,
        *,
        start_engine: bool = True,
        tick_hz: float = TICK_HZ,
        scenarios: Sequence[str] = (),
        on_scenario: Callable[[str], None] | None = None,
        contexts: Sequence[str] = (),
        keymap: UserKeymap | None = None,
        clusters: ClusterSet | None = None,
    ) -> None:
        super().__init__()
        self.clusters = clusters  # many clusters (`--context a --context b`): ui/fleets.py
        if clusters is not None:
            services = clusters.services[clusters.current]
        self.user_keymap = keymap or UserKeymap()
        if self.user_keymap.keys:
            self.set_keymap(self.user_keymap.keys)
        use_no_color(self.no_color)  # NO_COLOR: priorities and tiles by weight and glyph, not grey shades
        self.driver_class = hangup_safe(self.driver_class)
        self.contexts = tuple(contexts)
        self.services = services
        self.demo_scenarios = tuple(scenarios) if on_scenario is not None else ()
        self._on_scenario = on_scenario
        self.start_engine = start_engine
        self.tick_hz = tick_hz
        self.health: Health | None = None
        self.engine_running = False
        self.last_delta: TickBatch | None = None
        self._switching = False  # a mode switch holds the paints itself (action_switch_mode)
        self.ticks = EngineTicks()  # screens and widgets subscribe to the engine's tick here
        self.ticking = False  # a tick's round trip (and its subscribers' fetches) is under way
        self.nats_offer = NatsStreamOffer()  # a missing NATS stream: said once, created only on Confirm
        self._version: str | None = None
        self._version_at = float("-inf")
        modes = {
            "fleet": with_chrome(ClustersScreen if clusters is not None else FleetScreen),
            "alerts": with_chrome(AlertsScreen),
            "rules": with_chrome(RulesScreen),
            "deploy": with_chrome(DeployScreen),
        }
        for name, factory in modes.items():
            self.add_mode(name, factory)
        self.mode_factories = modes

    # ------------------------------------------------------------ facts screens read

    @property
    def read_only(self) -> bool:
        """True when writes are off: `--read-only`, or RBAC denies them (found by the engine)."""
        return self.read_only_of(self.services)

    def read_only_of(self, services: Services) -> bool:
        """Writes off for one cluster's services (with many clusters, each has its own verdict)."""
        return services.read_only or services.engine.read_only is True

    @property
    def alert_engine(self) -> EngineClient | MergedClient:
        """Where the Alerts screen's views come from: with many clusters, the merged store of them all."""
        return self.clusters.fleets.merged if self.clusters is not None else self.services.engine

    def services_of(self, cluster: str | None) -> Services:
        """The services of the named cluster (an alert's `cluster`), else of the one in use."""
        if self.clusters is not None and cluster in self.clusters.services:
            return self.clusters.services[cluster]
        return self.services

    async def drill_into(self, name: str) -> None:
        """Many clusters: use cluster `name` from now on (its Fleet, Rules and Deploy) and show its Fleet."""
        if not isinstance(self.screen, ClustersScreen):  # a second ⏎ while the first drill-in is under way
            return
        await use_cluster(self, name)
        await self.push_screen(with_chrome(FleetScreen)())

    def header_text(self, width: int = 200) -> Text:
        engine = self.services.engine
        ds = engine.fleet.daemonset()
        ds_text = f"DS {ds.ready}/{ds.desired} ready · {ds.updated} updated" if ds else ""
        if ds and ds.certs_expire:
            ds_text += f" · {certs_text(ds.certs_expire)}"
        return health_text(
            self.health,
            context=self.services.context_name,
            clusters=clusters_badge(self.clusters) if self.clusters is not None else None,
            namespace=self.services.namespace,
            read_only=self.read_only,
            demo=self.services.demo,
            version=self._version_text(),
            daemonset=ds_text,
            error=self.engine_error,
            width=width,
            nats_creating=self.nats_creating,
        )

    def _version_text(self) -> str | None:
        """Falco version(s) across the fleet, recomputed at most once a second (rows cost per node)."""
        now = time.monotonic()
        if now - self._version_at >= 1.0:
            self._version_at = now
            self._version = _falco_version(self.services.engine)
        return self._version

    # ------------------------------------------------------------ lifecycle

    async def on_mount(self) -> None:
        self.theme = "textual-dark"
        redraw_on(self, ("engine_error", "nats_creating"), self._refresh_headers)  # the header says them
        engine = self.services.engine
        if engine.opens_fast:  # a thread: the first paint already shows what the engine holds
            try:
                await engine.open()
            except EngineError as exc:
                self.engine_error = f"engine failure: {exc}"
        await self.switch_mode("fleet")
        for problem in self.user_keymap.problems:
            self.notify(problem, title="Keymap", severity="warning", timeout=20, markup=False)
        try:  # the terminal went away (ssh dropped), or `kill`: leave cleanly, stopping the engine (a demo
            # cluster and its folder too), the terminal given back as it was
            for ending in (signal.SIGHUP, signal.SIGTERM):
                asyncio.get_running_loop().add_signal_handler(ending, self.exit)
        except (NotImplementedError, RuntimeError, ValueError):
            pass
        self.set_interval(1 / self.tick_hz, self.tick, name="engine-tick")
        for services in self._all_services():
            lend_terminal(services.engine.clients, self.run_with_terminal)
        self.run_worker(self._start_engine(), name="engine-start", exit_on_error=False)

    def _all_services(self) -> list[Services]:
        return list(self.clusters.services.values()) if self.clusters is not None else [self.services]

    async def _start_engine(self) -> None:
        try:
            if self.clusters is not None:  # each cluster starts (and retries) on its own in the worker
                await self.clusters.fleets.start()
                self.engine_running = True
                return
            if self.start_engine:
                await self.services.engine.start()
            else:
                await self.services.engine.open()
        except EngineFailed as exc:
            self.engine_error = f"engine failure: {exc}"
            return
        except EngineError as exc:
            self.engine_error = str(exc)
            self.notify(
                sanitize(str(exc), max_len=300), title="Cannot connect", severity="error", markup=False
            )
            return
        self.engine_running = True

    async def on_unmount(self) -> None:
        for services in self._all_services():
            reclaim_terminal(services.engine.clients)
        if self.clusters is not None:
            await self.clusters.fleets.stop()
        else:
            await self.services.engine.stop()

    def run_with_terminal(self, fn: Callable[[], object]) -> object:
        """Run `fn` (an exec credential plugin asking the user to log in again) with the app suspended, as
        for `$EDITOR`, from any thread; the app comes back when it returns."""
        try:
            return self.call_from_thread(self._suspended, fn)
        except RuntimeError as exc:
            if "thread" not in str(exc):  # call_from_thread refuses the app's own thread
                raise
            return self._suspended(fn)

    def _suspended(self, fn: Callable[[], object]) -> object:
        outcome: list = []
        try:
            with self.suspend():  # Textual resumes the app only when the block ends normally
                try:
                    outcome.append((True, fn()))
                except Exception as exc:
                    outcome.append((False, exc))
        except SuspendNotSupported:
            raise RuntimeError("this terminal cannot be handed over to a credential plugin") from None
        ok, value = outcome[0]
        if not ok:
            raise value
        return value

    async def tick(self) -> None:
        """One round trip to the engine, then the header and the visible screen catch up in one repaint.
        The timer waits for it: a slow answer skips ticks, it never queues them."""
        if not self.engine_running:
            self._refresh_headers()
            return
        self.ticking = True
        try:
            await self._engine_tick()
        finally:
            self.ticking = False

    async def _engine_tick(self) -> None:
        try:
            delta = await self._answer(self._tick_call())
        except EngineFailed as exc:
            self.engine_running = False
            self.engine_error = f"engine failure: {exc}"
            return
        try:
            screen = self.screen
        except ScreenStackError:  # shutting down
            return
        if delta is not None:
            self.health = delta.health
            self.last_delta = delta
            self.nats_offer.on_health(self, delta.health)
        with self.batch_update():
            self._refresh_headers()
            pending = self.ticks.publish(delta, screen) if screen.is_mounted else []
        for answer in pending:  # subscribers that ask the engine for more (an alert view)
            try:
                await answer
            except (NoMatches, EngineFailed):  # torn down mid-tick (exit, mode switch), or the engine died
                pass

    async def _tick_call(self) -> TickBatch | None:
        """One tick's round trip: the engine's, or with many clusters every cluster's and the merged
        store's at once (the batch handed on is the cluster in use's; None while it has none)."""
        if self.clusters is None:
            return await self.services.engine.tick()
        batches = await self.clusters.fleets.tick()
        return batches.get(self.clusters.current)

    async def _answer(self, call: Awaitable[TickBatch | None]) -> TickBatch | None:
        """The tick's answer; while it is late the header says the engine is not answering (no hang)."""
        task = asyncio.ensure_future(call)
        done, _ = await asyncio.wait({task}, timeout=LATE_S)
        if not done:
            late = f"the engine has not answered for {LATE_S:g} s"
            before, self.engine_error = self.engine_error, late
            try:
                return await task
            finally:
                if self.engine_error == late:
                    self.engine_error = before
        return task.result()

    def _refresh_headers(self) -> None:
        if not self.screen_stack:
            return
        for header in self.screen.query(StatusHeader):
            header.update()

    # ------------------------------------------------------------ actions

    async def action_switch_mode(self, mode: str) -> None:
        """F1-F4: the other screen as soon as it is ready. Textual's switch_mode holds every paint for a
        fixed 50 ms to hide a half-made screen (App.delay_update: a timer, later still when the machine is
        busy): most of a switch's key-to-screen time (the bare Textual baseline's median is ~59 ms). Here
        the paints are held exactly until the switch is done, a first visit's screen mounted, and the
        screen then painted at once."""
        if mode == self.current_mode:
            return
        self._switching = True
        try:
            with self.batch_update():
                await self.switch_mode(mode)
        finally:
            self._switching = False
        self.screen.refresh()

    def delay_update(self, delay: float = 0.05) -> None:
        """Textual's fixed hold on paints, except inside `action_switch_mode` (which holds them itself)."""
        if not self._switching:
            super().delay_update(delay)

    def action_action_log(self) -> None:
        """The response actions taken (and refused), newest first."""
        from falcotui.ui.alerts.response import ActionLogScreen

        if not isinstance(self.screen, ActionLogScreen):
            self.push_screen(ActionLogScreen())

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    async def show_alerts(self, query_text: str) -> None:
        """Open the Alerts screen filtered by `query_text` (filter-bar syntax; the palette's presets)."""
        await self.action_switch_mode("alerts")
        screen = self.screen
        if isinstance(screen, AlertsScreen):
            screen.apply_query(parse_query(query_text))

    async def report_alerts(self) -> None:
        """An incident report of the Alerts list as it is filtered (the palette's command; `e` `r` there)."""
        await self.action_switch_mode("alerts")
        screen = self.screen
        if isinstance(screen, AlertsScreen):
            screen.export_report()

    def offer_nats_stream(self) -> None:
        """The palette's offer to create a missing NATS stream (its configuration in a confirm dialog)."""
        self.nats_offer.offer(self)

    def set_demo_scenario(self, name: str) -> None:
        """Demo only: switch the simulated Falcos to another scenario (from the command palette)."""
        if self._on_scenario is None:
            return
        try:
            self._on_scenario(name)
        except Exception as exc:  # the simulator's loop may be gone at exit
            self.notify(sanitize(str(exc), max_len=200), severity="error", markup=False)
            return
        self.notify(f"scenario {name} from now on", title="Demo")

    def ask_namespace(self) -> None:
        """Ask for another Falco namespace; the app then ends with a `Reconnect` for the entry point."""

        def chosen(name: str | None) -> None:
            if name:
                self.reconnect(namespace=name)

        names = self.services.engine.namespace_names
        self.push_screen(NamespacePrompt(self.services.namespace, names), chosen)

    def reconnect(
        self, *, context: str | None = None, namespace: str | None = None, contexts: Sequence[str] = ()
    ) -> None:
        """End this session and ask the entry point for one on another context (or several) and/or
        namespace."""
        self.exit(Reconnect(context, namespace or self.services.namespace, tuple(contexts)))

    def ask_contexts(self) -> None:
        """`:ctx`: pick the kubeconfig contexts to follow side by side (one: a single cluster again)."""

        def chosen(names: list[str] | None) -> None:
            if names and len(names) > 1:
                self.reconnect(contexts=names)
            elif names:
                self.reconnect(context=names[0])

        current = self.clusters.names if self.clusters is not None else (self.services.context_name,)
        self.push_screen(ContextsPrompt(self.contexts, current), chosen)

    def unpushed_rules(self) -> RulesScreen | None:
        """The rules editor when it holds edits that were never pushed."""
        try:
            stack = self.get_screen_stack("rules")
        except KeyError:  # the Rules screen was never opened
            return None
        return next((s for s in stack if isinstance(s, RulesScreen) and s.modified), None)

    async def action_quit(self) -> None:
        """q: quit, but ask first when leaving would drop rules edits that were never pushed."""
        if self.unpushed_rules() is None:
            self.exit()
            return

        def answered(leave: bool | None) -> None:
            if leave:
                self.exit()

        body = "The rules editor has changes that were not pushed; quitting discards them."
        question = ConfirmDialog("Quit with unpushed rules edits?", body, confirm="Quit anyway", danger=True)
        self.push_screen(question, answered)

    def action_back(self) -> None:
        """esc: close the top screen of this mode (detail, help); on a mode's base screen, go home."""
        if len(self.screen_stack) > 1:
            self.pop_screen()
        elif self.current_mode != "fleet":
            self.run_worker(self.action_switch_mode("fleet"))


def _falco_version(engine) -> str | None:
    fleet = engine.fleet
    versions = {v for name in fleet.nodes if (row := fleet.row(name)) and (v := row.version)}
    if not versions:
        return None
    return ", ".join(sorted(versions)) if len(versions) <= 2 else f"{len(versions)} versions"
