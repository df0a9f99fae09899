"""A simulated container's log: readers get exactly the records after the number they saw, in order, even
while the container keeps logging and the oldest records rotate out."""

from __future__ import annotations

from falcotui.sim.runtime import ContainerLog


def _texts(records) -> list[str]:
    return [rec.text for _, rec in records]


def test_a_reader_that_pauses_between_records_keeps_its_batch_while_the_container_logs_on() -> None:
    log = ContainerLog(max_records=8)
    for i in range(8):
        log.append("stdout", f"line {i}")
    batch = log.since(2)
    got = []
    for n, (seq, rec) in enumerate(batch):
        got.append((seq, rec.text))
        if n == 1:  # the log endpoint awaits a socket write here; the container logs (and rotates) meanwhile
            for i in range(8, 12):
                log.append("stdout", f"line {i}")
    assert got == [(seq, f"line {seq - 1}") for seq in range(3, 9)]
    assert _texts(log.since(8)) == ["line 8", "line 9", "line 10", "line 11"]


def test_after_rotation_a_reader_gets_what_is_left_after_its_number() -> None:
    log = ContainerLog(max_records=5)
    for i in range(12):
        log.append("stderr" if i % 2 else "stdout", f"line {i}")
    assert log.seq == 12
    assert _texts(log.since(0)) == [f"line {i}" for i in range(7, 12)]  # lines 0-6 rotated out
    assert _texts(log.since(9)) == ["line 9", "line 10", "line 11"]
    assert [seq for seq, _ in log.since(10)] == [11, 12]
    assert _texts(log.since(12)) == []
    assert [rec.stream for _, rec in log.since(10)] == ["stdout", "stderr"]
