"""Runs `falcotui` with its event loop's thread timed: each callback's CPU time (thread CPU, not wall time,
so a loaded machine changes it little) and when it ended, written as JSON to $FALCOTUI_CPU_LOG at exit.

Used by bench/bench_ui_cpu.py as `python bench/ui_cpu_probe.py --kubeconfig …` with the checkout under test
first on PYTHONPATH; it changes nothing in the app but the timing wrapper around asyncio's Handle._run.
"""

from __future__ import annotations

import asyncio.events
import atexit
import json
import os
import sys
import threading
import time

_LOG: list[tuple[float, float]] = []  # (monotonic end, thread CPU seconds) of each loop callback
_run = asyncio.events.Handle._run


def _timed_run(self: asyncio.events.Handle) -> None:
    if threading.current_thread() is not threading.main_thread():
        _run(self)
        return
    cpu = time.thread_time()
    try:
        _run(self)
    finally:
        _LOG.append((time.monotonic(), time.thread_time() - cpu))


def _dump() -> None:
    path = os.environ.get("FALCOTUI_CPU_LOG")
    if path:
        with open(path, "w") as out:
            json.dump(_LOG, out)


def main() -> int:
    asyncio.events.Handle._run = _timed_run  # type: ignore[method-assign]
    atexit.register(_dump)
    from falcotui.cli import main as falcotui_main

    try:
        return falcotui_main(sys.argv[1:])
    finally:
        _dump()


if __name__ == "__main__":
    sys.exit(main())
