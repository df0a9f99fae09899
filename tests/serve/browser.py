"""A real browser for the tests: Debian's headless chromium driven over the Chrome DevTools Protocol.

Why this driver: the protocol is chromium's own (no new Python dependency, no driver binary of another
version to match), and `--remote-debugging-pipe` carries it over two pipes (fd 3: commands in, fd 4:
replies and events out, each message JSON ended by a NUL byte) instead of a TCP port that any local
process could connect to and drive. Selenium would add a dependency plus chromedriver; Playwright a
Node.js driver of its own. Flags: those /work/.library's python machine notes list as working on this
closed network (--disable-background-networking etc.), plus a fresh --user-data-dir per browser.

`Page.terminal_text()` reads what xterm.js shows: textual-serve's page keeps its `Terminal` inside a
closure, so a script run before the page's own (Page.addScriptToEvaluateOnNewDocument) notes the object
on which xterm's constructor sets `_core` (its public Terminal sets `this._core = new CoreBrowserTerminal`)
and the text is read from its active buffer, row by row, as xterm renders it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from falcotui.cli.report_screenshots import CHROMIUM_FLAGS as HEADLESS_FLAGS

#: The closed-network flags (shared with the report's screenshots) plus what a driven browser needs.
CHROMIUM_FLAGS = (
    *HEADLESS_FLAGS,
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-default-apps",
    "--mute-audio",
    "--window-size=1280,800",
    "--remote-debugging-pipe",
)

#: run in every page before its own scripts: keep a handle on xterm's Terminal (see the module docstring)
TERMINAL_HOOK = """
Object.defineProperty(Object.prototype, '_core', {
  configurable: true, enumerable: false,
  get() { return undefined; },
  set(value) {
    Object.defineProperty(this, '_core', {value, writable: true, configurable: true, enumerable: false});
    if (typeof this.loadAddon === 'function' && typeof this.write === 'function') { window.__term = this; }
  },
});
"""

#: run in every page too: the Content-Security-Policy violations it reports, as (directive, blocked URI)
CSP_WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__csp.push([e.effectiveDirective, e.blockedURI]));
"""

READ_TERMINAL = """(() => {
  const t = window.__term;
  if (!t) { return null; }
  const b = t.buffer.active, rows = [];
  for (let y = 0; y < t.rows; y++) {
    const line = b.getLine(b.viewportY + y);
    rows.push(line ? line.translateToString(true) : '');
  }
  return rows.join('\\n');
})()"""

#: DevTools key codes (Input.dispatchKeyEvent): key, code, windowsVirtualKeyCode
KEYS = {
    "F1": ("F1", "F1", 112),
    "F2": ("F2", "F2", 113),
    "Escape": ("Escape", "Escape", 27),
    "Enter": ("Enter", "Enter", 13),
    "q": ("q", "KeyQ", 81),
    "e": ("e", "KeyE", 69),
    "j": ("j", "KeyJ", 74),
}


def find_chromium() -> str | None:
    """The chromium binary: $CHROMIUM, else `chromium` on PATH (Debian's package: /usr/bin/chromium)."""
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


class BrowserError(RuntimeError):
    """The browser answered a command with an error, or went away."""


class Chromium:
    """One headless chromium process and its DevTools pipe."""

    def __init__(self, proc: subprocess.Popen, reader: asyncio.StreamReader, write_fd: int) -> None:
        self.proc = proc
        self._reader = reader
        self._write_fd = write_fd
        self._next_id = 0
        self._pending: dict[int, asyncio.Future] = {}
        self._events: list[dict] = []
        self._event_waiters: list[tuple[Callable[[dict], bool], asyncio.Future]] = []
        self._read_task = asyncio.ensure_future(self._read_loop())

    @classmethod
    async def launch(cls, binary: str, user_data_dir: Path) -> Chromium:
        cmd_r, cmd_w = os.pipe()  # our commands -> chromium's fd 3
        out_r, out_w = os.pipe()  # chromium's fd 4 -> our replies

        def child_fds() -> None:  # runs in the child between fork and exec
            high_r, high_w = os.dup(cmd_r), os.dup(out_w)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        proc = subprocess.Popen(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={user_data_dir}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # dup2 leaves fds 3 and 4 inheritable; close_fds would close them after preexec_fn. Every other
            # descriptor Python opened is close-on-exec already.
            preexec_fn=child_fds,
            close_fds=False,
        )
        os.close(cmd_r)
        os.close(out_w)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=64 << 20)
        await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(out_r, "rb", buffering=0)
        )
        browser = cls(proc, reader, cmd_w)
        await browser.send("Target.setDiscoverTargets", {"discover": True})
        return browser

    async def _read_loop(self) -> None:
        try:
            while True:
                raw = await self._reader.readuntil(b"\0")
                message = json.loads(raw[:-1])
                if "id" in message:
                    future = self._pending.pop(message["id"], None)
                    if future is not None and not future.done():
                        future.set_result(message)
                    continue
                self._events.append(message)
                for match, waiter in list(self._event_waiters):
                    if not waiter.done() and match(message):
                        waiter.set_result(message)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(BrowserError("chromium went away"))

    async def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Send a DevTools command; its result (BrowserError on an error reply)."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        future = asyncio.get_running_loop().create_future()
        self._pending[self._next_id] = future
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self._write_fd, data) :]
        reply = await asyncio.wait_for(future, 60)
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    async def allow_downloads(self, directory: Path) -> None:
        """Save downloads into `directory`, each under its download's guid; progress events on."""
        params = {"behavior": "allowAndName", "downloadPath": str(directory), "eventsEnabled": True}
        await self.send("Browser.setDownloadBehavior", params)

    def event_waiter(self, match: Callable[[dict], bool]) -> asyncio.Future:
        """A future for the first event from now on that `match`es."""
        future = asyncio.get_running_loop().create_future()
        self._event_waiters.append((match, future))
        return future

    async def new_page(self, *, incognito: bool = False) -> Page:
        """A new tab on about:blank, attached, with the terminal hook installed (and its own cookie jar
        when `incognito`)."""
        params: dict[str, Any] = {"url": "about:blank"}
        if incognito:
            params["browserContextId"] = (await self.send("Target.createBrowserContext"))["browserContextId"]
        target = (await self.send("Target.createTarget", params))["targetId"]
        session = (await self.send("Target.attachToTarget", {"targetId": target, "flatten": True}))[
            "sessionId"
        ]
        page = Page(self, target, session)
        await page.send("Page.enable")
        await page.send("Runtime.enable")
        for script in (TERMINAL_HOOK, CSP_WATCH):
            await page.send("Page.addScriptToEvaluateOnNewDocument", {"source": script})
        return page

    async def kill(self) -> None:
        """SIGKILL: the browser dies as a crashed or force-quit one does, without closing anything."""
        self.proc.kill()
        await asyncio.get_running_loop().run_in_executor(None, self.proc.wait)
        await self.close()

    async def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(BrowserError, TimeoutError):
                await asyncio.wait_for(self.send("Browser.close"), 10)
            try:
                await asyncio.get_running_loop().run_in_executor(None, self.proc.wait, 10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        with contextlib.suppress(OSError):
            os.close(self._write_fd)
        self._read_task.cancel()
        with contextlib.suppress(BaseException):
            await self._read_task


class Page:
    """One tab, attached over a flat DevTools session."""

    def __init__(self, browser: Chromium, target_id: str, session_id: str) -> None:
        self.browser = browser
        self.target_id = target_id
        self.session_id = session_id

    async def send(self, method: str, params: dict | None = None) -> dict:
        return await self.browser.send(method, params, self.session_id)

    async def navigate(self, url: str) -> None:
        """Load `url` and wait for its load event."""
        loaded = self.browser.event_waiter(
            lambda m: m.get("method") == "Page.loadEventFired" and m.get("sessionId") == self.session_id
        )
        result = await self.send("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise BrowserError(f"navigate {url}: {result['errorText']}")
        await asyncio.wait_for(loaded, 60)

    async def navigate_by_script(self, url: str) -> None:
        """Load `url` as the page itself would (a link: `location.href = url`), and wait for its load event.
        Unlike `navigate` (the user typing an address: Sec-Fetch-Site none), the request says where from."""
        loaded = self.browser.event_waiter(
            lambda m: m.get("method") == "Page.loadEventFired" and m.get("sessionId") == self.session_id
        )
        await self.evaluate(f"location.href = {json.dumps(url)}; true")
        await asyncio.wait_for(loaded, 60)

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = await self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression[:60]}…: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    async def terminal_text(self) -> str | None:
        """What the page's terminal shows now, one line per row; None before the terminal exists."""
        return await self.evaluate(READ_TERMINAL)

    async def wait_text(self, predicate: Callable[[str], bool], timeout: float, what: str) -> str:
        """The terminal's text once `predicate` holds for it (AssertionError with the last text if not)."""
        return await wait_until(self.terminal_text, lambda t: t is not None and predicate(t), timeout, what)

    async def press(self, key: str) -> None:
        """A real key press (keyDown then keyUp) into whatever has the focus."""
        name, code, vk = KEYS[key]
        base = {"key": name, "code": code, "windowsVirtualKeyCode": vk, "nativeVirtualKeyCode": vk}
        # a printable key is a keyDown with its text (what a keyboard sends); others a rawKeyDown
        down = {"type": "keyDown", "text": name} if len(name) == 1 else {"type": "rawKeyDown"}
        for event in (down, {"type": "keyUp"}):
            await self.send("Input.dispatchKeyEvent", {**base, **event})

    async def click(self, x: float, y: float) -> None:
        for kind in ("mousePressed", "mouseReleased"):
            await self.send(
                "Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}
            )

    async def screenshot(self, path: Path) -> bytes:
        data = base64.b64decode((await self.send("Page.captureScreenshot", {"format": "png"}))["data"])
        path.write_bytes(data)
        return data

    async def close(self) -> None:
        """Close the tab, as a user closing it does."""
        await self.browser.send("Target.closeTarget", {"targetId": self.target_id})


async def wait_until(
    probe: Callable[[], Awaitable[Any]], predicate: Callable[[Any], bool], timeout: float, what: str
) -> Any:
    """Poll `probe` until `predicate(value)`: that value (else AssertionError: `what`, the last value)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    value: Any = None
    while True:
        value = await probe()
        if predicate(value):
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last seen:\n{value}")
        await asyncio.sleep(0.1)
