"""Garbage-collector settings for a process whose steady work is ingesting alerts (the engine's worker,
`falcotui alerts -f`).

CPython runs a young-generation collection every 700 new container objects by default; in a storm that is
one every ~200 alerts, and every few hundred of them a full collection walks the whole heap: every module
imported at start-up and every alert in the store. Measured on `alerts -f --json` over a 5,000 alerts/s
storm (bench/bench_cpu_per_alert.py's set-up): 17% of the process's CPU went to the collector with the
defaults, 6% with these settings. Alerts are plain data that reference counting frees; the collector is
only needed for the rare cycle (an exception's traceback, a closed connection's callbacks), which a larger
young generation still finds, a few thousand objects later.
"""

from __future__ import annotations

import gc

#: new container objects between young collections (CPython's default: 700)
YOUNG_THRESHOLD = 10_000


def tune_for_ingest() -> None:
    """Call once, after start-up (imports done, the engine started): what exists now is collected once,
    then frozen (`gc.freeze`: never walked again by full collections), and the young generation widened."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, 10, 10)
