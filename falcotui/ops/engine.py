"""The live engine: cluster I/O (`falcotui.kube`) wired to the state the UI and CLI read (`falcotui.ops`).

`Engine(clients, "falco")` runs list+watch informers for nodes, Falco pods, the DaemonSet and the
namespace's Events and feeds them to a `FleetState`; follows every Falco pod's log into the `AlertHub`
(`LogChannels`) and, where the pod's Falco still has it, its gRPC output (`GrpcChannels`), de-duplicated by
the hub; probes the API server; and records notable events in a `NoticeLog`.

All blocking I/O runs in worker threads (informers, probes) or is asyncio-native (log followers on aiohttp,
gRPC, port-forward pumps); everything the engine holds is touched only on its event loop. A UI calls `drain()`
on a 10–20 Hz timer and gets one `EngineDelta`: new alerts, changed fleet rows, notices and health.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from falcotui.kube.client import KubeClients
from falcotui.kube.errors import KubeError
from falcotui.kube.failed_create import FAILED_CREATE, admission_refusal
from falcotui.kube.informer import EventType, Informer, InformerEvent
from falcotui.kube.resources import DAEMONSETS, EVENTS, FALCO_SELECTOR, NAMESPACES, NODES, PODS
from falcotui.ops.alerts.hub import AlertHub, HubDelta
from falcotui.ops.alerts.query import EMPTY_QUERY, AlertQuery
from falcotui.ops.alerts.store import AlertStore
from falcotui.ops.alerts.view import FilteredView
from falcotui.ops.alerts.view_service import ViewService
from falcotui.ops.channels.grpc import GrpcChannels
from falcotui.ops.channels.log import LogChannels
from falcotui.ops.channels.nats import NatsChannel, NatsHealth, NatsSource
from falcotui.ops.fleet.model import FleetState
from falcotui.ops.fleet.status import NodeStatus
from falcotui.ops.notices import Notice, NoticeKind, NoticeLog
from falcotui.ops.rules.reload_state import PushMark
from falcotui.ops.terminal import credential_problem

CHANNELS = ("log", "grpc")  # the default: what a cluster's own Falco pods offer
ALL_CHANNELS = (*CHANNELS, "nats")  # nats: Falcosidekick's stream (EngineOptions.nats says where)


class EngineError(KubeError):
    """The engine could not start (API unreachable, nothing listed in time); `str()` says why."""


@dataclass(frozen=True, slots=True)
class Health:
    """The header line's facts: where we are connected, what may be done, how the channels fare."""

    server: str
    context: str | None
    namespace: str
    api_reachable: bool | None  # None before the first probe
    api_error: str
    read_only: bool | None  # None: could not be determined
    synced: bool  # nodes and pods listed at least once
    log_streams: int  # nodes whose log stream is live
    log_pods: int  # pods with a running log follower
    grpc_streams: int  # nodes whose gRPC subscription is streaming
    grpc_pods: int  # pods with a gRPC subscription running
    lag_s: float | None  # how late lines arrive on the worst channel now (None: none late or recent)
    alerts: int  # alerts stored since start (duplicates not counted)
    duplicates: int  # copies recognised and dropped (the same alert via both channels, or re-read)
    relists: int  # watches that expired (410) and were answered by a fresh list
    reconnects: int  # watch connections retried after a failure
    throttled: str = ""  # "throttled: …" while the API server pushes back or the client-side limit queues
    credentials_error: str = ""  # the exec credential plugin's last failure, until it succeeds again
    unreadable: int = 0  # log lines that looked like alerts but could not be parsed (counted, not shown)
    log_cuts: int = 0  # log streams that went down since start (each resumed stream counts once)
    log_gaps: int = 0  # resumes that could not prove continuity (a marker each in the alert list)
    log_down: tuple[str, ...] = ()  # nodes whose log stream is down now
    lag_node: str = ""  # the node of the worst lag, and its channel ("log" or "grpc")
    lag_channel: str = ""
    nats: NatsHealth | None = None  # the NATS source's state, when the engine reads one


@dataclass(slots=True)
class EngineDelta:
    """What changed since the previous `drain()`."""

    alerts: HubDelta
    nodes: set[str]  # fleet rows whose Kubernetes state changed
    notices: list[Notice]
    health: Health


@dataclass(frozen=True, slots=True)
class K8sEvent:
    """A Warning Event in the Falco namespace, reduced to what a status line shows."""

    reason: str
    message: str
    object: str  # Kind/name
    count: int
    at: str


@dataclass
class EngineOptions:
    """Tuning knobs; the defaults suit a real cluster, tests shorten the timers."""

    tail_lines: int | None = 1000  # log lines read per pod on start (None: the whole log)
    log_since_ns: int | None = None  # and only those from this time on
    idle_timeout: float = 120.0  # a silent log stream is re-opened after this long
    watch_timeout: int = 240  # server-side timeout of each watch request
    probe_interval: float = 5.0  # seconds between API reachability probes
    delete_grace: float = 5.0  # a deleted pod's log follower may drain this long
    grpc_poll_interval: float = 0.25
    grpc_backoff: tuple[float, float] = (0.5, 10.0)
    dedup_window_s: float = 300.0
    events_kept: int = 200
    nats: NatsSource | None = None  # Falcosidekick's JetStream stream, for the `nats` channel
    keep_lines: bool = False  # hand each drain the JSON lines new alerts came from (HubDelta.lines)


def namespace_names(clients: KubeClients) -> list[str]:
    """Blocking: the cluster's namespaces, sorted (for the namespace picker; KubeError if not allowed)."""
    items = NAMESPACES.items(clients)
    return sorted(name for i in items if (name := (i.get("metadata") or {}).get("name")))


class Engine:
    """See the module docstring. Use `async with Engine(...) as engine:` or `start()`/`stop()`, once: a
    stopped engine is not started again (make a new one, e.g. for another context)."""

    def __init__(
        self,
        clients: KubeClients,
        namespace: str = "falco",
        *,
        channels: Sequence[str] = CHANNELS,
        alert_capacity: int = 100_000,
        read_only: bool | None = None,
        tail_lines: int | None = 1000,
        options: EngineOptions | None = None,
        clock: Callable[[], int] = time.time_ns,
        store: AlertStore | None = None,
    ) -> None:
        unknown = [c for c in channels if c not in ALL_CHANNELS]
        if unknown or not channels:
            raise ValueError(
                f"unknown channel(s) {', '.join(unknown) or '(none)'}: choose from log, grpc, nats"
            )
        self.clients = clients
        self.namespace = namespace
        self.channels = tuple(dict.fromkeys(channels))
        self.options = options if options is not None else EngineOptions(tail_lines=tail_lines)
        self._read_only_given = read_only
        self.read_only = read_only
        # `store`: e.g. an AlertOutbox for a consumer that prints each alert once (`alerts -f`)
        self.store = store if store is not None else AlertStore(alert_capacity, clock=clock)
        opts = self.options
        self.hub = AlertHub(
            self.store, dedup_window_s=opts.dedup_window_s, clock=clock, keep_lines=opts.keep_lines
        )
        self.views = ViewService(self.store)  # the UI's alert views (ui/remote_view.py), by id
        self.fleet = FleetState(self.hub, namespace=namespace, clock=clock)
        self.notices = NoticeLog(clock=clock)
        self.k8s_events: deque[K8sEvent] = deque(maxlen=self.options.events_kept)
        self.k8s_events_total = 0  # ever appended to `k8s_events` (a reader's cursor into the bounded deque)
        opts = self.options
        self.logs = (
            LogChannels(clients, self.hub, self.notices, namespace=namespace, tail_lines=opts.tail_lines,
                        since_ns=opts.log_since_ns, idle_timeout=opts.idle_timeout,
                        delete_grace=opts.delete_grace)
            if "log" in self.channels else None
        )  # fmt: skip
        self.grpc = (
            GrpcChannels(clients, self.hub, self.notices, namespace=namespace,
                         poll_interval=opts.grpc_poll_interval, backoff_initial=opts.grpc_backoff[0],
                         backoff_max=opts.grpc_backoff[1])
            if "grpc" in self.channels else None
        )  # fmt: skip
        if "nats" in self.channels and opts.nats is None:
            raise ValueError("the nats channel needs a source (EngineOptions.nats)")
        self.nats = (
            NatsChannel(opts.nats, self.hub, self.notices) if "nats" in self.channels and opts.nats else None
        )
        self.informers: dict[str, Informer] = {}
        self.api_reachable: bool | None = None
        self.api_error = ""
        self._tasks: list[asyncio.Task] = []
        self._channels_open = False  # pod events reach the log/gRPC channels (after the first lists)
        self._started = False
        self._stopped = False
        self._loop: asyncio.AbstractEventLoop | None = None

    # ------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Engine:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self, *, sync_timeout: float | None = 20.0) -> None:
        """Check the API answers, start everything, wait until nodes and pods are listed.

        Raises EngineError (nothing left running) when the API server cannot be reached or nothing could
        be listed within `sync_timeout` seconds (None: do not wait for the lists).
        """
        if self._started or self._stopped:
            raise RuntimeError("the engine is already started (or was stopped: make a new one)")
        self._started = True
        self._loop = asyncio.get_running_loop()
        try:
            await self._probe_once()
        except KubeError as exc:
            self._started = False
            raise EngineError(f"cannot reach the Kubernetes API at {self.clients.host}: {exc.short}") from exc
        ns, wt = self.namespace, self.options.watch_timeout
        specs = {
            "nodes": (NODES, None, None),
            "pods": (PODS, ns, FALCO_SELECTOR),
            "daemonsets": (DAEMONSETS, ns, None),
            "events": (EVENTS, ns, None),
        }
        for name, (resource, namespace, selector) in specs.items():
            inf = Informer(self.clients, resource, self._on_event, namespace=namespace,
                           label_selector=selector, watch_timeout=wt)  # fmt: skip
            self.informers[name] = inf
            inf.start()
        self._tasks.append(asyncio.create_task(self._probe_loop(), name="engine-api-probe"))
        self._tasks.append(asyncio.create_task(self._open_channels(), name="engine-open-channels"))
        if self.nats is not None:
            self.nats.start()
        if self._read_only_given is None:
            self._tasks.append(asyncio.create_task(self._check_access(), name="engine-access"))
        if sync_timeout is not None:
            try:
                await self.wait_synced(sync_timeout)
            except TimeoutError as exc:
                await self.stop()
                raise EngineError(str(exc)) from None

    async def wait_synced(self, timeout: float | None = None) -> None:
        """Until nodes, pods and the DaemonSet have been listed once (TimeoutError after `timeout`)."""
        async with asyncio.timeout(timeout):
            for name in ("nodes", "pods", "daemonsets"):
                await self.informers[name].wait_synced()

    async def _open_channels(self) -> None:
        """Rows first, streams after (issue 14): the pods' log and gRPC channels start once nodes, pods and
        the DaemonSet are listed and `start()` has returned, so the fleet's rows do not wait behind a
        thousand streams opening (which the client's rate limit spreads over seconds anyway); from then on
        pod events reach the channels as they come."""
        await self.wait_synced()
        await asyncio.sleep(0)  # start(), woken by the same lists, returns first
        self._channels_open = True
        pods = list(self.informers["pods"].cache().values())
        for channel in (c for c in (self.logs, self.grpc) if c is not None):
            channel.sync(pods)

    async def stop(self) -> None:
        """Stop every informer, follower and subscription; safe to call twice."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.logs is not None:
            await self.logs.aclose()
        if self.grpc is not None:
            await self.grpc.aclose()
        if self.nats is not None:
            await self.nats.aclose()
        await asyncio.gather(*(inf.aclose() for inf in self.informers.values()), return_exceptions=True)
        self._started, self._stopped = False, bool(self.informers)

    # ------------------------------------------------------------ informer events (on the loop)

    def _on_event(self, ev: InformerEvent) -> None:
        try:
            if ev.resource == "events":
                self._on_k8s_event(ev)
                return
            if ev.type is EventType.RESYNCED:
                self.notices.add(NoticeKind.RELIST, f"{ev.resource}: watch expired, listed again")
            self.fleet.apply_event(ev)
            if ev.resource == "pods" and self._channels_open:
                self._route_pod(ev)
        except Exception as exc:  # one odd object must not stop the stream of events
            self.notices.add(NoticeKind.K8S_WARNING, f"could not use a {ev.resource} event: {exc}")

    def _route_pod(self, ev: InformerEvent) -> None:
        targets = [c for c in (self.logs, self.grpc) if c is not None]
        if ev.type in (EventType.SYNCED, EventType.RESYNCED):
            pods = list((ev.snapshot or {}).values())
            for channel in targets:
                channel.sync(pods)
        elif ev.obj is not None and ev.type is EventType.DELETED:
            for channel in targets:
                channel.pod_deleted(ev.obj)
        elif ev.obj is not None:
            for channel in targets:
                channel.pod_changed(ev.obj)

    def _on_k8s_event(self, ev: InformerEvent) -> None:
        obj = ev.obj
        if ev.type not in (EventType.ADDED, EventType.MODIFIED) or not obj or obj.get("type") != "Warning":
            return
        involved = obj.get("involvedObject") or {}
        event = K8sEvent(
            reason=obj.get("reason") or "",
            message=(obj.get("message") or "").strip(),
            object=f"{involved.get('kind', '')}/{involved.get('name', '')}",
            count=int(obj.get("count") or 1),
            at=obj.get("lastTimestamp") or obj.get("eventTime") or "",
        )
        self.k8s_events.append(event)
        self.k8s_events_total += 1
        if (
            event.reason == FAILED_CREATE
            and involved.get("kind") == "DaemonSet"
            and involved.get("name") == self.fleet.daemonset_name
            and admission_refusal(event.message)
        ):
            self.fleet.daemonset_refused(event.message)
        node = involved.get("name") if involved.get("kind") == "Node" else None
        pod = involved.get("name") if involved.get("kind") == "Pod" else None
        self.notices.add(
            NoticeKind.K8S_WARNING, f"{event.object}: {event.reason}: {event.message}", node=node, pod=pod
        )

    # ------------------------------------------------------------ API reachability and access

    async def _probe_once(self) -> None:
        timeout = (self.clients.timeouts.connect, min(self.clients.timeouts.read, 10.0))
        await asyncio.to_thread(self.clients.request, "GET", "/version", timeout=timeout)

    async def _probe_loop(self) -> None:
        self._set_reachable(True, "")
        while True:
            await asyncio.sleep(self.options.probe_interval)
            try:
                await self._probe_once()
            except KubeError as exc:
                self._set_reachable(False, str(exc))
            else:
                self._set_reachable(True, "")

    def _set_reachable(self, ok: bool, error: str) -> None:
        before, self.api_reachable, self.api_error = self.api_reachable, ok, error
        if before is None or before == ok:
            return
        if ok:
            self.notices.add(NoticeKind.API_REACHABLE, f"the API server at {self.clients.host} answers again")
        else:
            self.notices.add(NoticeKind.API_UNREACHABLE, f"the API server does not answer: {error}")

    async def _check_access(self) -> None:
        """read_only unless we may update the rules ConfigMap and patch the DaemonSet in the namespace."""
        ns = self.namespace
        try:
            cm = await asyncio.to_thread(self.clients.can_i, "update", "configmaps", ns)
            ds = await asyncio.to_thread(self.clients.can_i, "patch", "daemonsets", ns, group="apps")
        except KubeError:
            self.read_only = None
            return
        self.read_only = not (cm and ds)

    # ------------------------------------------------------------ what the UI reads

    def health(self) -> Health:
        informers = self.informers.values()
        worst = self.hub.worst_lag()
        return Health(
            server=self.clients.host,
            context=self.clients.context,
            namespace=self.namespace,
            api_reachable=self.api_reachable,
            api_error=self.api_error,
            read_only=self.read_only,
            synced=all(self.informers[n].synced for n in ("nodes", "pods") if n in self.informers)
            and bool(self.informers),
            log_streams=self.logs.live if self.logs else 0,
            log_pods=self.logs.pods if self.logs else 0,
            grpc_streams=self.grpc.live if self.grpc else 0,
            grpc_pods=self.grpc.pods if self.grpc else 0,
            lag_s=worst[0] if worst else None,
            lag_node=worst[1].node if worst else "",
            lag_channel=worst[1].kind if worst else "",
            alerts=self.store.total_seen,
            duplicates=self.hub.duplicates,
            relists=sum(i.stats.expired for i in informers),
            reconnects=sum(i.stats.reconnects for i in informers),
            throttled=self.clients.throttle_state(),
            credentials_error=credential_problem(self.clients),
            unreadable=self.hub.bad_lines,
            nats=self.nats.health() if self.nats is not None else None,
            **self.hub.log_stream_health(),
        )

    def drain(self, *, max_alerts: int | None = None) -> EngineDelta:
        """Everything new since the previous call, for the one timer-driven consumer."""
        return EngineDelta(
            self.hub.drain(max_alerts=max_alerts), self.fleet.changed(), self.notices.drain(), self.health()
        )

    def view(self, query: AlertQuery = EMPTY_QUERY, *, hold_at: int | None = None) -> FilteredView:
        """A filtered, incrementally updated view of the stored alerts (call `update()` on it per tick);
        with `hold_at`, a snapshot up to that sequence number."""
        return FilteredView(self.store, query, hold_at=hold_at)

    def namespace_names(self) -> list[str]:
        return namespace_names(self.clients)

    def followed_pods(self) -> set[str]:
        return self.logs.followed_pods() if self.logs else set()

    # ------------------------------------------------------------ rules reloads (per-pod state)

    def log_marks(self) -> dict[str, int]:
        """Where each followed Falco pod's log stands now (pod -> last kubelet timestamp read): taken just
        before a rules push, so that what a pod logs later is the push's, by its own clock. Safe from any
        thread (it only reads)."""
        return self.logs.log_marks() if self.logs else {}

    def mark_reload_pending(self, push: PushMark | None) -> None:
        """A rules push was sent: the fleet rows show it pending → reloaded/rejected per node. From any
        thread (it is applied on the engine's loop)."""
        loop = self._loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is not None and running is not loop and not loop.is_closed():
            loop.call_soon_threadsafe(self.fleet.mark_reload_pending, push)
        else:
            self.fleet.mark_reload_pending(push)

    def reload_rows(self) -> list[NodeStatus]:
        """The fleet rows, whose `reload` is each node's state of the latest push (see ReloadTracker)."""
        return self.fleet.rows()
