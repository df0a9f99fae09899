"""The engine's worker process runs nicer than the UI once its engine has started (ops/engine_spawn.py
says why), and at the UI's own priority before, while its start-up is the first rows' critical path."""

from __future__ import annotations

import os

from falcotui.ops.engine_spawn import WORKER_NICE, spawn_worker, yield_to_ui


def test_the_worker_yields_to_the_ui_once_told() -> None:
    worker = spawn_worker()
    try:
        ours = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, worker.proc.pid) == ours  # starting: as fast as the UI
        yield_to_ui(worker.proc.pid)
        assert os.getpriority(os.PRIO_PROCESS, worker.proc.pid) == min(19, ours + WORKER_NICE)
        assert os.getpriority(os.PRIO_PROCESS, 0) == ours  # the UI keeps its own
    finally:
        worker.discard()  # its EOF: it exits after its imports
        worker.proc.wait(60)
