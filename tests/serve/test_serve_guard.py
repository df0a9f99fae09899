"""`falcotui serve`'s door over real HTTP and websocket connections (no browser needed): the token, the
cookie it becomes, Host and Origin checks on every route, a supplied token never printed nor passed on,
the session cap, a browser that stops answering; and what the command refuses before it listens."""

from __future__ import annotations

import asyncio
import os
import ssl
import subprocess
from pathlib import Path

import aiohttp
import pytest

from falcotui.cli import build_parser
from falcotui.cli.serve_cmd import forwarded_argv
from falcotui.falco.certs import generate_grpc_certs
from tests.serve.browser import wait_until
from tests.serve.conftest import CLI, Served, descendants, start_serve, still_running

pytestmark = pytest.mark.timeout(300)

TOKEN = "supplied-token-0123456789-abcdefghij"


@pytest.fixture
def served(tmp_path: Path):
    env = dict(os.environ, FALCOTUI_SERVE_TOKEN=TOKEN)
    s = start_serve(tmp_path, "--demo", "--nodes", "2", "--max-sessions", "1", "--heartbeat", "1", env=env)
    try:
        yield s
    finally:
        s.stop()


async def get(url: str, **headers: str) -> tuple[int, dict, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, headers=headers, allow_redirects=False) as response,
    ):
        return response.status, dict(response.headers), await response.text()


async def ws_status(url: str, **headers: str) -> int:
    """The status of a websocket handshake (101 when it opens; the socket is closed at once)."""
    async with aiohttp.ClientSession() as session:
        try:
            async with session.ws_connect(url, headers=headers):
                return 101
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status


async def test_token_cookie_host_and_origin(served: Served) -> None:
    base, port = served.base, served.port
    assert served.lines[0].strip() == f"falcotui serve: {base} (add ?token= and the token you supplied)"
    assert TOKEN not in served.log()

    status, headers, body = await get(base)
    assert status == 403
    assert body == "403 Forbidden: no token (open the address falcotui serve printed, with its ?token=)\n"
    assert (
        headers["Cache-Control"] == "no-store"
        and "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    )
    for path in ("static/js/textual.js", "static/", "download/x", "ws"):
        assert (await get(base + path))[0] == 403, path
    assert (await get(base + "?token=" + TOKEN[:-1] + "X"))[2] == "403 Forbidden: wrong token\n"
    assert (await get(base + "?token=" + TOKEN, Host=f"rebound.example:{port}"))[2].endswith(
        "unknown Host header\n"
    )

    status, headers, _ = await get(base + "?fontsize=20&token=" + TOKEN)
    assert status == 303 and headers["Location"] == "/?fontsize=20"
    cookie = headers["Set-Cookie"]
    name, value = cookie.split(";")[0].split("=", 1)
    assert name == f"falcotui_serve_{port}" and TOKEN not in value and len(value) == 64
    assert {"HttpOnly", "Path=/", "SameSite=Strict"} <= {p.strip() for p in cookie.split(";")[1:]}
    jar = f"{name}={value}"

    status, _, page = await get(base, Cookie=jar)
    assert status == 200 and f'data-session-websocket-url="ws://127.0.0.1:{port}/ws"' in page
    assert TOKEN not in page
    status, _, page = await get(f"http://localhost:{port}/", Cookie=jar)  # URLs follow the Host used
    assert status == 200 and f"ws://localhost:{port}/ws" in page
    assert (await get(base, Cookie=f"{name}={'0' * 64}"))[0] == 403
    status, headers, _ = await get(base + "download/no-such-key", Cookie=jar)
    assert status == 404 and headers["Content-Security-Policy"].endswith(
        "; sandbox"
    )  # files the app hands over
    assert (await get(base + "static/css/xterm.css", Authorization=f"Bearer {TOKEN}"))[0] == 200

    ws = base.replace("http://", "ws://") + "ws"
    origin = base.rstrip("/")
    assert await ws_status(ws, Cookie=jar) == 403  # no Origin
    assert await ws_status(ws, Cookie=jar, Origin="http://evil.example") == 403
    assert await ws_status(ws, Cookie=jar, Origin="null") == 403
    assert await ws_status(ws, Cookie=jar, Origin=f"http://127.0.0.1:{port + 1}") == 403
    assert await ws_status(ws, Origin=origin) == 403  # no cookie
    assert served.apps() == {}


async def test_a_browser_that_stops_answering_loses_its_session(served: Served) -> None:
    jar = (await get(served.base + "?token=" + TOKEN))[1]["Set-Cookie"].split(";")[0]
    ws, origin = served.base.replace("http://", "ws://") + "ws", served.base.rstrip("/")
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(ws, headers={"Cookie": jar, "Origin": origin}, autoping=False) as socket,
    ):
        # the app starts: it is the same falcotui, without the token in its environment
        apps = await wait_until(_apps(served), bool, 60, "the app")
        (pid,) = apps

        async def environ() -> list[bytes]:  # once exec'd (right after the fork it is still the server's)
            return Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")

        driver = b"TEXTUAL_DRIVER=textual.drivers.web_driver:WebDriver"
        environ = await wait_until(environ, lambda env: driver in env, 30, "the app's own environment")
        assert not [e for e in environ if e.startswith(b"FALCOTUI_SERVE_TOKEN=")]
        assert await ws_status(ws, Cookie=jar, Origin=origin) == 503  # --max-sessions 1
        tree = descendants(served.proc.pid)
        # this client never answers the server's pings (autoping off) nor reads: a dead network
        await wait_until(
            _alive(tree), lambda alive: not alive, 90, "the unanswered session's processes to end"
        )
        assert not socket.closed or socket.close_code is not None

    async def log() -> str:
        return served.log()

    await wait_until(log, lambda text: "closed (exit status" in text, 30, "the server's line for the session")


def _apps(served: Served):
    async def probe() -> dict[int, int]:
        return served.apps()

    return probe


def _alive(tree: dict[int, int]):
    async def probe() -> list[int]:
        return still_running(tree)

    return probe


def test_forwarded_options_before_and_after_serve() -> None:
    args = build_parser().parse_args(
        ["--read-only", "--context", "c1", "serve", "--port", "0", "--demo", "--nodes", "3", "-n", "sec",
         "--context", "c2",
         "--keymap", "k.yaml", "--alerts-from", "nats://n:4222", "--user=-u-"]
    )  # fmt: skip
    assert forwarded_argv(args) == [
        "--context=c1",
        "--context=c2",
        "--namespace=sec",
        "--read-only",
        "--demo",
        "--nodes=3",
        "--keymap=k.yaml",
        "--alerts-from=nats://n:4222",
        "--user=-u-",
    ]
    plain = build_parser().parse_args(["serve"])
    assert forwarded_argv(plain) == []


def run_serve(
    tmp_path: Path, *args: str, env: dict | None = None, stdin: str = ""
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, "serve", "--port", "0", *args], capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env=env, input=stdin,
    )  # fmt: skip


def test_refused_before_listening(tmp_path: Path) -> None:
    short = tmp_path / "token"
    short.write_text("too-short\n")
    r = run_serve(tmp_path, "--demo", "--token-file", str(short))
    assert r.returncode == 2 and "--token-file: a token needs at least 20 characters" in r.stderr
    env = dict(os.environ, FALCOTUI_SERVE_TOKEN=TOKEN)
    r = run_serve(tmp_path, "--demo", "--token-file", "-", env=env, stdin=TOKEN + "\n")
    assert r.returncode == 2 and "both supply a token" in r.stderr
    r = run_serve(tmp_path, "--demo", "--max-alerts", "0")
    assert r.returncode == 2 and "--max-alerts must be at least 1" in r.stderr
    r = run_serve(tmp_path, "--kubeconfig", str(tmp_path / "missing"))
    assert r.returncode == 1 and "falcotui serve --demo" in r.stderr
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: a\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\nusers: [{name: u, user: {}}]\n"
        "contexts: [{name: a, context: {cluster: c, user: u}}]\n"
    )
    r = run_serve(tmp_path, "--kubeconfig", str(kubeconfig), "--context", "a", "--context", "nope")
    assert r.returncode == 2 and "--context: no context named nope in the kubeconfig" in r.stderr
    r = run_serve(tmp_path, "--demo", "--tls-cert", str(short))
    assert r.returncode == 2 and "--tls-cert and --tls-key go together" in r.stderr
    assert r.stdout == ""  # nothing listened, no address printed


def test_token_file_and_a_warning_off_loopback(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    served = start_serve(tmp_path, "--demo", "--host", "0.0.0.0", "--token-file", str(token_file))
    try:
        assert served.lines[0].endswith("(add ?token= and the token you supplied)\n")
        log = served.log()
        assert "warning: listening on 0.0.0.0, not loopback" in log and "clear" in log
        status, _, _ = asyncio.run(get(served.base + "?token=" + TOKEN))
        assert status == 303
    finally:
        served.stop()
    assert still_running(descendants(served.proc.pid)) == []


async def test_https_secure_cookie_and_wss_origin(tmp_path: Path) -> None:
    certs = generate_grpc_certs(("127.0.0.1", "localhost"))
    (tmp_path / "crt.pem").write_bytes(certs.server_crt)
    (tmp_path / "key.pem").write_bytes(certs.server_key)
    served = start_serve(tmp_path, "--demo", "--tls-cert", "crt.pem", "--tls-key", "key.pem")
    try:
        assert served.url.startswith("https://127.0.0.1:")
        tls = ssl.create_default_context(cadata=certs.ca_crt.decode())
        connector = aiohttp.TCPConnector(ssl=tls)
        async with aiohttp.ClientSession(connector=connector) as session:
            async with session.get(served.url, allow_redirects=False) as response:
                assert response.status == 303
                cookie = response.headers["Set-Cookie"]
            assert "Secure" in {p.strip() for p in cookie.split(";")}
            jar = cookie.split(";")[0]
            async with session.get(served.base, headers={"Cookie": jar}) as response:
                assert f"wss://127.0.0.1:{served.port}/ws" in await response.text()
            wss, https_origin = served.base.replace("https://", "wss://") + "ws", served.base.rstrip("/")
            http_origin = https_origin.replace("https://", "http://")
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(wss, headers={"Cookie": jar, "Origin": http_origin})
            assert refused.value.status == 403
            async with session.ws_connect(wss, headers={"Cookie": jar, "Origin": https_origin}) as socket:
                await wait_until(_apps(served), bool, 60, "the app behind wss")
                tree = descendants(served.proc.pid)
                await socket.close()
            await wait_until(
                _alive(tree), lambda alive: not alive, 90, "the closed session's processes to end"
            )
    finally:
        served.stop()
