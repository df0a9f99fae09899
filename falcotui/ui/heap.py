"""The UI process's garbage-collector policy while the app runs: no full collection at a random moment.

Measured with gc.callbacks in the app on a pty (bench/bench_ui_latency.py's set-up, F1/F2 every 0.3 s):
with CPython's defaults a full (generation 2) collection ran every few switches, walking the ~150k
objects of the imports (Textual, Rich, kubernetes, grpc) and taking 200–260 ms on a loaded 2-core
machine, so one key in four to seven waited for it: the "periodic stall" behind a p90 twice the bare
Textual app's. Most of that heap lives as long as the process; `gc.freeze()` moves it out of the
collector's sight (CPython docs, gc.freeze: "move all objects tracked by the garbage collector into a
permanent generation, i.e. ignore them in all future collections"). What the app holds after start-up
still grows with the cluster: at 1,000 nodes a full collection still took 30–120 ms of CPU, eleven of them
in a 20 s run with the default thresholds; and a ten times wider young generation (as in the engine's
worker, ops/gc_tuning.py) made the middle generation's collections walk ~100k objects (up to 95 ms).

So: the young and middle generations keep CPython's thresholds (their collections stay around a
millisecond), automatic full collections are off (a generation-2 threshold never reached), and a thread
runs one full collection every FULL_EVERY_S — at a time no key chose, costing a key only if it lands in
those few tens of ms, and bounding what a reference cycle can hold on to. A repaint's thousands of strips
and segments are freed by reference counting; cycles are rare (a traceback, a closed connection).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

FULL_EVERY_S = 30.0
#: a generation-2 threshold (collections of generation 1 between full ones) that is never reached
NEVER = 2**30


@contextmanager
def steady_heap(full_every_s: float = FULL_EVERY_S) -> Iterator[None]:
    """Collect once and freeze what exists (the imports, the services), stop automatic full collections
    and run one every `full_every_s` on a thread; on leaving, stop it, unfreeze and restore the
    thresholds, so a next session (a reconnect) or the process's exit can free what this one left."""
    before = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(before[0], before[1], NEVER)
    stop = threading.Event()

    def collect() -> None:
        while not stop.wait(full_every_s):
            gc.collect()

    thread = threading.Thread(target=collect, name="falcotui-gc", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        gc.unfreeze()
        gc.set_threshold(*before)
