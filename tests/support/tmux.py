"""A real terminal for the tests: one private tmux server (its own socket) with one detached session of a
fixed size, keys sent with send-keys, the screen read with capture-pane; only this server is ever killed,
and what the pane started that outlives the hang-up is killed by its pid."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path


class Tmux:
    """`Tmux(80, 24)`; `start(command)`, `keys(...)`, `wait_text(...)`, `wait_gone(...)`, `close()`."""

    def __init__(self, width: int, height: int, *, name: str = "falcotui-test") -> None:
        self.socket = f"{name}-{uuid.uuid4().hex[:8]}"
        self.session = "s"
        self.size = (width, height)

    def run(self, *args: str, check: bool = True) -> str:
        out = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=20)
        if check and out.returncode:
            raise AssertionError(f"tmux {args}: {out.stderr}")
        return out.stdout

    def start(self, command: str) -> None:
        w, h = self.size
        self.run(
            "-f", "/dev/null", "new-session", "-d", "-s", self.session, "-x", str(w), "-y", str(h), command
        )

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", self.session, *keys)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.session, check=False)

    def wait(self, predicate, what: str, timeout: float = 40.0) -> str:
        """The screen once `predicate(screen)` holds (AssertionError with the screen after `timeout` s)."""
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.screen()
            if predicate(text):
                return text
            time.sleep(0.2)
        raise AssertionError(f"{what}: not on screen after {timeout}s:\n{text}")

    def wait_text(self, *needles: str, timeout: float = 40.0) -> str:
        return self.wait(lambda t: all(n in t for n in needles), repr(needles), timeout)

    def wait_gone(self, needle: str, timeout: float = 20.0) -> str:
        return self.wait(lambda t: needle not in t, f"{needle!r} still shown", timeout)

    def close(self) -> None:
        """Kill the server; whatever the pane started and outlives the hangup is killed by its pid."""
        started = children(self.run("list-panes", "-t", self.session, "-F", "#{pane_pid}", check=False))
        self.run("kill-server", check=False)
        deadline = time.monotonic() + 10
        while started and time.monotonic() < deadline:
            started = [pid for pid in started if Path(f"/proc/{pid}").exists()]
            time.sleep(0.2)
        for pid in started:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def children(pane_pid: str) -> list[int]:
    """The processes whose parent is the pane's shell (from /proc), i.e. falcotui."""
    if not pane_pid.strip().isdigit():
        return []
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
        except (OSError, ValueError):
            continue
        if entry.name.isdigit() and stat.rsplit(")", 1)[1].split()[1] == pane_pid.strip():
            found.append(int(entry.name))
    return found
