"""The terminal goes away (an ssh session drops): `falcotui --demo` on a pseudo-terminal that is its
controlling terminal, alerts streaming (storm scenario), then the master side closed the way sshd closes
it. The process must end by itself, with status 0, no traceback and nothing left running in its session.

The child is `python -m falcotui` with two things done first (see BOOT): the pty becomes its controlling
terminal (so the kernel sends SIGHUP and SIGCONT at the hangup, as for a login session), and Python's
`sys.stderr` goes to a file. Textual draws on the real file descriptor 2 (the pty), so the file receives
only what Python itself reports: tracebacks, exceptions in threads, "Exception ignored" at shutdown.
"""

from __future__ import annotations

import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs POSIX pseudo-terminals")

REPO = Path(__file__).resolve().parents[2]
DRAWN_WITHIN_S = 60.0  # the demo cluster starts and deploys first; 2 busy cores can make that slow
EXIT_WITHIN_S = 30.0
F2 = b"\x1bOQ"  # a hang detector, not a speed target (it takes 2-4 s)

BOOT = """
import faulthandler, fcntl, runpy, signal, sys, termios
fcntl.ioctl(0, termios.TIOCSCTTY, 0)
sys.stderr = open(sys.argv[1], "w", buffering=1)
faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True)
sys.argv = ["falcotui", *sys.argv[2:]]
runpy.run_module("falcotui", run_name="__main__", alter_sys=True)
"""


def read_until(fd: int, needles: list[bytes], deadline: float) -> bytes:
    """Everything the app wrote to the terminal until all `needles` appeared (or the deadline)."""
    seen = b""
    while time.monotonic() < deadline and not all(n in seen for n in needles):
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the child closed the terminal: it exited
                break
            if not chunk:
                break
            seen += chunk
    return seen


def session_members(sid: int) -> list[int]:
    """Processes still in session `sid` (the child started its own session)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[3]) == sid:  # after "pid (comm)": state, ppid, pgrp, session
            members.append(int(entry.name))
    return members


def spawn_on_pty(log: Path, *args: str, **environ: str) -> tuple[subprocess.Popen, int]:
    """`falcotui ARGS` on a new 80x24 pty that is its controlling terminal (BOOT), in a session of its own;
    returns the process and the pty's master side."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = dict(os.environ, TERM="xterm-256color", GRPC_VERBOSITY="NONE", **environ)
    child = subprocess.Popen(
        [sys.executable, "-c", BOOT, str(log), *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=REPO,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    return child, master


def test_falcotui_leaves_cleanly_when_the_terminal_hangs_up(tmp_path):
    """Before the fix this hung about half the time: the dead tty killed Textual's writer thread and the
    app then blocked on its full output queue (see `falcotui.cli.tui_cmd._VanishingTerminal`)."""
    log = tmp_path / "python-stderr.txt"
    child, master = spawn_on_pty(log, "--demo", "--nodes", "3", "--scenario", "storm")
    master_open = True
    try:
        screen = read_until(master, [b"Fleet", b"nodes", b"F2"], time.monotonic() + DRAWN_WITHIN_S)
        assert b"Fleet" in screen and b"nodes" in screen, f"fleet screen never drawn:\n{log.read_text()}"

        os.write(master, F2)  # the Alerts screen: it repaints on every tick while the storm goes on
        screen = read_until(master, [b"shown"], time.monotonic() + DRAWN_WITHIN_S)
        assert b"shown" in screen, f"the alerts screen never came:\n{log.read_text()}"
        read_until(master, [b"\x00 not expected"], time.monotonic() + 1.0)  # let the storm flow a moment
        os.close(master)  # what sshd does when the connection drops; the kernel hangs the tty up
        master_open = False
        try:
            status = child.wait(timeout=EXIT_WITHIN_S)
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGUSR1)  # where is it stuck? (faulthandler writes to the log)
            time.sleep(1.0)
            pytest.fail(f"falcotui kept running after the terminal went away:\n{log.read_text()[-6000:]}")

        stderr = log.read_text()
        assert "starting a simulated cluster" in stderr  # the log really is Python's stderr
        assert status == 0, stderr
        assert "Traceback" not in stderr and "Exception" not in stderr and "Error" not in stderr, stderr
        assert session_members(child.pid) == []  # no simulator or helper process left behind
    finally:
        if master_open:
            os.close(master)
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()


def test_falcotui_leaves_cleanly_on_sigterm(tmp_path):
    """`kill PID` (SIGTERM): the same clean end as a hangup — status 0, no traceback, nothing left in its
    session, the demo cluster's folder removed — and the terminal given back (the alternate screen left)."""
    log = tmp_path / "python-stderr.txt"
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    child, master = spawn_on_pty(log, "--demo", "--nodes", "2", TMPDIR=str(tmp))
    try:
        screen = read_until(master, [b"Fleet", b"nodes", b"F2"], time.monotonic() + DRAWN_WITHIN_S)
        assert b"Fleet" in screen and b"nodes" in screen, f"fleet screen never drawn:\n{log.read_text()}"
        assert [p.name for p in tmp.iterdir() if p.name.startswith("falcotui-demo")], "the demo's folder"
        child.send_signal(signal.SIGTERM)
        after = read_until(master, [b"\x1b[?1049l"], time.monotonic() + EXIT_WITHIN_S)
        try:
            status = child.wait(timeout=EXIT_WITHIN_S)
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGUSR1)
            time.sleep(1.0)
            pytest.fail(f"falcotui kept running after SIGTERM:\n{log.read_text()[-6000:]}")
        stderr = log.read_text()
        assert status == 0, stderr
        assert "Traceback" not in stderr and "Exception" not in stderr, stderr
        assert b"\x1b[?1049l" in after  # the alternate screen left: the shell's screen is back
        assert session_members(child.pid) == []
        assert [p.name for p in tmp.iterdir() if p.name.startswith("falcotui-demo")] == []
    finally:
        os.close(master)
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
