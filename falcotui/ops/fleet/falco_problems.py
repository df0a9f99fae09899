"""Node problems that only Falco's own output reveals, each with what it means and the ways out.

A Node object does not show a host's sysctls or which container runtime socket exists, so falcotui reads them
from what Falco prints: its log lines (`PERF_EVENT_PARANOID`) and the alerts it emits (`NO_RUNTIME_SOCKET`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from falcotui.falco.alerts import Alert


class ProblemKind(StrEnum):
    PERF_EVENT_PARANOID = "perf-event-paranoid"
    NO_RUNTIME_SOCKET = "no-runtime-socket"
    # What the Kubernetes API shows (ops/rollout_problems.py)
    ADMISSION = "admission-refused"
    UNTOLERATED_TAINT = "untolerated-taint"
    NOT_LINUX = "not-linux"
    PULL_RATE_LIMIT = "registry-rate-limit"


@dataclass(frozen=True, slots=True)
class FalcoProblem:
    kind: ProblemKind
    summary: str  # one line for a grid cell or an `apply` report
    remedies: tuple[str, ...]  # the ways out, one line each
    evidence: str = ""  # the log line or the alert that shows it


# falcosecurity/charts#921: with the least-privilege capabilities (BPF, SYS_RESOURCE, PERFMON, SYS_PTRACE)
# modern_ebpf fails at start with `[libs]: libbpf: tracepoint 'syscalls/sys_enter_connect' perf_event_open()
# failed: Permission denied` on hosts whose kernel.perf_event_paranoid is above 2 (Ubuntu's default is 4):
# those kernels refuse perf_event_open() without CAP_SYS_ADMIN. The only ways past it are a lower sysctl or
# CAP_SYS_ADMIN (what the chart's default `privileged: true` gives).
PERF_EVENT_REMEDIES = (
    "set kernel.perf_event_paranoid=2 on the node (sysctl, /etc/sysctl.d)",
    "or deploy privileged: falcotui apply --privileged (every capability)",
)


def perf_event_problem(line: str) -> FalcoProblem | None:
    """The problem a Falco log line proves, if it is libbpf's perf_event_open EACCES."""
    if "perf_event_open() failed: Permission denied" in line or (
        "failed to create tracepoint" in line and "perf event: Permission denied" in line
    ):
        return FalcoProblem(
            ProblemKind.PERF_EVENT_PARANOID,
            "kernel.perf_event_paranoid > 2: modern_ebpf needs CAP_SYS_ADMIN",
            PERF_EVENT_REMEDIES,
            line.strip(),
        )
    return None


# The container plugin fills container.* (but the id and start time, which come from the kernel) and k8s.*
# from the container runtime's socket; without one it has no value for them and Falco prints `<NA>`
# (falcosecurity/plugins plugins/container/src/caps/extract/extract.cpp). One such alert can be a lookup
# delay ("In cases of lookup delays, it may not be available yet", plugins/container/README.md); several in
# a row with none that has metadata is a node whose runtime socket Falco cannot reach.
METADATA_FIELDS = (
    "container.name",
    "container.image.repository",
    "container.image",
    "k8s.pod.name",
    "k8s.ns.name",
)
MISSING_STREAK = 3
RUNTIME_SOCKET_REMEDIES = (
    "mount its runtime socket under /host (manifests/README.md, Mounts)",
    "or set the container plugin's engines.<engine>.sockets to its path",
)
_NO_VALUE = (None, "", "<NA>")
_ABSENT = object()


def container_metadata(alert: Alert) -> bool | None:
    """True if an alert from a container carries runtime metadata, False if it lacks it, None if the alert
    says nothing either way (a host event, or no container/k8s field in its output)."""
    return fields_metadata(alert.output_fields, alert.source)


def fields_metadata(fields: Mapping, source: str) -> bool | None:
    """`container_metadata` of an alert with these output fields and source (for a consumer that has
    them from a JSON line and builds no Alert)."""
    cid = fields.get("container.id")
    if source == "internal" or cid in _NO_VALUE or cid == "host":
        return None
    found = None  # no metadata field in the output (yet): says nothing
    for name in METADATA_FIELDS:  # a plain loop: this runs for every alert ingested
        value = fields.get(name, _ABSENT)
        if value is not _ABSENT:
            if value not in _NO_VALUE:
                return True
            found = False
    return found


def runtime_socket_problem(alert: Alert) -> FalcoProblem:
    return FalcoProblem(
        ProblemKind.NO_RUNTIME_SOCKET,
        "no container metadata: runtime socket not reachable (<NA> fields)",
        RUNTIME_SOCKET_REMEDIES,
        f"{alert.rule}: container.id={alert.output_fields.get('container.id')} with <NA> name/image/pod",
    )


def explain_log(lines: list[str]) -> FalcoProblem | None:
    """The problem a crashed Falco's last log lines show, if one this module knows."""
    for line in lines:
        found = perf_event_problem(line)
        if found is not None:
            return found
    return None
