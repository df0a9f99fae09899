"""Follow every Falco pod's hot reload after a rules push, from its log: reloaded, rejected or crashing.

Facts (DESIGN.md): a changed rules ConfigMap reaches the pods after the kubelet's sync (~60-90 s on real
clusters); Falco dry-runs the new rules; valid → `SIGHUP received, restarting...` then its startup lines
again; invalid → the old rules keep running and the internal alert `Falco internal: hot restart failure`
is emitted; an `Error:` or a container restart means Falco exited (the pod crash-loops).

`ReloadTracker.events()` polls each pod's log from the push on (`sinceTime`, then resuming after the last
line seen without duplicates) and the pods' container statuses, and yields a `NodeReload` for every
per-node state change, then one `ReloadSummary`. A pod created after the push started with the new rules.

"Since the push" is never the operator's clock: a node's log lines carry the node's clock (its container
runtime stamps them), so each pod's log is read after its own last line before the push (`log_marks`, taken
just before the ConfigMap is replaced), and a pod's creationTimestamp (API server clock) is compared with the
push's time as the API server recorded it (managedFields). The operator's clock is only the fallback for a
pod whose log could not be read before the push.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

from falcotui.falco.alerts import parse_iso8601_ns
from falcotui.falco.loglines import LineKind, LogLineClassifier
from falcotui.kube.config import KubeApiError, KubeClients, KubeError
from falcotui.kube.informer import PODS
from falcotui.kube.logs import (
    FALCO_SELECTOR,
    ResumeFilter,
    container_status,
    since_time_param,
    split_timestamp,
)
from falcotui.kube.throttle import background

T = TypeVar("T")
HOT_RESTART_FAILURE = "Falco internal: hot restart failure"
FALCO_CONTAINER = "falco"
#: Kubernetes documents up to "the kubelet sync period + cache propagation delay" (60 s, plus up to the
#: TTL, 60 s, with a TTL cache) before a mounted ConfigMap changes; then Falco dry-runs and restarts.
DEFAULT_RELOAD_TIMEOUT = 150.0
MAX_DOCUMENTED_PROPAGATION = 120.0
MARK_WORKERS = 16
PROPAGATION_NOTE = "waiting for the kubelet to update the mounted rules"


class ReloadState(StrEnum):
    PENDING = "pending"  # the new rules have not reached the pod yet
    RESTARTING = "restarting"  # SIGHUP received, Falco is restarting with the new rules
    RELOADED = "reloaded"
    REJECTED = "rejected"  # hot restart failure: the old rules are still running
    CRASH_LOOPING = "crash-looping"  # Falco exited (`Error:`) / the container restarted
    TIMED_OUT = "timed out"  # still pending/restarting when the timeout passed

    @property
    def final(self) -> bool:
        return self not in (ReloadState.PENDING, ReloadState.RESTARTING)


@dataclass(frozen=True, slots=True)
class NodeReload:
    node: str
    pod: str
    state: ReloadState
    detail: str = ""
    at_ns: int | None = None


@dataclass(frozen=True, slots=True)
class ReloadSummary:
    nodes: tuple[NodeReload, ...]
    elapsed: float

    def count(self, state: ReloadState) -> int:
        return sum(1 for n in self.nodes if n.state is state)

    @property
    def ok(self) -> bool:
        """Every node reloaded (and there was at least one Falco pod)."""
        return bool(self.nodes) and all(n.state is ReloadState.RELOADED for n in self.nodes)

    @property
    def timed_out(self) -> bool:
        return any(n.state is ReloadState.TIMED_OUT for n in self.nodes)

    def line(self) -> str:
        parts = [f"{self.count(s)} {s.value}" for s in ReloadState if self.count(s)]
        return f"{len(self.nodes)} node(s): " + (", ".join(parts) or "no Falco pods")


@dataclass(slots=True)
class _PodTrack:
    pod: str
    uid: str
    node: str
    restarts_at_start: int
    new_pod: bool  # created after the push: it loads the new rules at start
    state: ReloadState = ReloadState.PENDING
    detail: str = ""
    at_ns: int | None = None
    filter: ResumeFilter = field(default_factory=ResumeFilter)
    classifier: LogLineClassifier = field(default_factory=LogLineClassifier)
    last_error: str = ""
    # the log's last timestamp before the push (node clock); None: the log was empty; absent: not read
    mark: int | None = None
    marked: bool = False


def _restarts(pod: dict) -> int:
    st = container_status(pod, FALCO_CONTAINER) or {}
    return int(st.get("restartCount") or 0)


def _waiting_reason(pod: dict) -> str:
    st = container_status(pod, FALCO_CONTAINER) or {}
    return ((st.get("state") or {}).get("waiting") or {}).get("reason") or ""


def _ready(pod: dict) -> bool:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond.get("status") == "True"
    return False


def _stamp(text: object) -> int | None:
    try:
        return parse_iso8601_ns(str(text)) if text else None
    except ValueError:
        return None


def _ready_since(pod: dict) -> int | None:
    """When the pod turned Ready, by the kubelet's own account (the condition's lastTransitionTime)."""
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return _stamp(cond.get("lastTransitionTime"))
    return None


def _finished_at(pod: dict) -> int | None:
    """When the Falco container last exited, from its status (lastState/state terminated.finishedAt)."""
    st = container_status(pod, FALCO_CONTAINER) or {}
    for key in ("state", "lastState"):
        term = (st.get(key) or {}).get("terminated") or {}
        if term.get("finishedAt"):
            return _stamp(term["finishedAt"])
    return None


def _last_log_ts(clients: KubeClients, namespace: str, pod: str) -> int | None:
    query = [("timestamps", "true"), ("container", FALCO_CONTAINER), ("tailLines", "1")]
    resp = clients.open_stream(PODS.object_path(namespace, pod) + "/log", query=query, read_timeout=15.0)
    try:
        body = resp.read()
    finally:
        resp.release_conn()
    stamps = [p[0] for raw in body.split(b"\n") if (p := split_timestamp(raw)) is not None]
    return stamps[-1] if stamps else None


def log_marks(
    clients: KubeClients, namespace: str, label_selector: str = FALCO_SELECTOR
) -> dict[str, int | None]:
    """Pod uid -> the timestamp of its log's last line now (None: empty), for every Falco pod whose log could
    be read. Take it just before a push: whatever a pod logs later is after the push, by its own clock."""
    try:
        listing = clients.request(
            "GET", PODS.collection_path(namespace), query=[("labelSelector", label_selector)]
        )
    except KubeError:
        return {}
    pods = [
        ((p.get("metadata") or {}).get("name", ""), (p.get("metadata") or {}).get("uid", ""))
        for p in listing.get("items") or []
    ]

    def mark(item: tuple[str, str]) -> tuple[str, int | None] | None:
        try:
            return item[1], _last_log_ts(clients, namespace, item[0])
        except Exception:  # a container between instances, a cut stream: no mark, the fallback applies
            return None

    with ThreadPoolExecutor(max_workers=MARK_WORKERS) as pool:
        found = list(pool.map(mark, pods))
    return {uid: ts for got in found if got is not None for uid, ts in (got,)}


def server_time(obj: Mapping, manager: str) -> int | None:
    """When the API server recorded `manager`'s last update of `obj` (managedFields time, server clock)."""
    times = [
        ts
        for entry in (obj.get("metadata") or {}).get("managedFields") or []
        if entry.get("manager") == manager and (ts := _stamp(entry.get("time"))) is not None
    ]
    return max(times) if times else None


def _in_background(fn: Callable[..., T], *args: object) -> T:
    """Run `fn` with the requests of this thread behind interactive ones (kube.throttle.Priority)."""
    with background():
        return fn(*args)


class ReloadTracker:
    """Tracks the reload of the rules pushed at `since_ns` (Unix ns) on every Falco pod of `namespace`."""

    def __init__(
        self,
        clients: KubeClients,
        namespace: str,
        since_ns: int,
        *,
        timeout: float = DEFAULT_RELOAD_TIMEOUT,
        poll: float = 1.0,
        label_selector: str = FALCO_SELECTOR,
        marks: Mapping[str, int | None] | None = None,
        server_since_ns: int | None = None,
    ) -> None:
        self.clients = clients
        self.namespace = namespace
        self.since_ns = since_ns  # the operator's clock: only for pods without a mark
        self.marks = dict(marks or {})
        self.server_since_ns = server_since_ns  # the push as the API server timed it
        self.timeout = timeout
        self.poll = poll
        self.label_selector = label_selector
        self._pods: dict[str, _PodTrack] = {}  # by node

    def _list_pods(self) -> list[dict]:
        listing = self.clients.request(
            "GET",
            PODS.collection_path(self.namespace),
            query=[("labelSelector", self.label_selector)],
        )
        return [
            p for p in listing.get("items") or [] if not (p.get("metadata") or {}).get("deletionTimestamp")
        ]

    def _adopt(self, pod: dict) -> _PodTrack | None:
        meta = pod.get("metadata") or {}
        node = (pod.get("spec") or {}).get("nodeName") or ""
        if not node:
            return None
        track = self._pods.get(node)
        if track is not None and track.uid == meta.get("uid"):
            return track
        created = meta.get("creationTimestamp")
        try:
            created_s = parse_iso8601_ns(created) // 1_000_000_000 if created else 0
        except ValueError:
            created_s = 0
        # creationTimestamp has whole seconds: only a pod created in a later second than the push is
        # sure to have mounted the new rules when it started.
        pushed = self.server_since_ns if self.server_since_ns is not None else self.since_ns
        new_pod = created_s > pushed // 1_000_000_000
        crashing = _waiting_reason(pod) == "CrashLoopBackOff" or (_restarts(pod) > 0 and not _ready(pod))
        track = _PodTrack(
            meta.get("name", ""), meta.get("uid", ""), node, _restarts(pod), new_pod or crashing
        )
        uid = meta.get("uid", "")
        if uid in self.marks:
            track.mark, track.marked = self.marks[uid], True
        self._pods[node] = track
        if new_pod:
            track.detail = "new pod: waiting for it to start"
        elif crashing:
            track.detail = "crash-looping before the push: waiting for a restart with the new rules"
        else:
            track.detail = PROPAGATION_NOTE
        self._changed.append(NodeReload(node, track.pod, track.state, track.detail))
        return track

    def _read_new_lines(self, track: _PodTrack) -> list[tuple[int, str]]:
        # lines after `floor` (the pod's own clock) are new: after its last line before the push, or, for a
        # pod whose log was empty then, all of it; only an unmarked pod falls back to the operator's clock
        floor = (track.mark if track.mark is not None else -1) if track.marked else self.since_ns - 1
        since = track.filter.last_ts if track.filter.last_ts is not None else floor if floor >= 0 else None
        query: list[tuple[str, object]] = [("timestamps", "true"), ("container", FALCO_CONTAINER)]
        if since is not None:
            query.append(("sinceTime", since_time_param(since)))
        if track.filter.last_ts is not None:
            track.filter.begin_resume()
        resp = self.clients.open_stream(
            PODS.object_path(self.namespace, track.pod) + "/log", query=query, read_timeout=15.0
        )
        try:
            body = resp.read()
        finally:
            resp.release_conn()
        out = []
        for raw in body.split(b"\n"):
            parts = split_timestamp(raw)
            if parts is None or parts[0] <= floor:
                continue
            if track.filter.accept(*parts):
                out.append((parts[0], parts[1].decode(errors="replace")))
        return out

    def _apply_line(self, track: _PodTrack, ts: int, text: str) -> None:
        line = track.classifier.classify(text)
        kind = line.kind
        if kind is LineKind.ERROR:  # Falco exits after it prints `Error:`
            track.last_error = line.text
            if track.state is not ReloadState.CRASH_LOOPING:
                self._set(track, ReloadState.CRASH_LOOPING, line.text, ts)
            return
        if track.state.final:
            return
        if kind is LineKind.ALERT_JSON and line.alert is not None and line.alert.rule == HOT_RESTART_FAILURE:
            detail = line.alert.message.strip().splitlines()[0] if line.alert.message.strip() else ""
            self._set(
                track, ReloadState.REJECTED, detail or "hot restart failure: old rules still running", ts
            )
        elif kind is LineKind.SIGHUP:
            self._set(track, ReloadState.RESTARTING, "SIGHUP received, restarting", ts)
        elif track.state is ReloadState.RESTARTING and (
            kind in (LineKind.EVENT_SOURCES, LineKind.WEBSERVER, LineKind.GRPC)
            or (kind is LineKind.ALERT_JSON and line.alert is not None and line.alert.source != "internal")
        ):
            self._set(track, ReloadState.RELOADED, "restarted with the new rules", ts)

    def _set(self, track: _PodTrack, state: ReloadState, detail: str, ts: int | None) -> None:
        track.state, track.detail, track.at_ns = state, detail, ts
        self._changed.append(NodeReload(track.node, track.pod, state, detail, ts))

    def _poll_pod(self, pod: dict) -> None:
        track = self._adopt(pod)
        if track is None:
            return
        restarted = _restarts(pod) > track.restarts_at_start
        if not track.new_pod and (restarted or _waiting_reason(pod) == "CrashLoopBackOff"):
            if track.state is not ReloadState.CRASH_LOOPING:
                detail = track.last_error or f"container restarted ({_restarts(pod)} restarts)"
                self._set(track, ReloadState.CRASH_LOOPING, detail, _finished_at(pod))
            return
        if track.state.final:
            return  # its log need not be read again; a later crash still shows in the restart count above
        try:
            lines = self._read_new_lines(track)
        except Exception:  # a cut stream, a container between instances: read again next round
            lines = []
        for ts, text in lines:
            self._apply_line(track, ts, text)
        if track.new_pod and not track.state.final and _ready(pod):
            self._set(track, ReloadState.RELOADED, "started with the new rules", _ready_since(pod))

    def _interval(self) -> float:
        """`poll`, or longer when so many pods are pending that reading each one's log every `poll` seconds
        would take more than half of the client's rate limit (the rest stays for the log streams and the
        user): at 1,000 nodes and 50 requests/s, a round every ~40 s instead of every second."""
        qps = self.clients.rate_limits.qps
        pending = sum(1 for t in self._pods.values() if not t.state.final)
        return max(self.poll, (pending + 1) / (qps / 2)) if qps > 0 else self.poll

    async def events(self) -> AsyncIterator[NodeReload | ReloadSummary]:
        """Per-node state changes as they happen, then the summary (always last)."""
        started = time.monotonic()
        deadline = started + self.timeout
        self._changed: list[NodeReload] = []
        while True:
            try:
                pods: list[dict] | None = await asyncio.to_thread(_in_background, self._list_pods)
            except KubeApiError as exc:
                pods = [] if exc.code == 404 else None
            except KubeError:
                pods = None  # the API server is unreachable for now: try again next round
            if pods is not None:
                seen = {(pod.get("spec") or {}).get("nodeName") or "" for pod in pods}
                # One worker thread per pod: each touches only its own node's track.
                await asyncio.gather(*(asyncio.to_thread(_in_background, self._poll_pod, p) for p in pods))
                for node in [n for n in self._pods if n not in seen]:
                    del self._pods[node]  # the node or its pod is gone
            changed, self._changed = self._changed, []
            for ev in changed:
                yield ev
            if self._pods and all(t.state.final for t in self._pods.values()):
                break
            if time.monotonic() >= deadline:
                for t in self._pods.values():
                    if not t.state.final:
                        t.state = ReloadState.TIMED_OUT
                        t.detail = f"no reload seen within {self.timeout:g}s"
                        yield NodeReload(t.node, t.pod, t.state, t.detail)
                break
            await asyncio.sleep(self._interval())
        nodes = tuple(
            NodeReload(t.node, t.pod, t.state, t.detail, t.at_ns)
            for t in sorted(self._pods.values(), key=lambda t: t.node)
        )
        yield ReloadSummary(nodes, time.monotonic() - started)

    async def run(self, on_event: Callable[[NodeReload], None] | None = None) -> ReloadSummary:
        """Drive `events()` to the end; `on_event(NodeReload)` for each state change."""
        async for ev in self.events():
            if isinstance(ev, ReloadSummary):
                return ev
            if on_event is not None:
                on_event(ev)
        raise AssertionError("events() always ends with a summary")
