"""Start the engine's worker process, and nothing else: standard library only, so `falcotui` can call it
first thing and the worker's imports (the Kubernetes and gRPC clients, ~1.3 s) overlap with the UI's own.

The worker (`python -m falcotui.ops.engine_worker FD`) gets one end of a socket pair as FD and no
terminal: stdin and stdout are /dev/null (the UI owns the screen), stderr an anonymous file whose tail is
shown if the worker dies. What engine to build it learns later, over the link (ops/engine_placement.py).

Once its engine has started (the fleet's first rows are in), the worker runs WORKER_NICE steps nicer
than the UI (`yield_to_ui`; before that, its start-up is the first rows' critical path). The UI is the
interactive process: a key is handled and painted in a few ms of CPU, and the UI's CPU is bounded (one
paint per tick at most), while the worker takes whatever an alert storm asks (~70% of a core at 20k
alerts/s from 50 nodes). When both want the same core (a laptop busy with builds, a 2-core jump host),
Linux's CFS shares it by weight (nice 0: 1024, nice 5: 335, kernel/sched/core.c sched_prio_to_weight), so
the key waits about a third as long behind ingest; with a core free the worker runs at full speed, and a
worker that falls behind shows in the header's lag. A nice value only goes up for an unprivileged
process: the UI keeps its own.
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

#: how much nicer (lower CPU priority) than the UI the worker runs; see the module docstring
WORKER_NICE = 5


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


def yield_to_ui(pid: int) -> None:
    """Run process `pid` (the worker, once its engine has started) WORKER_NICE steps nicer than this one:
    each of its threads, as Linux keeps a nice value per thread (setpriority(2), BUGS: "under the current
    Linux/NPTL implementation of POSIX threads, the nice value is a per-thread attribute"); threads it
    starts later inherit their creator's."""
    nice = os.getpriority(os.PRIO_PROCESS, 0) + WORKER_NICE
    try:
        threads = [int(tid) for tid in os.listdir(f"/proc/{pid}/task")]
    except OSError:  # no /proc (not Linux): the process's own value
        threads = [pid]
    for tid in threads:
        try:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
        except OSError:  # gone already (the worker reports that over the link), or no priorities here
            pass
