"""The `grpc` channel of every node whose Falco still offers it (≤ 0.43 with a container port named grpc).

For each such pod, once its Falco container is ready: read the mTLS material from the Secret
`falco-grpc-client` through the API (once, cached), reach the pod's gRPC port through a local port-forward
listener (one websocket per connection) or, with `hostNetwork`, directly at the node's IP, and run a
`FalcoGrpcClient` subscription whose alerts go into the AlertHub (which de-duplicates them against the
log channel: both carry the pod's node). The client's states become the node's channel health.

Falco's gRPC queue hands each alert to exactly one subscriber: two falcotui instances subscribed to the
same Falco split its alerts between them. The log channel still gives each of them every alert.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import time
from dataclasses import dataclass

from cryptography import x509

from falcotui.falco.alerts import Alert
from falcotui.falco.certs import CLIENT_KEYS, CertificateDataError, GrpcCerts
from falcotui.kube.client import KubeClients
from falcotui.kube.errors import KubeApiError, KubeError
from falcotui.kube.logs import container_status
from falcotui.kube.portforward import PortForwarder
from falcotui.kube.resources import SECRETS
from falcotui.ops.alerts.hub import AlertHub
from falcotui.ops.channels.grpc_client import (
    ClientState,
    ClientStatus,
    FalcoGrpcClient,
    GrpcTls,
    has_grpc_output,
)
from falcotui.ops.deploy.manifests import GRPC_CLIENT_SECRET
from falcotui.ops.fleet.k8s import image_tag
from falcotui.ops.notices import NoticeKind, NoticeLog

CERTS_RETRY_S = 10.0
#: a subscription's alerts reach the hub in batches gathered over this long (one call per alert costs the
#: hub's per-call work each time; 20 ms is well inside a UI tick and gRPC's own 0.25 s poll)
BATCH_S = 0.02


class CertsUnavailable(Exception):
    """The gRPC client certificates cannot be read; the message says why."""


def _falco_container(pod: dict) -> dict:
    containers = (pod.get("spec") or {}).get("containers") or []
    return next((c for c in containers if c.get("name") == "falco"), containers[0] if containers else {})


def grpc_port(pod: dict) -> int | None:
    """The Falco container's port named `grpc`, if it declares one."""
    for port in _falco_container(pod).get("ports") or []:
        if port.get("name") == "grpc" and isinstance(port.get("containerPort"), int):
            return port["containerPort"]
    return None


def falco_tag(pod: dict) -> str | None:
    image = _falco_container(pod).get("image") or ""
    return image_tag(image) if image else None


def offers_grpc(pod: dict) -> bool:
    """Whether this Falco pod should serve gRPC: a grpc port and an image not known to be ≥ 0.44."""
    if grpc_port(pod) is None:
        return False
    tag = falco_tag(pod)
    return tag is None or has_grpc_output(tag) is not False


def _ready(pod: dict) -> tuple[bool, int]:
    st = container_status(pod, _falco_container(pod).get("name") or "falco") or {}
    return bool(st.get("ready")), int(st.get("restartCount") or 0)


def server_name_for(certs: GrpcCerts, host: str) -> str | None:
    """The name to verify the server certificate against when `host` is not among its SANs."""
    try:
        cert = x509.load_pem_x509_certificate(certs.server_crt)
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return None
    dns = sans.get_values_for_type(x509.DNSName)
    ips = [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)]
    with contextlib.suppress(ValueError):
        if str(ipaddress.ip_address(host)) in ips:
            return None
    if host in dns:
        return None
    return dns[0] if dns else (ips[0] if ips else None)


@dataclass(eq=False)
class _Sub:
    uid: str
    pod: str
    node: str
    restart_count: int
    task: asyncio.Task | None = None
    client: FalcoGrpcClient | None = None
    streaming: bool = False
    dropped: bool = False
    ever_streamed: bool = False


class GrpcChannels:
    """One gRPC subscription per Falco pod that offers it; alerts and health into `hub`."""

    def __init__(
        self,
        clients: KubeClients,
        hub: AlertHub,
        notices: NoticeLog,
        *,
        namespace: str = "falco",
        secret_name: str = GRPC_CLIENT_SECRET,
        poll_interval: float = 0.25,
        backoff_initial: float = 0.5,
        backoff_max: float = 10.0,
        max_initial_attempts: int = 6,
    ) -> None:
        self.clients = clients
        self.hub = hub
        self.notices = notices
        self.namespace = namespace
        self.secret_name = secret_name
        self.poll_interval = poll_interval
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.max_initial_attempts = max_initial_attempts
        self.subs: dict[str, _Sub] = {}
        self._node_uid: dict[str, str] = {}
        self._certs: GrpcCerts | None = None
        self._certs_failed_at: float | None = None
        self._certs_error = ""
        self._certs_lock = asyncio.Lock()
        self._stopping: set[asyncio.Task] = set()
        self._closed = False

    # ------------------------------------------------------------ pods (from the informer)

    def sync(self, pods: list[dict]) -> None:
        alive = {(p.get("metadata") or {}).get("uid") for p in pods}
        for uid in list(self.subs):
            if uid not in alive:
                self._end(uid)
        for pod in pods:
            self.pod_changed(pod)

    def pod_changed(self, pod: dict) -> None:
        meta = pod.get("metadata") or {}
        uid = meta.get("uid") or ""
        if self._closed or not uid or meta.get("deletionTimestamp") or not offers_grpc(pod):
            return
        ready, restarts = _ready(pod)
        sub = self.subs.get(uid)
        if sub is not None:
            ended = sub.task is None or sub.task.done()
            if not (ended and ready and restarts != sub.restart_count):
                return  # running, or ended for good until the container restarts
        if not ready:
            return
        node = (pod.get("spec") or {}).get("nodeName") or ""
        sub = _Sub(uid, meta.get("name") or "", node, restarts)
        self.subs[uid] = sub
        self._node_uid[node] = uid
        sub.task = asyncio.create_task(self._run(sub, pod), name=f"grpc-{sub.pod}")

    def pod_deleted(self, pod: dict) -> None:
        self._end((pod.get("metadata") or {}).get("uid") or "")

    def _end(self, uid: str) -> None:
        sub = self.subs.pop(uid, None)
        if sub is None:
            return
        if sub.client is not None:
            task = asyncio.create_task(sub.client.stop())
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)
        elif sub.task is not None:
            sub.task.cancel()
        if self._node_uid.get(sub.node) == uid:
            del self._node_uid[sub.node]
            self.hub.set_channel(sub.node, "grpc", False, pod=sub.pod, detail="pod gone")

    def _is_current(self, sub: _Sub) -> bool:
        return self._node_uid.get(sub.node) == sub.uid and self.subs.get(sub.uid) is sub

    # ------------------------------------------------------------ one subscription

    async def certs(self) -> GrpcCerts:
        """The client certificates from the Secret (read once; a failure is retried after a while)."""
        async with self._certs_lock:
            if self._certs is not None:
                return self._certs
            if self._certs_failed_at is not None and time.monotonic() - self._certs_failed_at < CERTS_RETRY_S:
                raise CertsUnavailable(self._certs_error)
            try:
                secret = await asyncio.to_thread(SECRETS.read, self.clients, self.namespace, self.secret_name)
                self._certs = GrpcCerts.from_secret_data(secret.get("data"), CLIENT_KEYS)
                return self._certs
            except KubeApiError as exc:
                if exc.code == 404:
                    why = f"Secret {self.namespace}/{self.secret_name} not found"
                elif exc.code == 403:
                    why = f"not allowed to read Secret {self.namespace}/{self.secret_name}"
                else:
                    why = f"reading Secret {self.namespace}/{self.secret_name}: {exc}"
            except KubeError as exc:
                why = str(exc)
            except CertificateDataError as exc:
                why = f"Secret {self.namespace}/{self.secret_name}: {exc}"
            self._certs_failed_at, self._certs_error = time.monotonic(), why
            raise CertsUnavailable(why)

    async def _run(self, sub: _Sub, pod: dict) -> None:
        forwarder: PortForwarder | None = None
        port = grpc_port(pod) or 0
        try:
            try:
                certs = await self.certs()
            except CertsUnavailable as exc:
                self._unavailable(sub, f"gRPC client certificates: {exc}")
                return
            spec, status = pod.get("spec") or {}, pod.get("status") or {}
            if spec.get("hostNetwork") and status.get("hostIP"):
                host, target_port = status["hostIP"], port
            else:
                forwarder = PortForwarder(self.clients, self.namespace, sub.pod, port)
                host, target_port = await forwarder.start()
            tls = GrpcTls.from_certs(certs, server_name=server_name_for(certs, host))
            await self._subscribe(sub, f"{host}:{target_port}", tls, falco_tag(pod))
        except OSError as exc:  # the local listener could not be opened
            self._unavailable(sub, f"port-forward listener: {exc}")
        finally:
            if forwarder is not None:
                await forwarder.close(grace=1.0)  # the client closed its channel: let it end

    async def _subscribe(self, sub: _Sub, target: str, tls: GrpcTls, version: str | None) -> None:
        """Run clients until stopped. Through a port-forward a pod that is not listening yet shows as a
        socket closed during the TLS handshake; once a client has had an answer it retries that itself,
        but before the first answer it takes it for a rejected certificate: a new client retries a few
        such endings here (and any ending once this pod has streamed)."""
        failures = 0
        while not self._closed and self.subs.get(sub.uid) is sub:
            client = FalcoGrpcClient(
                target,
                credentials=tls,
                node=sub.node,
                pod=sub.pod,
                falco_version=version,
                poll_interval=self.poll_interval,
                backoff_initial=self.backoff_initial,
                backoff_max=self.backoff_max,
                max_initial_attempts=self.max_initial_attempts,
                on_state=lambda status: self._on_state(sub, status),
            )
            sub.client = client
            await self._pump(client)
            state = client.status.state
            if state is ClientState.STOPPED or self._closed:
                return
            transient = "socket closed" in client.status.reason.lower()
            failures += 1
            if state is ClientState.NO_GRPC or not (sub.ever_streamed or (transient and failures < 3)):
                self._unavailable(sub, client.status.reason)
                return
            delay = min(self.backoff_max, self.backoff_initial * 2 ** min(failures, 8))
            await asyncio.sleep(delay)

    async def _pump(self, client: FalcoGrpcClient) -> None:
        """The client's alerts into the hub in batches (`AlertHub.ingest_alerts`): what arrives within
        BATCH_S of a first alert goes in together, and whatever waits when the stream ends, at once."""
        loop = asyncio.get_running_loop()
        pending: list[Alert] = []
        flush_at: asyncio.TimerHandle | None = None

        def flush() -> None:
            nonlocal flush_at
            flush_at = None
            if pending:
                batch = pending.copy()
                pending.clear()
                self.hub.ingest_alerts(batch)

        try:
            async for alert in client.subscribe():
                pending.append(alert)
                if flush_at is None:
                    flush_at = loop.call_later(BATCH_S, flush)
        finally:
            if flush_at is not None:
                flush_at.cancel()
            flush()

    def _unavailable(self, sub: _Sub, why: str) -> None:
        if self._is_current(sub):
            self.hub.set_channel(sub.node, "grpc", False, pod=sub.pod, detail=why)
        self.notices.add(NoticeKind.GRPC_UNAVAILABLE, f"{sub.node}: {why}", node=sub.node, pod=sub.pod)

    def _on_state(self, sub: _Sub, status: ClientStatus) -> None:
        state = status.state
        if state is ClientState.STREAMING:
            if self._is_current(sub):
                self.hub.set_channel(
                    sub.node, "grpc", True, pod=sub.pod, detail=f"streaming via {status.reason}"
                )
            if sub.dropped:
                self.notices.add(
                    NoticeKind.STREAM_RESUMED, f"{sub.node}: gRPC stream resumed", node=sub.node, pod=sub.pod
                )
            sub.streaming, sub.dropped, sub.ever_streamed = True, False, True
        elif state is ClientState.UNAVAILABLE:
            if self._is_current(sub):
                self.hub.set_channel(sub.node, "grpc", False, pod=sub.pod, detail=status.reason)
            if sub.streaming:
                self.notices.add(
                    NoticeKind.STREAM_DROPPED,
                    f"{sub.node}: gRPC stream dropped: {status.reason}",
                    node=sub.node,
                    pod=sub.pod,
                )
                sub.streaming, sub.dropped = False, True
        elif state in (ClientState.NO_GRPC, ClientState.FAILED):
            sub.streaming = False  # _subscribe decides whether that is final
            if self._is_current(sub):
                self.hub.set_channel(sub.node, "grpc", False, pod=sub.pod, detail=status.reason)
        elif state is ClientState.STOPPED:
            sub.streaming = False
            if self._is_current(sub):
                self.hub.set_channel(sub.node, "grpc", False, pod=sub.pod, detail="stopped")

    # ------------------------------------------------------------ figures and shutdown

    @property
    def live(self) -> int:
        return sum(1 for uid in self._node_uid.values() if (s := self.subs.get(uid)) and s.streaming)

    @property
    def pods(self) -> int:
        return sum(1 for s in self.subs.values() if s.task is not None and not s.task.done())

    async def aclose(self) -> None:
        self._closed = True
        subs = list(self.subs.values())
        for sub in subs:
            if sub.client is not None:
                await sub.client.stop()
            elif sub.task is not None:
                sub.task.cancel()
        tasks = [s.task for s in subs if s.task is not None]
        await asyncio.gather(*tasks, return_exceptions=True)
