"""The UI session's GC policy (ui/heap.py): the start-up heap frozen, no automatic full collection, one
on a timer; all given back after."""

from __future__ import annotations

import gc
import threading

from falcotui.ui.heap import NEVER, steady_heap


def test_steady_heap_freezes_start_up_and_gives_it_back() -> None:
    before = gc.get_threshold()
    start_up = [object() for _ in range(10)], {"kept": [1, 2]}  # containers alive before the session
    with steady_heap():
        assert gc.get_freeze_count() >= len(gc.get_referents(start_up))
        assert not any(start_up is o for o in gc.get_objects(0))
        assert gc.get_threshold() == (before[0], before[1], NEVER)
    assert gc.get_freeze_count() == 0  # a reconnect's next session, or the exit, can free this one's heap
    assert gc.get_threshold() == before
    assert not any(t.name == "falcotui-gc" for t in threading.enumerate())


def test_steady_heap_collects_cycles_on_its_timer() -> None:
    full = threading.Event()

    def seen(phase: str, info: dict) -> None:
        if phase == "stop" and info["generation"] == 2:
            full.set()

    gc.callbacks.append(seen)
    try:
        with steady_heap(full_every_s=0.05):
            full.clear()  # steady_heap's own first collection does not count
            assert full.wait(30)
    finally:
        gc.callbacks.remove(seen)
