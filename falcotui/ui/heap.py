"""The UI process's garbage-collector policy while the app runs: no full collection walks the start-up heap.

Measured with gc.callbacks in the app on a pty (bench/bench_ui_latency.py's set-up, 50 quiet nodes, F1/F2
every 0.3 s): CPython's defaults ran a full (generation 2) collection every few switches, each walking the
~150k objects of the imports (Textual, Rich, kubernetes, grpc) and taking 200–260 ms on a loaded 2-core
machine, so one key in four to seven waited for it: the "periodic stall" behind a p90 twice the bare
Textual app's. Nearly all of that heap lives as long as the process; `gc.freeze()` moves it out of the
collector's sight (CPython docs, gc.freeze: "move all objects tracked by the garbage collector into a
permanent generation, i.e. ignore them in all future collections"), so a full collection walks only what
the app made since. A repaint allocates thousands of short-lived strips and segments that reference
counting frees; a wider young generation (ops/gc_tuning.YOUNG_THRESHOLD, as in the engine's worker) runs
the young collections less often without keeping cycles around for long.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

from falcotui.ops.gc_tuning import YOUNG_THRESHOLD


@contextmanager
def steady_heap() -> Iterator[None]:
    """Collect once and freeze what exists (the imports, the services), widen the young generation; on
    leaving, unfreeze and restore the thresholds, so a next session (a reconnect) or the process's exit
    can free what this one left."""
    before = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, before[1], before[2])
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
