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


class ContainerLog:
    """One container instance's log, bounded like a kubelet's rotated file (oldest lines drop first).

    Followers wait on `changed`-style polling via `seq`: every appended record gets a sequence number,
    so a reader can ask for everything after the last number it saw.
    """

    def __init__(self, max_records: int = 20_000, clock: Callable[[], int] = time.time_ns) -> None:
        # The node's container runtime stamps each line with the node's own clock (CRI log format:
        # `<RFC3339Nano> <stream> <tag> <text>`, written by containerd/CRI-O on the node).
        self._clock = clock
        self._records: deque[tuple[int, LogRecord]] = deque(maxlen=max_records)
        self._seq = 0
        self.closed = False

    @property
    def seq(self) -> int:
        return self._seq

    def append(self, stream: Stream, text: str, time_ns: int | None = None) -> None:
        self._seq += 1
        self._records.append((self._seq, LogRecord(time_ns or self._clock(), stream, text)))

    def close(self) -> None:
        """The container exited: followers finish after draining."""
        self.closed = True

    def since(self, seq: int) -> list[tuple[int, LogRecord]]:
        """Records numbered after `seq`, oldest first.

        Taken from the newest end, so a poll costs the number of new records, not the log's length; and a
        copy, so a reader may await between records while the container keeps logging.
        """
        newer = min(self._seq - seq, len(self._records))
        if newer <= 0:
            return []
        out = list(islice(reversed(self._records), newer))
        out.reverse()
        return out

    def records(self) -> list[LogRecord]:
        return [rec for _, rec in self._records]


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
