"""The UI session's GC policy (ui/heap.py): the start-up heap is frozen while the app runs, released after."""

from __future__ import annotations

import gc

from falcotui.ops.gc_tuning import YOUNG_THRESHOLD
from falcotui.ui.heap import steady_heap


def test_steady_heap_freezes_start_up_and_gives_it_back() -> None:
    before = gc.get_threshold()
    start_up = [object() for _ in range(10)], {"kept": [1, 2]}  # containers alive before the session
    with steady_heap():
        assert gc.get_freeze_count() >= len(gc.get_referents(start_up))
        assert gc.is_tracked(start_up) and not any(start_up is o for o in gc.get_objects(0))
        assert gc.get_threshold() == (YOUNG_THRESHOLD, before[1], before[2])
    assert gc.get_freeze_count() == 0  # a reconnect's next session, or the exit, can free this one's heap
    assert gc.get_threshold() == before
