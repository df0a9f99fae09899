"""The web server of `falcotui serve`: textual-serve's aiohttp application behind the guard, one falcotui
process per browser connection, and nothing left running once a tab goes away.

Upstream facts this rests on (textual-serve 1.1.3, textual_serve/server.py and app_service.py):
- `Server._make_app` builds the routes `/`, `/ws`, `/download/{key}` and `/static`; `handle_index` renders
  `app_index.html` with absolute URLs from the server's `public_url`, `handle_websocket` starts one
  `AppService` per websocket and stops it when the socket's message loop ends.
- `AppService` starts the command with `asyncio.create_subprocess_shell` (a shell parses it) and runs it
  with `TEXTUAL_DRIVER=textual.drivers.web_driver:WebDriver`; `stop()` sends the `quit` meta packet and
  waits, without a limit, for the process's output to end: a process that does not quit is waited for
  forever, and processes it started are not its concern.

So here: the app is started without a shell (`create_subprocess_exec`, argv as a list: no quoting of the
user's options by hand) in a session and process group of its own; stopping sends `quit`, waits `grace`
seconds, then SIGTERM and SIGKILL to the whole group (the engine's worker, the demo's simulated cluster).
The page's URLs come from the request's own Host (checked by the guard), so `localhost` and `127.0.0.1`
both work; the number of sessions is capped; the server's shutdown stops every session the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import signal
import socket
import ssl
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

from falcotui.cli.serve_guard import GuardPolicy, install_guard

log = logging.getLogger("falcotui.serve")

#: environment variables a served app must not inherit (the token it is protected by)
PRIVATE_ENV = ("FALCOTUI_SERVE_TOKEN",)
#: the terminal a browser may ask for, in cells (the page asks for what fits its window)
MAX_COLUMNS, MAX_ROWS = 500, 300


class ServedApp(AppService):
    """One falcotui process for one browser connection, in its own process group."""

    def __init__(
        self, argv: Sequence[str], *, grace: float, env: Mapping[str, str] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(shlex.join(argv), **kwargs)
        self.argv = list(argv)
        self.env = dict(env or {})  # what the app gets on top of the server's environment (its secrets)
        self.grace = grace
        self.pid: int | None = None
        self._stopping: asyncio.Task[int | None] | None = None

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        env = super()._build_environment(width, height)
        for name in PRIVATE_ENV:
            env.pop(name, None)
        env.update(self.env)
        return env

    async def _open_app_process(self, width: int = 80, height: int = 24) -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._build_environment(width=width, height=height),
            start_new_session=True,  # its own process group: everything it starts can be ended with it
        )
        assert process.stdin is not None
        self._process = process
        self._stdin = process.stdin
        self.pid = process.pid
        return process

    async def stop(self) -> int | None:  # type: ignore[override]
        """Quit the app, wait for it and its process group; the exit status (None if it never started).
        Safe to call more than once and from several tasks; survives the caller's cancellation."""
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._stop())
        return await asyncio.shield(self._stopping)

    async def _stop(self) -> int | None:
        process = self._process
        if process is None:
            return None
        drain = None
        if self._task is not None and self._task.done() and process.stdout is not None:
            # upstream's reader ended (the browser went away while the app was writing): read on, or the
            # app blocks on a full stdout pipe and never gets to quit
            drain = asyncio.ensure_future(_drain(process.stdout))
        try:  # upstream's stop: the quit packet, then it waits for the app's output to end
            await asyncio.wait_for(super().stop(), self.grace)
        except (TimeoutError, Exception):
            pass
        wait = 0.5
        if drain is None and process.returncode is None and process.stdout is not None:
            # upstream's reader was stuck sending to a browser that no longer reads (and is cancelled now):
            # the app is still writing, so read on while it quits
            drain = asyncio.ensure_future(_drain(process.stdout))
            wait = self.grace
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), wait)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if not _group_alive(process.pid):
                break
            log.warning("session pid %s: %s to its process group", process.pid, sig.name)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, sig)
            await _wait_group_gone(process.pid, self.grace)
        if self._task is not None:  # upstream's reader task ends with the process's output
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
            self._task = None
        if drain is not None:
            drain.cancel()
        return await process.wait()


async def _drain(stream: asyncio.StreamReader) -> None:
    with contextlib.suppress(Exception):
        while await stream.read(65536):
            pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def _wait_group_gone(pgid: int, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay = 0.02
    while _group_alive(pgid) and loop.time() < deadline:
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.25)


class FalcotuiServer(Server):
    """textual-serve's Server behind the guard, running `argv` per connection (see the module docstring)."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        sock: socket.socket,
        policy: GuardPolicy,
        env: Mapping[str, str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        max_sessions: int = 4,
        grace: float = 5.0,
        heartbeat: float = 15.0,
    ) -> None:
        host, port = sock.getsockname()[:2]
        super().__init__(shlex.join(argv), host=host, port=port, title="falcotui")
        self.sock = sock
        self.argv = list(argv)
        self.env = dict(env or {})  # each app's own entries (serve_cmd: the options that carry a secret)
        self.policy = policy
        self.ssl_context = ssl_context
        self.max_sessions = max_sessions
        self.grace = grace
        self.heartbeat = heartbeat
        self.sessions: set[ServedApp] = set()
        self._runner: web.AppRunner | None = None

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        install_guard(app, self.policy)
        app.on_shutdown.append(self._stop_sessions)
        return app

    async def on_startup(self, app: web.Application) -> None:
        """(upstream prints a logo and the command line here; `falcotui serve` prints its address itself)"""

    async def start(self) -> None:
        """Serve on the socket given (bound by the caller, so that the port is known before the policy)."""
        self._runner = web.AppRunner(await self._make_app(), handle_signals=False, access_log=None)
        await self._runner.setup()
        await web.SockSite(self._runner, self.sock, ssl_context=self.ssl_context).start()

    async def close(self) -> None:
        """Stop listening, end every session (their process groups included), close the connections."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _stop_sessions(self, app: web.Application) -> None:
        await asyncio.gather(*(s.stop() for s in list(self.sessions)), return_exceptions=True)

    async def handle_index(self, request: web.Request) -> web.Response:  # type: ignore[override]
        """The page, with its static and websocket URLs on the Host the browser used (checked by the
        guard), so that the session cookie set for that host goes with them."""
        scheme = "https" if self.ssl_context is not None else "http"
        base = f"{scheme}://{request.host}"
        context = {
            "font_size": max(6, min(to_int(request.query.get("fontsize", "16"), 16), 48)),
            "app_websocket_url": f"{'wss' if scheme == 'https' else 'ws'}://{request.host}/ws",
            "config": {"static": {"url": f"{base}/static/"}},
            "application": {"name": "falcotui"},
        }
        return aiohttp_jinja2.render_template("app_index.html", request, context)

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """One app process for this websocket, ended when the socket closes (tab closed, browser gone, or
        no answer to the heartbeat ping: a dead network)."""
        if len(self.sessions) >= self.max_sessions:
            log.warning("refused a session from %s: %d running", request.remote, len(self.sessions))
            raise web.HTTPServiceUnavailable(text=f"falcotui serve: {len(self.sessions)} sessions running\n")
        websocket = web.WebSocketResponse(heartbeat=self.heartbeat, max_msg_size=1 << 20)
        width = max(1, min(to_int(request.query.get("width", "80"), 80), MAX_COLUMNS))
        height = max(1, min(to_int(request.query.get("height", "24"), 24), MAX_ROWS))
        service = ServedApp(
            self.argv,
            grace=self.grace,
            env=self.env,
            write_bytes=websocket.send_bytes,
            write_str=websocket.send_str,
            close=websocket.close,
            download_manager=self.download_manager,
        )
        self.sessions.add(service)  # counted before the first await: two upgrades at once cannot both fit
        try:
            await websocket.prepare(request)
            await service.start(width, height)
            log.info("session pid %s opened for %s (%dx%d)", service.pid, request.remote, width, height)
            await self._process_messages(websocket, service)
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # a malformed message from the page ends its session, not the server
            log.warning("session pid %s: %s", service.pid, exc)
        finally:
            status = await service.stop()
            self.sessions.discard(service)
            log.info("session pid %s closed (exit status %s)", service.pid, status)
            with contextlib.suppress(Exception):
                await websocket.close()
        return websocket


async def serve_until_stopped(server: FalcotuiServer, on_listening: Callable[[], None]) -> None:
    """Run `server` until SIGINT or SIGTERM, then stop it and every session."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await server.start()
        on_listening()
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await server.close()
