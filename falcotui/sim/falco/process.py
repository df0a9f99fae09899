"""One simulated Falco process, run by the Falco `ContainerRuntime` (runtime.py) for each container of a
`falcosecurity/falco:<tag>` image.

Each container boots like Falco (startup lines on stderr, `Error: ...` and exit 1 on bad config or
rules), then prints the scenario's alerts on stdout from the rules it loaded, hot-reloads when mounted
files change (`watch_config_files`; what it watches and the dry run before a restart: hot_reload.py), and on
0.43.x with gRPC enabled runs a real mTLS gRPC server.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from falcotui.sim.falco.alerts_gen import AlertGenerator, Emitted, OutputOptions
from falcotui.sim.falco.config import (
    FalcoArgs,
    FalcoConfig,
    FalcoStartupError,
    FalcoVersion,
    container_files,
    load_config,
    parse_args,
)
from falcotui.sim.falco.grpc_endpoint import GrpcEndpoint, grpc_settings
from falcotui.sim.falco.hot_reload import dry_run, load_rules, watched_files
from falcotui.sim.falco.node import (
    PERF_EVENT_DENIED_ERROR,
    PERF_EVENT_DENIED_LINES,
    perf_event_denied,
    reachable_sockets,
)
from falcotui.sim.falco.ruleset import Ruleset, disabled_by_config
from falcotui.sim.falco.startup import (
    config_lines,
    hostname_lines,
    log_time,
    plugin_lines,
    plugin_requirement_error,
    rule_selection_lines,
    rules_lines,
    run_falco_cli,
    source_lines,
    version_text,
    webserver_lines,
)
from falcotui.sim.falco.workloads import node_workloads
from falcotui.sim.nodes.container_fs import ContainerFs
from falcotui.sim.nodes.runtime import ContainerContext, ContainerLog
from falcotui.sim.scenarios import NodeEvents, stable_seed

if TYPE_CHECKING:
    from falcotui.sim.falco.runtime import FalcoRuntime

KILLED = 137
STDOUT_BUFFER = 4096  # glibc's buffer when stdout is a pipe: what a buffered Falco flushes at
HOT_RESTART_FAILURE = "Falco internal: hot restart failure"
MAX_SLEEP = 5.0
# Alerts one Falco writes per turn of the cluster's event loop: a simulator that falls behind a storm (a busy
# machine) catches up in slices, so the API server it shares the loop with still answers in between.
MAX_BATCH = 2000


@dataclass(slots=True)
class _Engine:
    """What one successful (re)start loaded."""

    config: FalcoConfig
    ruleset: Ruleset
    generator: AlertGenerator
    events: NodeEvents
    cuts: Iterator[int]
    watched: dict[str, str]
    grpc: GrpcEndpoint | None


class FalcoContainer:
    """One simulated Falco process (a `ContainerHandle`)."""

    def __init__(self, runtime: FalcoRuntime, ctx: ContainerContext, version: FalcoVersion) -> None:
        self.runtime = runtime
        self.ctx = ctx
        self.version = version
        self.log: ContainerLog = ctx.log
        self.files = container_files(runtime.image_files(version), ctx.files)
        # what exec sees and may write (the files above, as they change on reloads, plus exec's writes)
        self.fs = ContainerFs(
            lambda: self.files,
            ctx.mounts,
            read_only_root=bool((ctx.security or {}).get("readOnlyRootFilesystem")),
        )
        self.hostname = ctx.env.get("FALCO_HOSTNAME") or (ctx.node_name if ctx.host_network else ctx.pod_name)
        self.cut_generation = 0
        self.reloads = 0
        self.alerts_emitted = 0
        self._ready = False
        self._args: FalcoArgs | None = None
        self._engine: _Engine | None = None
        self._pending_files: dict[str, str] | None = None
        self._wakeup = asyncio.Event()
        self._exit: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._task: asyncio.Task | None = None
        self._stdout_buffer: list[str] = []
        self._stdout_buffered = 0
        self._buffered = False
        self._next_cut: int | None = None
        self._grpc_port = 0  # the private loopback port the gRPC server keeps across restarts
        self._log_iso8601 = False  # the logger's time format before any config is loaded (logger.cpp)
        self._seen: dict[str, str] = {}  # watched files as last seen (what inotify compares against)

    # ---- ContainerHandle -----------------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._main(), name=f"falco {self.ctx.pod_name}")

    async def wait(self) -> int:
        return await asyncio.shield(self._exit)

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        await self._shutdown()
        self._finish(KILLED)

    def files_changed(self, files: Mapping[str, str]) -> None:
        self._pending_files = container_files(self.runtime.image_files(self.version), files)
        self._wakeup.set()

    def ready(self) -> bool:
        return self._ready and not self._exit.done()

    def scenario_changed(self) -> None:
        """Take the runtime's current scenario: new event and cut streams from now on."""
        engine = self._engine
        if engine is None:
            return
        scenario, now = self.runtime.scenario, time.time_ns()
        instance = self.ctx.restart_count * 1000 + self.reloads
        engine.events = scenario.events(self.ctx.node_name, now, instance)
        engine.cuts = scenario.cuts(self.ctx.node_name, now, instance)
        self._next_cut = next(engine.cuts, None)
        self._wakeup.set()

    # ---- introspection for exec / port-forward -------------------------------------------------------
    @property
    def _clock_offset_ns(self) -> int:
        return self.ctx.clock_ns() - time.time_ns()

    @property
    def ruleset(self) -> Ruleset | None:
        return self._engine.ruleset if self._engine else None

    @property
    def grpc(self) -> GrpcEndpoint | None:
        return self._engine.grpc if self._engine else None

    def port_target(self, port: int) -> tuple[str, int] | None:
        grpc = self.grpc
        if grpc is not None and grpc.container_port == port and grpc.address is not None:
            return grpc.address
        return None

    def run_command(self, argv: list[str], files: Mapping[str, str] | None = None) -> tuple[int, str, str]:
        """`falco --version` / `falco -V FILE... [-o json_output=true]` inside this container, reading
        `files` (exec's view, with what exec wrote) or the container's own."""
        return run_falco_cli(self.version, self.files if files is None else files, argv)

    # ---- the process -----------------------------------------------------------------------------------
    async def _main(self) -> None:
        try:
            self._args = parse_args(self.ctx.args)
            if self._args.version:
                self._stdout(version_text(self.version))
                self._finish(0)
                return
            if self._args.validate:
                code, out, err = self.run_command(self.ctx.args)
                self._stderr_text(err)
                self._stdout(out)
                self._finish(code)
                return
            self._engine = await self._boot(self.files)
        except FalcoStartupError as exc:
            self._stderr_error(str(exc))
            self._finish(1)
            return
        self._ready = True
        await self._run_loop()

    async def _boot(self, files: dict[str, str]) -> _Engine:
        """Falco's startup sequence; logs as it goes and raises FalcoStartupError where Falco gives up."""
        args = self._args or FalcoArgs()
        cfg = load_config(files, args, self.version)
        self._log_iso8601 = cfg.flag("time_format_iso_8601", False)
        for line in config_lines(self.version, cfg):
            self._stderr(line)
        for line in plugin_lines(self.version, cfg):
            self._stderr(line)
        ruleset, watched = load_rules(files, cfg, args, self.version)
        for line in rules_lines(ruleset):
            self._stderr(line)
        if (missing := plugin_requirement_error(self.version, cfg, ruleset)) is not None:
            raise FalcoStartupError(missing)
        if not ruleset.ok:
            raise FalcoStartupError(ruleset.error_text().rstrip("\n"))
        for line in rule_selection_lines(cfg):
            self._stderr(line)
        for line in hostname_lines(self.ctx.env.get("FALCO_HOSTNAME")):
            self._stderr(line)
        for line in source_lines(cfg, args.disabled_sources):
            self._stderr(line)
        grpc = None
        settings = grpc_settings(cfg, self.version)
        if settings is not None:
            grpc = GrpcEndpoint(settings, self.ctx, files, self.version, self._grpc_port)
            for line in await grpc.start():
                self._stderr(line)
            if grpc.address is not None and not self.ctx.host_network:
                self._grpc_port = grpc.address[1]
        for line in webserver_lines(cfg):
            self._stderr(line)
        if perf_event_denied(self.ctx, cfg):  # process_events opens the live inspector: see node.py
            if grpc is not None:
                await grpc.stop()
            for line in PERF_EVENT_DENIED_LINES:
                self._stderr(line)
            raise FalcoStartupError(PERF_EVENT_DENIED_ERROR)
        self._buffered = (self.version.has_grpc and not args.unbuffered) or cfg.flag(
            "buffered_outputs", False
        )
        instance = self.ctx.restart_count * 1000 + self.reloads
        scenario = self.runtime.scenario
        now = time.time_ns()
        rules = ruleset.active_rules(str(cfg.get("priority", "debug")), disabled_by_config(cfg, ruleset))
        rng = random.Random(scenario.generator_seed(self.ctx.node_name, instance))
        workloads = node_workloads(random.Random(stable_seed(scenario.seed, "workloads", self.ctx.node_name)))
        generator = AlertGenerator(
            self.hostname,
            rules,
            OutputOptions.from_config(cfg),
            rng,
            workloads,
            # a context built without a node (unit tests of the process alone) has no mounts to check
            container_metadata=self.ctx.node is None or bool(reachable_sockets(self.ctx, cfg)),
        )
        cuts = scenario.cuts(self.ctx.node_name, now, instance)
        self._next_cut = next(cuts, None)
        events = scenario.events(self.ctx.node_name, now, instance)
        for path in cfg.validation:
            watched[path] = files.get(path, "")
        self._seen = dict(watched)
        return _Engine(cfg, ruleset, generator, events, cuts, watched, grpc)

    async def _run_loop(self) -> None:
        tick = self.runtime.tick
        while True:
            engine = self._engine
            assert engine is not None
            now = time.time_ns()
            batch = engine.events.due(now, MAX_BATCH)
            if batch:
                self._emit_batch(engine, batch)
            if self._next_cut is not None and self._next_cut <= now:
                self.cut_generation += 1
                self._next_cut = next(engine.cuts, None)
                if engine.grpc is not None:
                    await engine.grpc.cut()
            if self._pending_files is not None:
                if not await self._reload(self._pending_files):
                    return
                continue
            if len(batch) == MAX_BATCH:  # behind: the rest right after the others' turn, not a tick later
                await asyncio.sleep(0)
                continue
            # Sleep until the next event or cut (file changes and scenario switches wake us early), but
            # at least a tick, so that high rates are written in batches.
            due = [t for t in (engine.events.next_time(), self._next_cut) if t is not None]
            delay = (min(due) - time.time_ns()) / 1e9 if due else MAX_SLEEP
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout=min(max(delay, tick), MAX_SLEEP))
            except TimeoutError:
                pass

    def _emit_batch(self, engine: _Engine, batch: list[tuple[int, str | None]]) -> None:
        gen = engine.generator
        # the event's time is the node's clock (the kernel timestamps it), `t` is true time
        offset = self._clock_offset_ns
        to_stdout, grpc = engine.config.flag("stdout_output.enabled", True), engine.grpc
        lines: list[str] = []
        if grpc is None:  # stdout only: the lines alone (what _publish would print)
            for t, kind in batch:
                line = gen.next_line(kind, t + offset)
                if line is not None:
                    lines.append(line)
            self.alerts_emitted += len(lines)
        else:
            for t, kind in batch:
                alert = gen.next_alert(kind, t + offset)
                if alert is not None:
                    lines.append(alert.line)
                    grpc.publish(alert)
                    self.alerts_emitted += 1
        if to_stdout and lines:
            self._stdout("\n".join(lines))  # split into the same lines again: one call per batch

    def _publish(self, engine: _Engine, alert: Emitted) -> None:
        if engine.config.flag("stdout_output.enabled", True):
            self._stdout(alert.line)
        if engine.grpc is not None:
            engine.grpc.publish(alert)

    async def _reload(self, files: dict[str, str]) -> bool:
        """Apply changed files the way Falco's config watcher does; False if the process exited."""
        self._pending_files = None
        engine = self._engine
        assert engine is not None and self._args is not None
        if not engine.config.flag("watch_config_files", True) or not self._relevant_change(files):
            self.files = files
            return True
        args = self._args or FalcoArgs()
        failure, banner = dry_run(files, args, self.version, self.ctx.env.get("FALCO_HOSTNAME"))
        # The dry run is falco::app::run() with options.dry_run (create_signal_handlers.cpp): load_config,
        # load_plugins, init_falco_engine, load_rules_files... all log as at a start, so a full start-up
        # banner precedes `SIGHUP received, restarting...` (process_events.cpp); only the inspector, outputs,
        # gRPC and webserver are skipped in dry-run (start_webserver.cpp, init_outputs.cpp).
        for line in banner:
            self._stderr(line)
        if failure is not None:
            self.files = files
            alert = engine.generator.internal(
                HOT_RESTART_FAILURE, f"{HOT_RESTART_FAILURE}: {failure}", self.ctx.clock_ns()
            )
            self._publish(engine, alert)
            self._flush_stdout()
            return True
        self._stderr("SIGHUP received, restarting...")
        self._flush_stdout()
        self._ready = False
        self.reloads += 1
        self.files = files
        if engine.grpc is not None:
            await engine.grpc.stop()
        try:
            self._engine = await self._boot(files)
        except FalcoStartupError as exc:  # the dry run passed, so only the environment can fail here
            self._stderr_error(str(exc))
            self._finish(1)
            return False
        self._ready = True
        return True

    def _relevant_change(self, files: dict[str, str]) -> bool:
        """Did a file Falco watches (its config files, rules files and directories) change since the
        last look? Like inotify, an unchanged broken file does not fire again."""
        now = watched_files(files, self._args or FalcoArgs(), self.version)
        if now is None:
            return True
        changed, self._seen = now != self._seen, now
        return changed

    async def _shutdown(self) -> None:
        engine = self._engine
        if engine is not None and engine.grpc is not None:
            await engine.grpc.stop()

    def _finish(self, code: int) -> None:
        self._ready = False
        if code != KILLED:
            self._flush_stdout()
        if not self._exit.done():
            self._exit.set_result(code)
            self.log.close()
            self.runtime.forget(self)

    # ---- output ------------------------------------------------------------------------------------------
    def _stderr(self, line: str) -> None:
        self.log.append("stderr", f"{log_time(self.ctx.clock_ns() / 1e9, self._log_iso8601)}: {line}")

    def _stderr_text(self, text: str) -> None:
        for line in text.splitlines():
            self._stderr(line)

    def _stderr_error(self, message: str) -> None:
        for line in f"Error: {message}".split("\n"):
            self.log.append("stderr", line)

    def _stdout(self, text: str) -> None:
        lines = text.rstrip("\n").split("\n")
        if not self._buffered:
            for line in lines:
                self.log.append("stdout", line)
            return
        for line in lines:
            self._stdout_buffer.append(line)
            self._stdout_buffered += len(line) + 1
        if self._stdout_buffered >= STDOUT_BUFFER:
            self._flush_stdout()

    def _flush_stdout(self) -> None:
        now = time.time_ns()
        for line in self._stdout_buffer:
            self.log.append("stdout", line, now)
        self._stdout_buffer.clear()
        self._stdout_buffered = 0
