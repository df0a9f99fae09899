"""Fixtures for `falcotui serve`: the real command as a subprocess (its printed address and token, its log,
its process tree) and Debian's headless chromium (skipped when absent; under CI=true, a failure)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from falcotui.kube.kubectl_binary import missing_fails
from tests.serve.browser import find_chromium

CLI = [sys.executable, "-m", "falcotui"]


def _stat(pid: int) -> tuple[int, str, int] | None:
    """(ppid, state, start time in clock ticks) from /proc/PID/stat; None once the process is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), fields[0], int(fields[19])


def descendants(pid: int) -> dict[int, int]:
    """Every living descendant of `pid`: {pid: start time} (the start time tells a reused pid apart)."""
    children: dict[int, list[int]] = {}
    starts: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := _stat(int(entry))) is not None and st[1] != "Z":
            children.setdefault(st[0], []).append(int(entry))
            starts[int(entry)] = st[2]
    out: dict[int, int] = {}
    todo = list(children.get(pid, []))
    while todo:
        child = todo.pop()
        out[child] = starts[child]
        todo += children.get(child, [])
    return out


def still_running(processes: dict[int, int]) -> list[int]:
    """Those of `processes` ({pid: start time}) still alive (zombies count as gone: they run nothing)."""
    alive = []
    for pid, start in processes.items():
        st = _stat(pid)
        if st is not None and st[2] == start and st[1] != "Z":
            alive.append(pid)
    return alive


def command_line(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
    except FileNotFoundError:
        return []


@dataclass
class Served:
    """A running `falcotui serve`: its process, the address with the token it printed, its log."""

    proc: subprocess.Popen
    url: str  # as printed: http://127.0.0.1:PORT/?token=…
    log_path: Path
    lines: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}/"

    @property
    def port(self) -> int:
        return int(urlsplit(self.url).port or 0)

    @property
    def token(self) -> str:
        return self.url.rsplit("token=", 1)[1]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def apps(self) -> dict[int, int]:
        """The falcotui processes serving tabs (children of the server), {pid: start time}."""
        return {
            pid: start for pid, start in descendants(self.proc.pid).items() if _stat(pid)[0] == self.proc.pid
        }  # type: ignore[index]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait()


def start_serve(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Served:
    """`falcotui serve --port 0 ARGS`, once it has printed its address."""
    log_path = tmp_path / "serve.log"
    proc = subprocess.Popen(
        [*CLI, "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=log_path.open("w"),
        text=True,
        cwd=tmp_path,
        env=env,
    )
    lines: list[str] = []
    printed = threading.Event()

    def read() -> None:  # everything the server prints on stdout (a full pipe would stall it)
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.append(line)
            printed.set()
        printed.set()

    threading.Thread(target=read, daemon=True).start()
    printed.wait(60)
    if not lines or not lines[0].startswith("falcotui serve: http"):
        proc.kill()
        proc.wait()
        pytest.fail(f"falcotui serve printed no address: {lines!r}\n{log_path.read_text()}")
    return Served(proc, lines[0].split()[2], log_path, lines)


@pytest.fixture
def serve_demo(tmp_path: Path) -> Iterator[Served]:
    """`falcotui serve --demo --nodes 3 --read-only --export-dir DIR` (the options reach every tab)."""
    served = start_serve(tmp_path, "--demo", "--nodes", "3", "--read-only", "--export-dir", "exports")
    try:
        yield served
    finally:
        served.stop()


@pytest.fixture(scope="session")
def chromium_binary() -> str:
    """Debian's chromium (`apt-get install chromium`; .ci/run installs it). Missing: skip, or fail under
    CI=true, where the browser tests must run."""
    binary = find_chromium()
    if binary is None:
        message = "chromium not found (apt-get install -y chromium; or set CHROMIUM=/path/to/chromium)"
        if missing_fails():
            pytest.fail(f"{message}: CI=true, the browser tests fail instead of skipping", pytrace=False)
        pytest.skip(message)
    return binary
