"""A simulated container's log, rotated like the kubelet's (containerLogMaxSize / containerLogMaxFiles):
followers get exactly the records after the last they read, in order, even while the container keeps
logging; a new request reads the current file only; a follower reads the file it has open to its end after
a rotation, however late, and then the current file from its start (kubelet logs.go ReadLogs), so it loses
lines only when it lags across two rotations; a rotated file is kept only while a follower has it open."""

from __future__ import annotations

import gc
import weakref

from falcotui.sim.nodes.runtime import CONTAINER_LOG_MAX_FILES, CONTAINER_LOG_MAX_SIZE, ContainerLog

RECORD = 36 + len("stdout") + len("line 0")  # one `line N` record as the CRI format writes it (N < 10)


def _texts(records) -> list[str]:
    return [rec.text for _, rec in records]


def test_kubelet_defaults() -> None:
    log = ContainerLog()
    assert (log.max_size, log.max_files) == (CONTAINER_LOG_MAX_SIZE, CONTAINER_LOG_MAX_FILES)
    assert (CONTAINER_LOG_MAX_SIZE, CONTAINER_LOG_MAX_FILES) == (10 * 1024 * 1024, 5)  # "10Mi", 5


def test_a_reader_that_pauses_between_records_keeps_its_batch_while_the_container_logs_on() -> None:
    log = ContainerLog(max_size=8 * RECORD)
    cursor = log.open()
    for i in range(8):
        log.append("stdout", f"line {i}")
    batch = cursor.read()
    got = []
    for n, (seq, rec) in enumerate(batch):
        got.append((seq, rec.text))
        if n == 1:  # the log endpoint awaits a socket write here; the container logs (and rotates) meanwhile
            for i in range(8, 10):
                log.append("stdout", f"line {i}")
    assert got == [(seq, f"line {seq - 1}") for seq in range(1, 9)]
    assert _texts(cursor.read()) == ["line 8", "line 9"] and not cursor.pending


class Looks:
    """The log manager's clock, stepped by the test: one interval passes when `tick()` is called."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def tick(self) -> None:
        self.now += 10.0


def test_a_new_request_reads_the_current_file_a_follower_finishes_the_rotated_one() -> None:
    looks = Looks()
    log = ContainerLog(max_size=5 * RECORD - 1, max_files=3, monotonic=looks)
    early, late = log.open(), log.open()
    for i in range(8):
        if i == 3:
            assert _texts(early.read()) == ["line 0", "line 1", "line 2"]
        if i == 5:
            looks.tick()  # the kubelet looks: 0.log is past its size, it rotates
        log.append("stderr" if i % 2 else "stdout", f"line {i}")
    assert log.seq == 8 and log.rotations == 1 and log.size == 3 * RECORD
    assert _texts(log.current()) == ["line 5", "line 6", "line 7"]  # `kubectl logs`: 0.log only
    assert _texts(log.open().backlog()) == ["line 5", "line 6", "line 7"]
    # a follower that had read up to line 2 when 0.log rotated reads the rest of it, then the new file
    assert _texts(early.read()) == ["line 3", "line 4", "line 5", "line 6", "line 7"]
    assert [rec.stream for _, rec in early.read()] == [] and not early.pending
    log.append("stdout", "line 8")
    assert [(seq, rec.stream) for seq, rec in early.read()] == [(9, "stdout")]
    # one that read nothing yet, ten intervals later: the whole rotated file still, then the current one
    for _ in range(10):
        looks.tick()
    log.append("stdout", "x")
    assert _texts(late.read()) == [*(f"line {i}" for i in range(9)), "x"] and log.rotations == 1


def test_a_follower_lagging_across_two_rotations_loses_the_file_between_as_the_kubelets_does() -> None:
    log = ContainerLog(max_size=3 * RECORD - 1, max_files=5, monitor_interval=0)  # a look at every write
    slow = log.open()
    texts = [f"line {i}" for i in range(9)]
    log.append("stdout", texts[0])
    assert _texts(slow.read()) == ["line 0"]
    for text in texts[1:]:
        log.append("stdout", text)
    assert log.rotations == 2  # files: 0-2, 3-5, 6-8 (rotated at the writes of line 3 and line 6)
    assert _texts(slow.read()) == ["line 1", "line 2", "line 6", "line 7", "line 8"]


def test_rotated_files_are_kept_only_while_a_follower_has_them_open() -> None:
    log = ContainerLog(max_size=5 * RECORD - 1, max_files=3, monitor_interval=0)  # a look at every write
    log.append("stdout", "line 0")
    cursor = log.open()
    held = weakref.ref(log._records)
    for i in range(1, 1000):
        log.append("stdout", f"line {i % 10}")
    assert log.rotations == 199
    assert len(log.rotated_sizes) == 2  # max_files 3: 0.log and two rotated files
    gc.collect()
    assert held() is not None  # the follower still has the first file open
    assert _texts(cursor.read())[:5] == ["line 0", "line 1", "line 2", "line 3", "line 4"]
    gc.collect()
    assert held() is None and len(log.current()) <= 5  # read to its end: let go
    log.append("stdout", "line 0")
    assert _texts(cursor.read()) == ["line 0"]
