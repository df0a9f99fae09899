"""Start the engine's worker process, and nothing else: standard library only, so `falcotui` can call it
first thing and the worker's imports (the Kubernetes and gRPC clients, ~1.3 s) overlap with the UI's own.

The worker (`python -m falcotui.ops.engine_worker FD`) gets one end of a socket pair as FD and no
terminal: stdin and stdout are /dev/null (the UI owns the screen), stderr an anonymous file whose tail is
shown if the worker dies. What engine to build it learns later, over the link (ops/engine_placement.py).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import IO


@dataclass
class SpawnedWorker:
    """A worker process just started: its process, the UI's end of the socket pair, its stderr file."""

    proc: subprocess.Popen
    ui_end: socket.socket
    stderr: IO[bytes]
    spawned_at: float  # time.monotonic() at the spawn

    def discard(self) -> None:
        """Not needed after all: closing our end is the worker's EOF (it exits after its imports)."""
        self.ui_end.close()
        self.stderr.close()


def spawn_worker(python: str = sys.executable) -> SpawnedWorker:
    """Start `python -m falcotui.ops.engine_worker FD` with its end of a new socket pair."""
    ui_end, child_end = socket.socketpair()
    stderr = tempfile.TemporaryFile(prefix="falcotui-engine-")
    spawned_at = time.monotonic()
    env = dict(os.environ, GRPC_VERBOSITY=os.environ.get("GRPC_VERBOSITY", "NONE"))
    try:
        proc = subprocess.Popen(
            [python, "-m", "falcotui.ops.engine_worker", str(child_end.fileno())],
            pass_fds=(child_end.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=env,
            close_fds=True,
        )
    except BaseException:
        ui_end.close()
        stderr.close()
        raise
    finally:
        child_end.close()
    return SpawnedWorker(proc, ui_end, stderr, spawned_at)
