"""Building blocks of the streaming readers: line splitting and reconnect backoff."""

from __future__ import annotations

import random

import pytest

from falcotui.kube.streams import Backoff, LineSplitter


def test_line_splitter_handles_any_chunking() -> None:
    data = b'{"type":"ADDED"}\r\n{"type":"MODIFIED"}\n\n{"type":"DEL'
    for size in range(1, len(data) + 1):
        s = LineSplitter()
        lines = []
        for i in range(0, len(data), size):
            lines += s.feed(data[i : i + size])
        assert lines == [b'{"type":"ADDED"}', b'{"type":"MODIFIED"}', b""]
        assert s.pending == b'{"type":"DEL'


def test_backoff_grows_is_capped_jittered_and_resets() -> None:
    b = Backoff(base=0.1, cap=2.0, jitter=0.5, rng=random.Random(1))
    delays = [b.next_delay() for _ in range(12)]
    ceilings = [min(2.0, 0.1 * 2**i) for i in range(12)]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert max(delays) <= 2.0 and len(set(delays)) == len(delays)
    b.reset()
    assert b.next_delay() <= 0.1
    with pytest.raises(ValueError):
        Backoff(base=0)
