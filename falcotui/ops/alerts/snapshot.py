"""One-shot reads of the cluster for the headless CLI: the fleet as it is now, and what the Falco pods'
logs hold for a time window (no watches, no follow).

`take_snapshot()` lists nodes, Falco pods and the DaemonSet into a `FleetState`, then reads every Falco
pod's log for the window (and, with `previous`, the crashed instance's log before it) into an `AlertHub`,
so alerts, Falco versions and reloads come out exactly as the live engine would show them. Each pod's log
is read in a worker thread, a few at a time.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from falcotui.falco.loglines import LineKind, LogLineClassifier
from falcotui.kube.client import KubeClients
from falcotui.kube.errors import KubeError
from falcotui.kube.logs import (
    container_status,
    has_logs,
    pick_container,
    read_log_bytes,
    since_time_param,
    split_timestamp,
)
from falcotui.kube.resources import DAEMONSETS, FALCO_SELECTOR, NODES, PODS
from falcotui.ops.alerts.hub import AlertHub
from falcotui.ops.alerts.store import AlertStore
from falcotui.ops.fleet.model import FleetState

HEAD_BYTES = 64 * 1024  # Falco prints its version in its first few lines


@dataclass
class Snapshot:
    hub: AlertHub
    fleet: FleetState
    pods: list[dict]
    since_ns: int | None
    errors: dict[str, str] = field(default_factory=dict)  # pod -> why its log could not be read
    read_pods: list[str] = field(default_factory=list)  # pods whose log was read


def _read(clients: KubeClients, pod: dict, container: str, query: list[tuple[str, object]]) -> bytes:
    meta = pod.get("metadata") or {}
    return read_log_bytes(
        clients, meta.get("namespace"), meta.get("name"), [("container", container), *query]
    )


def read_pod_log(
    clients: KubeClients,
    pod: dict,
    *,
    since_ns: int | None = None,
    previous: bool = False,
    tail_lines: int | None = None,
    container: str | None = None,
) -> list[tuple[int, str]]:
    """Blocking: (ts_ns, line) of one Falco pod's log from `since_ns` on (exactly: the server's `sinceTime`
    is whole seconds, the rest is filtered here)."""
    container = pick_container(pod, container)
    query: list[tuple[str, object]] = [("timestamps", "true")]
    if previous:
        query.append(("previous", "true"))
    if since_ns is not None:
        query.append(("sinceTime", since_time_param(since_ns)))
    if tail_lines is not None:
        query.append(("tailLines", tail_lines))
    out = []
    for raw in _read(clients, pod, container, query).split(b"\n"):
        parts = split_timestamp(raw)
        if parts is not None and (since_ns is None or parts[0] >= since_ns):
            out.append((parts[0], parts[1].decode(errors="replace")))
    return out


def read_falco_version(clients: KubeClients, pod: dict, container: str | None = None) -> str | None:
    """Blocking: the Falco version the container printed when it started (from the head of its log)."""
    data = _read(clients, pod, pick_container(pod, container), [("limitBytes", HEAD_BYTES)])
    classifier = LogLineClassifier()
    for raw in data.split(b"\n"):
        line = classifier.classify(raw.decode(errors="replace"))
        if line.kind is LineKind.VERSION:
            return line.version
    return None


def _pod_logs(
    clients: KubeClients, pod: dict, since_ns: int | None, previous: bool, version: bool
) -> tuple[list[tuple[int, str]], str | None]:
    """The crashed instance's lines (if any), then the current one's; whatever part can be read. A
    crash-looping container may have no current log while its previous one says why it failed."""
    container = pick_container(pod, "falco")
    lines: list[tuple[int, str]] = []
    st = container_status(pod, container) or {}
    failures: list[KubeError] = []
    reads = [True, False] if previous and int(st.get("restartCount") or 0) > 0 else [False]
    for prev in reads:
        try:
            lines.extend(read_pod_log(clients, pod, since_ns=since_ns, previous=prev, container=container))
        except KubeError as exc:
            failures.append(exc)
    if len(failures) == len(reads):
        raise failures[-1]
    found = None
    if version:
        try:
            found = read_falco_version(clients, pod, container)
        except KubeError:
            found = None
    return lines, found


async def take_snapshot(
    clients: KubeClients,
    namespace: str = "falco",
    *,
    since_ns: int | None = None,
    previous: bool = True,
    versions: bool = True,
    with_fleet: bool = True,
    alert_capacity: int = 1_000_000,
    concurrency: int = 8,
) -> Snapshot:
    """List the fleet and read every Falco pod's log for the window `[since_ns, now]` (None: all of it).

    Raises KubeError when the API cannot be reached or the lists fail; a pod whose log cannot be read is
    recorded in `errors` and the rest still come through.
    """
    hub = AlertHub(AlertStore(alert_capacity), dedup_window_s=10 * 365 * 86400.0)
    fleet = FleetState(hub, namespace=namespace)
    pods = await asyncio.to_thread(PODS.items, clients, namespace, selector=FALCO_SELECTOR)
    if with_fleet:
        nodes, daemonsets = await asyncio.gather(
            asyncio.to_thread(NODES.items, clients),
            asyncio.to_thread(DAEMONSETS.items, clients, namespace),
        )
        fleet.replace("nodes", nodes)
        fleet.replace("daemonsets", daemonsets)
    fleet.replace("pods", pods)
    snap = Snapshot(hub, fleet, pods, since_ns)
    gate = asyncio.Semaphore(concurrency)

    async def one(pod: dict) -> tuple[dict, list[tuple[int, str]] | None, str | None]:
        if not has_logs(pod, pick_container(pod, "falco")):
            return pod, [], None
        async with gate:
            try:
                lines, version = await asyncio.to_thread(
                    _pod_logs, clients, pod, since_ns, previous, versions
                )
            except KubeError as exc:
                snap.errors[(pod.get("metadata") or {}).get("name", "")] = str(exc)
                return pod, None, None
        snap.read_pods.append((pod.get("metadata") or {}).get("name", ""))
        return pod, lines, version

    for pod, lines, version in await asyncio.gather(*(one(p) for p in pods)):
        name = (pod.get("metadata") or {}).get("name") or ""
        node = (pod.get("spec") or {}).get("nodeName") or None
        for ts, line in lines or ():
            hub.ingest_log_line(name, line, node=node, ts_ns=ts)
        if version and node is not None:
            info = hub.falco.info(name, node)
            info.version = info.version or version
    return snap


def since_ns_from_seconds(seconds: int | None, now_ns: int | None = None) -> int | None:
    if seconds is None:
        return None
    return (time.time_ns() if now_ns is None else now_ns) - seconds * 1_000_000_000
