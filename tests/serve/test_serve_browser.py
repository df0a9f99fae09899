"""`falcotui serve` end to end in a real browser (Debian's headless chromium over the DevTools protocol):
the page loads with the token and shows the demo's fleet, F2 changes the screen, the token leaves the
address, closing the tab or killing the browser leaves no falcotui process behind, and a page of another
origin on the same machine cannot open the websocket even though the browser sends it the cookie."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from aiohttp import web

from tests.serve.browser import Chromium, Page, wait_until
from tests.serve.conftest import Served, command_line, descendants, still_running

pytestmark = pytest.mark.timeout(420)

#: a tab's falcotui runs the demo (its own simulated cluster): on a loaded 2-core machine, tens of seconds
APP_START = 240


def fleet_shown(text: str) -> bool:
    return "Fleet ·" in text and "sim-node-01" in text


async def open_app(browser: Chromium, served: Served) -> Page:
    """A tab on the printed address, once its falcotui shows the fleet."""
    page = await browser.new_page()
    await page.navigate(served.url)
    await page.wait_text(fleet_shown, APP_START, "the demo's fleet in the page's terminal")
    return page


async def gone(processes: dict[int, int], what: str, timeout: float = 90) -> None:
    async def alive() -> list[int]:
        return still_running(processes)

    await wait_until(alive, lambda pids: not pids, timeout, what)


@pytest.fixture
async def browser(chromium_binary: str, tmp_path: Path):
    chromium = await Chromium.launch(chromium_binary, tmp_path / "chromium-profile")
    try:
        yield chromium
    finally:
        await chromium.close()


async def test_page_shows_the_fleet_f2_switches_and_a_closed_tab_leaves_nothing(
    serve_demo: Served, browser: Chromium, tmp_path: Path
) -> None:
    page = await open_app(browser, serve_demo)
    text = await page.terminal_text()
    assert "READ-ONLY" in text and "DEMO" in text  # `serve --demo --read-only`: the options reached the tab
    # the token did its job on the first load: gone from the address; the cookie is not script-readable
    assert await page.evaluate("location.href") == serve_demo.base
    assert serve_demo.token not in await page.evaluate(
        "JSON.stringify(performance.getEntries().map(e => e.name))"
    )
    assert await page.evaluate("document.cookie") == ""
    # the policy blocks the one outside request of textual-serve's page (a Google font) and nothing else
    assert await page.evaluate("window.__csp") == [
        ["style-src-elem", "https://fonts.googleapis.com/css?family=Roboto%20Mono"]
    ]
    png = await page.screenshot(tmp_path / "fleet.png")
    if target := os.environ.get("FALCOTUI_SERVE_SCREENSHOT"):  # the picture in README "From a browser"
        Path(target).write_bytes(png)

    # a real key press into the terminal: xterm.js sends it over the websocket, the app switches screens
    await page.evaluate("document.querySelector('.xterm-helper-textarea').focus()")
    await page.press("F2")
    alerts = await page.wait_text(
        lambda t: "Alerts ·" in t and "Fleet ·" not in t, 60, "the Alerts screen after F2"
    )
    assert "PRIORITY" in alerts
    png = await page.screenshot(tmp_path / "alerts.png")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")

    # e, j: the export is written where the server runs (--export-dir reached the tab) and the browser
    # downloads it (textual's deliver_binary -> /download/<key>, through the guard with the cookie)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    await browser.allow_downloads(downloads)
    done = browser.event_waiter(
        lambda m: m.get("method") == "Browser.downloadProgress" and m["params"]["state"] == "completed"
    )
    begun = browser.event_waiter(lambda m: m.get("method") == "Browser.downloadWillBegin")
    await page.press("e")
    await page.wait_text(lambda t: "JSON lines" in t, 60, "the export menu")
    await page.press("j")
    began = (await asyncio.wait_for(begun, 60))["params"]
    await asyncio.wait_for(done, 60)
    (written,) = (tmp_path / "exports").iterdir()
    assert began["suggestedFilename"] == written.name and written.name.endswith(".jsonl")
    assert (downloads / began["guid"]).read_bytes() == written.read_bytes()
    assert "refused" not in serve_demo.log()

    tree = descendants(serve_demo.proc.pid)
    assert any("falcotui.ops.engine_worker" in " ".join(command_line(pid)) for pid in tree), tree
    await page.close()
    await gone(tree, "the closed tab's falcotui and its engine worker to end")
    assert descendants(serve_demo.proc.pid) == {}

    async def log() -> str:
        return serve_demo.log()

    await wait_until(
        log, lambda text: "closed (exit status" in text, 30, "the server's line for the closed session"
    )


async def test_a_killed_browser_and_a_stopped_server_leave_nothing(
    serve_demo: Served, chromium_binary: str, tmp_path: Path
) -> None:
    first = await Chromium.launch(chromium_binary, tmp_path / "profile-1")
    await open_app(first, serve_demo)
    tree = descendants(serve_demo.proc.pid)
    await first.kill()  # no tab closes, no websocket close frame: the connection just drops
    await gone(tree, "the dead browser's falcotui and its engine worker to end")

    second = await Chromium.launch(chromium_binary, tmp_path / "profile-2")
    try:
        await open_app(second, serve_demo)
        tree = descendants(serve_demo.proc.pid)
        assert len(serve_demo.apps()) == 1
        assert await asyncio.to_thread(serve_demo.stop) == 0  # SIGTERM: the server ends every tab's falcotui
        await gone(tree, "the stopped server's sessions to end")
    finally:
        await second.close()


async def test_another_origin_on_this_machine_is_refused(serve_demo: Served, browser: Chromium) -> None:
    # the browser holds the session cookie (the token was used in it); q in the app ends that session
    page = await open_app(browser, serve_demo)
    tree = descendants(serve_demo.proc.pid)
    await page.evaluate("document.querySelector('.xterm-helper-textarea').focus()")
    await page.press("q")
    await wait_until(
        lambda: page.evaluate("document.body.classList.contains('-closed')"),
        bool,
        60,
        "the page's 'Session ended' after q",
    )
    await gone(tree, "the quit tab's falcotui to end")

    # ...and a page of another port of 127.0.0.1 (same site: cookies do not separate ports) tries the socket
    ws_url = serve_demo.base.replace("http://", "ws://") + "ws"
    html = f"""<!doctype html><title>start</title><script>
      const ws = new WebSocket({ws_url!r});
      ws.onopen = () => {{ document.title = 'open'; }};
      ws.onclose = (e) => {{ document.title = 'closed ' + e.code; }};
    </script>"""

    async def evil(request: web.Request) -> web.Response:
        return web.Response(text=html, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", evil)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        attacker = await browser.new_page()
        await attacker.navigate(f"http://127.0.0.1:{port}/")
        title = await wait_until(
            lambda: attacker.evaluate("document.title"),
            lambda t: t.startswith(("open", "closed")),
            30,
            "the socket",
        )
        assert title == "closed 1006"  # the handshake was refused (403)
        assert "refused GET /ws" in serve_demo.log() and "Origin is not this server" in serve_demo.log()
        # a link from that page to the served one: the cookie goes with it, Sec-Fetch-Site says same-site
        await attacker.navigate_by_script(serve_demo.base)
        body = await attacker.evaluate("document.body.innerText")
        assert body.startswith("403 Forbidden") and "another origin" in body
    finally:
        await runner.cleanup()
    assert serve_demo.apps() == {}  # nothing was started for the other origin
    assert serve_demo.log().count(" opened for ") == 1  # the first tab's only


async def test_a_browser_without_the_token_gets_403(serve_demo: Served, browser: Chromium) -> None:
    page = await browser.new_page()
    await page.navigate(serve_demo.base)
    assert (await page.evaluate("document.body.innerText")).startswith("403 Forbidden: no token")
    await page.navigate(serve_demo.base + "?token=" + "x" * 43)
    assert (await page.evaluate("document.body.innerText")).startswith("403 Forbidden: wrong token")
    assert await page.terminal_text() is None  # no terminal page was served
    assert serve_demo.apps() == {}
