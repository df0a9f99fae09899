"""The seam between the simulated kubelet and what runs inside a simulated container.

The kubelet (`kubelet.py`) owns pod lifecycles, volumes and logs; a `ContainerRuntime` decides what a
container of a given image does (the simulated Falco for `falcosecurity/falco:*`, an idle process for
anything else). The kubelet starts a container with a `ContainerContext`, waits for its exit code, and
calls `files_changed` when a ConfigMap/Secret volume update has propagated to the pod.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import Literal, Protocol

from falcotui.sim.config import NodeSpec

Stream = Literal["stdout", "stderr"]


@dataclass(slots=True)
class LogRecord:
    time_ns: int
    stream: Stream
    text: str


#: The kubelet's defaults (KubeletConfiguration reference, kubelet.config.k8s.io/v1beta1:
#: `containerLogMaxSize` "10Mi", `containerLogMaxFiles` 5, `containerLogMonitorInterval` "10s";
#: pkg/kubelet/apis/config/v1beta1/defaults.go).
CONTAINER_LOG_MAX_SIZE = 10 * 1024 * 1024
CONTAINER_LOG_MAX_FILES = 5
CONTAINER_LOG_MONITOR_INTERVAL = 10.0


class ContainerLog:
    """One container instance's log, rotated like the kubelet's: past `max_size` bytes the current file
    (`0.log`) is rotated out and a new one starts; at most `max_files` files exist.

    What the API serves follows the kubelet (pkg/kubelet/kuberuntime/logs/logs.go, ReadLogs): a new
    `kubectl logs` request reads the current file only (the docs: "only the contents of the latest log file
    will be available through kubectl logs"); a follower (`open()`, a LogCursor) keeps the file it opened
    and reads it to its end even after the kubelet rotated it away (an open file outlives its rename), and
    only there reopens the log's path: the current file, from its start. So a follower that lags loses
    nothing across one rotation, and a follower that lags across two loses the file in between, as the
    kubelet's does. A rotated file stays in memory only while a follower still has it open; older ones
    leave only their sizes (the kubelet keeps them on disk, where no API reads them).

    The kubelet's log manager (pkg/kubelet/logs/container_log_manager.go) looks every
    `containerLogMonitorInterval` and rotates a file that is past `max_size`: a file may overshoot until
    the next look, and a file rotates at most once per interval. Here the look happens at the first write
    after each interval has passed, which is the same rotation.

    Every appended record gets a sequence number, so a reader can ask for everything after the last
    number it saw.
    """

    def __init__(
        self,
        max_size: int = CONTAINER_LOG_MAX_SIZE,
        max_files: int = CONTAINER_LOG_MAX_FILES,
        clock: Callable[[], int] = time.time_ns,
        *,
        monitor_interval: float = CONTAINER_LOG_MONITOR_INTERVAL,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        # The node's container runtime stamps each line with the node's own clock (CRI log format:
        # `<RFC3339Nano> <stream> <tag> <text>`, written by containerd/CRI-O on the node).
        self._clock = clock
        self.max_size = max_size
        self.max_files = max(1, max_files)
        self._records: deque[tuple[int, LogRecord]] = deque()  # the current file
        self._first_seq = 1  # the sequence number of the current file's first record
        self._size = 0  # bytes of the current file, as the CRI format writes them
        self.rotated_sizes: deque[int] = deque(maxlen=self.max_files - 1)  # rotated files kept on disk
        self.rotations = 0
        self.monitor_interval = monitor_interval
        self._monotonic = monotonic  # when the log manager looks (tests step it)
        self._next_look = monotonic() + monitor_interval
        self._seq = 0
        self.closed = False

    @property
    def seq(self) -> int:
        return self._seq

    def append(self, stream: Stream, text: str, time_ns: int | None = None) -> None:
        # `2026-11-26T09:02:17.123456789Z stdout F <text>\n`: 31 + stream + 3 + text + newline
        size = 36 + len(stream) + (len(text) if text.isascii() else len(text.encode("utf-8", "replace")))
        if (now := self._monotonic()) >= self._next_look:
            self._next_look = now + self.monitor_interval
            if self._size > self.max_size:
                self._rotate()
        self._seq += 1
        self._records.append((self._seq, LogRecord(time_ns or self._clock(), stream, text)))
        self._size += size

    def _rotate(self) -> None:
        """`0.log` becomes `0.log.<timestamp>` and a new `0.log` starts (the oldest beyond `max_files` is
        removed); followers that have the old file open keep it (LogCursor)."""
        if self.max_files > 1:
            self.rotated_sizes.append(self._size)
        self._records = deque()
        self._first_seq = self._seq + 1
        self._size = 0
        self.rotations += 1

    def close(self) -> None:
        """The container exited: followers finish after draining."""
        self.closed = True

    def open(self) -> LogCursor:
        """A follower's cursor on the current file, before any of it is read (see LogCursor)."""
        return LogCursor(self)

    def current(self) -> list[tuple[int, LogRecord]]:
        """The current file's records (what a new log request reads), oldest first."""
        return list(self._records)

    def records(self) -> list[LogRecord]:
        """The current file's records."""
        return [rec for _, rec in self._records]

    @property
    def size(self) -> int:
        """Bytes of the current file."""
        return self._size


class LogCursor:
    """A follower's open log file (kubelet logs.go ReadLogs with `follow`): `backlog()` is the file as it
    was opened, `read()` what was written after the last record handed out. When the kubelet has rotated
    the file away, `read()` hands out the rest of it, then reopens the log's path: the current file, from
    its start (any file rotated in between is skipped, as the kubelet's follower skips it). A batch is a
    copy, so a reader may await between records while the container keeps logging."""

    __slots__ = ("_file", "_first", "_log", "seq")

    def __init__(self, log: ContainerLog) -> None:
        self._log = log
        self._file = log._records  # the open file: stays readable after a rotation replaced it
        self._first = log._first_seq
        self.seq = log._first_seq - 1  # the last record handed out

    def backlog(self) -> list[tuple[int, LogRecord]]:
        """The open file from its start (what a new request reads first); the cursor moves to its end."""
        out = list(self._file)
        if out:
            self.seq = out[-1][0]
        return out

    @property
    def pending(self) -> bool:
        """Records to read: new ones, or a rotation to follow."""
        return self.seq != self._log._seq or self._file is not self._log._records

    def read(self) -> list[tuple[int, LogRecord]]:
        """The records after the last one handed out, oldest first (taken from the newest end of the
        current file, so a poll costs the number of new records, not the file's length)."""
        log, file = self._log, self._file
        if file is log._records:
            newer = log._seq - self.seq
            if newer <= 0:
                return []
            out = list(islice(reversed(file), newer))
            out.reverse()
        else:  # rotated under it: the rest of the open file, then the log's path reopened
            out = list(islice(file, max(0, self.seq + 1 - self._first), None))
            self._file, self._first = log._records, log._first_seq
            out.extend(log._records)
        if out:
            self.seq = out[-1][0]
        return out


@dataclass(slots=True)
class ContainerContext:
    namespace: str
    pod_name: str
    pod_uid: str
    node_name: str
    node_ip: str
    container_name: str
    image: str
    args: list[str]
    env: dict[str, str]
    # Mounted files: absolute path inside the container -> content (ConfigMap/Secret keys at mountPath/key).
    files: dict[str, str]
    host_network: bool
    restart_count: int
    log: ContainerLog
    ports: list[dict] = field(default_factory=list)
    security: dict = field(default_factory=dict)  # the container's securityContext from the pod spec
    host_paths: dict[str, str] = field(default_factory=dict)  # mountPath -> host path (hostPath volumes)
    mounts: dict[str, bool] = field(default_factory=dict)  # mountPath -> writable (every volume mount)
    node: NodeSpec | None = None  # the node's facts a process can see (sysctls, runtime sockets)
    clock_ns: Callable[[], int] = time.time_ns  # the node's wall clock


class ContainerHandle(Protocol):
    async def wait(self) -> int:
        """Exit code once the container's main process ends."""

    async def stop(self) -> None:
        """Kill the container (pod deleted, node gone); `wait()` then returns 137."""

    def files_changed(self, files: Mapping[str, str]) -> None:
        """A volume update reached the pod; `files` is the full new set of mounted files."""

    def ready(self) -> bool:
        """What the readiness/liveness probes would say right now."""


class ContainerRuntime(Protocol):
    async def start(self, ctx: ContainerContext) -> ContainerHandle: ...
