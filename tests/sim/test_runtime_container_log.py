"""A simulated container's log, rotated like the kubelet's (containerLogMaxSize / containerLogMaxFiles):
readers get exactly the records after the number they saw, in order, even while the container keeps
logging; a new request reads the current file only; a follower finishes the file rotated under it; memory
stays within two files however long the container logs."""

from __future__ import annotations

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
    for i in range(8):
        log.append("stdout", f"line {i}")
    batch = log.since(2)
    got = []
    for n, (seq, rec) in enumerate(batch):
        got.append((seq, rec.text))
        if n == 1:  # the log endpoint awaits a socket write here; the container logs (and rotates) meanwhile
            for i in range(8, 10):
                log.append("stdout", f"line {i}")
    assert got == [(seq, f"line {seq - 1}") for seq in range(3, 9)]
    assert _texts(log.since(8)) == ["line 8", "line 9"]


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
    for i in range(8):
        if i == 5:
            looks.tick()  # the kubelet looks: 0.log is past its size, it rotates
        log.append("stderr" if i % 2 else "stdout", f"line {i}")
    assert log.seq == 8 and log.rotations == 1 and log.size == 3 * RECORD
    assert _texts(log.current()) == ["line 5", "line 6", "line 7"]  # `kubectl logs`: 0.log only
    # a follower that had read up to line 2 when 0.log rotated reads the rest of it, then the new file
    assert _texts(log.since(3)) == ["line 3", "line 4", "line 5", "line 6", "line 7"]
    assert [seq for seq, _ in log.since(6)] == [7, 8]
    assert _texts(log.since(8)) == []
    assert [rec.stream for _, rec in log.since(6)] == ["stdout", "stderr"]
    looks.tick()
    log.append("stdout", "line 8")  # a look that finds 0.log small: followers left the rotated file
    assert _texts(log.since(3)) == ["line 5", "line 6", "line 7", "line 8"]


def test_memory_stays_within_two_files_and_rotated_files_are_counted() -> None:
    log = ContainerLog(max_size=5 * RECORD - 1, max_files=3, monitor_interval=0)  # a look at every write
    for i in range(1000):
        log.append("stdout", f"line {i % 10}")
    assert log.rotations == 199
    assert len(log.rotated_sizes) == 2  # max_files 3: 0.log and two rotated files
    assert len(log.since(0)) <= 10  # the current file and the one rotated last, nothing older
    assert _texts(log.since(995)) == [f"line {i % 10}" for i in range(995, 1000)]
