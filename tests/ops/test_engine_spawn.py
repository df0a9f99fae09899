"""The engine's worker process runs nicer than the UI (ops/engine_spawn.py says why)."""

from __future__ import annotations

import os

from falcotui.ops.engine_spawn import WORKER_NICE, spawn_worker


def test_the_worker_runs_nicer_than_the_ui() -> None:
    worker = spawn_worker()
    try:
        ours = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, worker.proc.pid) == min(19, ours + WORKER_NICE)
        assert os.getpriority(os.PRIO_PROCESS, 0) == ours  # the UI keeps its own
    finally:
        worker.discard()  # its EOF: it exits after its imports
        worker.proc.wait(60)
