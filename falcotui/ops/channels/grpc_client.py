"""An async client for Falco's gRPC output (Falco ≤ 0.43): version, and a reconnecting alert subscription
(the network side of `falcotui.falco.grpc`, whose protocol it speaks; `ops.grpc_channels` runs one per pod).

Connection policy (observable through `FalcoGrpcClient.status`):
- each attempt opens a fresh channel and asks `version` first (proves TCP, TLS and the service), then
  opens `sub` and keeps it flowing: a `request{}` right after each received alert (the queue may hold
  more) and otherwise every `poll_interval` — never more requests than responses plus one per interval;
- a lost stream (server restart on hot reload, network) goes UNAVAILABLE and retries with capped
  exponential backoff and jitter, forever, once the server has answered at least once; from then on a
  socket closed during the TLS handshake (a port-forward whose pod port is not listening) is transient too;
- NO_GRPC (terminal): the server answers UNIMPLEMENTED, or nothing ever answered in `max_initial_attempts`
  tries, or the caller said the Falco version is ≥ 0.44 — "Falco ≥ 0.44 has no gRPC output";
- FAILED (terminal): the TLS handshake or authentication was rejected, which retrying cannot fix. Under
  TLS 1.3 a server refusing a missing client certificate only closes the socket, so with no client
  certificate configured any first-connection failure other than "connection refused" counts as this;
- STOPPED after `stop()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import grpc
from grpc import aio

from falcotui.falco.alerts import Alert, AlertParseError, alert_from_grpc
from falcotui.falco.grpc import outputs_pb2, outputs_pb2_grpc, version_pb2, version_pb2_grpc

NO_GRPC_MESSAGE = "Falco ≥ 0.44 has no gRPC output"


class ClientState(StrEnum):
    IDLE = "idle"
    CONNECTING = "connecting"
    STREAMING = "streaming"
    UNAVAILABLE = "unavailable"
    NO_GRPC = "no_grpc"
    FAILED = "failed"
    STOPPED = "stopped"


TERMINAL_STATES = frozenset({ClientState.NO_GRPC, ClientState.FAILED, ClientState.STOPPED})


@dataclass(frozen=True, slots=True)
class ClientStatus:
    state: ClientState
    reason: str = ""
    attempt: int = 0
    retry_in: float | None = None
    since: float = 0.0  # time.monotonic() of the change


class FalcoGrpcError(Exception):
    """A gRPC call to Falco failed; `state` is what the failure means (NO_GRPC, FAILED or UNAVAILABLE)."""

    def __init__(self, state: ClientState, message: str) -> None:
        super().__init__(message)
        self.state = state


@dataclass(frozen=True, slots=True)
class GrpcTls:
    """TLS material as PEM bytes. Falco requires a client certificate (mTLS) on a TCP address.

    `server_name` is the name to verify in the server certificate when the target is an address that is
    not in it (a port-forward on 127.0.0.1, a node IP).
    """

    ca_crt: bytes
    client_crt: bytes | None = None
    client_key: bytes | None = None
    server_name: str | None = None

    def __post_init__(self) -> None:
        if (self.client_crt is None) != (self.client_key is None):
            raise ValueError("a client certificate needs its key, and a key its certificate")

    @classmethod
    def from_certs(cls, certs: Any, *, server_name: str | None = None) -> GrpcTls:
        """From an object with `ca_crt`, `client_crt`, `client_key` (e.g. falcotui.falco.certs.GrpcCerts)."""
        return cls(certs.ca_crt, certs.client_crt, certs.client_key, server_name)

    def channel_credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(self.ca_crt, self.client_key, self.client_crt)


@dataclass(frozen=True, slots=True)
class FalcoVersion:
    version: str
    major: int
    minor: int
    patch: int
    prerelease: str
    build: str
    engine_version: str
    engine_major: int
    engine_minor: int
    engine_patch: int
    engine_fields_checksum: str


_VERSION_PREFIX = re.compile(r"\s*v?(\d+)\.(\d+)")


def has_grpc_output(falco_version: str) -> bool | None:
    """Whether a Falco version still serves gRPC output (≤ 0.43); None when the string is not a version."""
    m = _VERSION_PREFIX.match(falco_version)
    if m is None:
        return None
    return (int(m[1]), int(m[2])) < (0, 44)


class FalcoGrpcClient:
    def __init__(
        self,
        target: str,
        *,
        credentials: GrpcTls | None,
        node: str | None = None,
        pod: str | None = None,
        falco_version: str | None = None,
        poll_interval: float = 0.25,
        call_timeout: float = 5.0,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        max_initial_attempts: int = 6,
        on_state: Callable[[ClientStatus], None] | None = None,
    ) -> None:
        self.target = target
        self.credentials = credentials
        self.node, self.pod = node, pod
        self.falco_version = falco_version
        self.poll_interval = poll_interval
        self.call_timeout = call_timeout
        self.backoff_initial, self.backoff_max = backoff_initial, backoff_max
        self.max_initial_attempts = max_initial_attempts
        self.on_state = on_state
        self.bad_messages = 0  # responses that were not valid alerts (skipped)
        self.answered = False  # the server has answered a call at least once
        self._status = ClientStatus(ClientState.IDLE, since=time.monotonic())
        self._changed = asyncio.Event()
        self._stop = asyncio.Event()
        self._call: aio.StreamStreamCall | None = None

    # ------------------------------------------------------------ state

    @property
    def status(self) -> ClientStatus:
        return self._status

    def _set(
        self, state: ClientState, reason: str = "", attempt: int = 0, retry_in: float | None = None
    ) -> None:
        self._status = ClientStatus(state, reason, attempt, retry_in, time.monotonic())
        self._changed.set()
        self._changed = asyncio.Event()
        if self.on_state is not None:
            self.on_state(self._status)

    async def wait_for_state(self, *states: ClientState, timeout: float | None = None) -> ClientStatus:
        """Wait until the state is one of `states` (or any terminal state); returns the status."""
        async with asyncio.timeout(timeout):
            while self._status.state not in states and self._status.state not in TERMINAL_STATES:
                await self._changed.wait()
        return self._status

    async def stop(self) -> None:
        """End `subscribe()`: the iterator finishes and the state becomes STOPPED."""
        self._stop.set()
        if self._call is not None:
            self._call.cancel()
        if self._status.state not in TERMINAL_STATES:
            self._set(ClientState.STOPPED, "stopped")

    # ------------------------------------------------------------ calls

    def _channel(self) -> aio.Channel:
        if self.credentials is None:
            return aio.insecure_channel(self.target)
        options = []
        if self.credentials.server_name:
            options.append(("grpc.ssl_target_name_override", self.credentials.server_name))
        return aio.secure_channel(self.target, self.credentials.channel_credentials(), options=options)

    async def _version_on(self, channel: aio.Channel) -> FalcoVersion:
        stub = version_pb2_grpc.serviceStub(channel)
        r = await stub.version(version_pb2.request(), timeout=self.call_timeout)
        self.answered = True
        return FalcoVersion(
            r.version, r.major, r.minor, r.patch, r.prerelease, r.build, r.engine_version,
            r.engine_major, r.engine_minor, r.engine_patch, r.engine_fields_checksum,
        )  # fmt: skip

    async def version(self) -> FalcoVersion:
        """Ask Falco its version. Raises FalcoGrpcError (its `state` says NO_GRPC, FAILED or UNAVAILABLE)."""
        async with self._channel() as channel:
            try:
                return await self._version_on(channel)
            except aio.AioRpcError as exc:
                state, message = self._classify(exc)
                raise FalcoGrpcError(state, message) from None

    def _classify(self, exc: aio.AioRpcError, *, answered_once: bool = False) -> tuple[ClientState, str]:
        code, details = exc.code(), exc.details() or ""
        where = f"{self.target}: "
        if code is grpc.StatusCode.UNIMPLEMENTED:
            return ClientState.NO_GRPC, f"{NO_GRPC_MESSAGE} ({where}server does not implement Falco's API)"
        if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
            return ClientState.FAILED, f"{where}authentication rejected: {details}"
        lowered = details.lower()
        answered_once = answered_once or self.answered
        if answered_once and ("socket closed" in lowered or "handshake read failed" in lowered):
            # This server accepted our certificates before: a port-forward to a pod whose port is not
            # listening yet (restart, hot reload) accepts the TCP connection and then closes it.
            return ClientState.UNAVAILABLE, f"{where}not reachable (socket closed during the handshake)"
        no_client_cert = self.credentials is not None and self.credentials.client_crt is None
        if any(k in lowered for k in ("handshake", "ssl", "tls", "certificate", "verification")):
            hint = _tls_hint(lowered)
            if no_client_cert and hint == _GENERIC_TLS_HINT:
                hint = _NO_CLIENT_CERT_HINT
            return ClientState.FAILED, f"{where}TLS handshake failed: {hint} [{details}]"
        if no_client_cert and not answered_once and "connection refused" not in lowered:
            # Under TLS 1.3 the server's rejection of a missing client certificate reaches the client only
            # as a closed socket. Falco on TCP always requires one, so this cannot succeed by retrying.
            return ClientState.FAILED, f"{where}TLS handshake failed: {_NO_CLIENT_CERT_HINT} [{details}]"
        return ClientState.UNAVAILABLE, f"{where}{code.name.lower()}: {details}"

    # ------------------------------------------------------------ subscription

    async def subscribe(self) -> AsyncIterator[Alert]:
        """Alerts from Falco's `sub` stream, reconnecting as the module docstring describes.

        The iterator ends when `stop()` is called (a stopped client stays stopped) or the state becomes
        NO_GRPC/FAILED (see `status`).
        """
        if self.falco_version is not None and has_grpc_output(self.falco_version) is False:
            self._set(ClientState.NO_GRPC, f"{NO_GRPC_MESSAGE} (this pod runs Falco {self.falco_version})")
            return
        try:
            answered_once = False
            failures = 0
            while not self._stop.is_set():
                self._set(ClientState.CONNECTING, self.target, failures)
                reason = "the server ended the stream"
                try:
                    async with self._channel() as channel:
                        await self._version_on(channel)
                        answered_once = True
                        failures = 0
                        async for alert in self._stream(channel):
                            yield alert
                except asyncio.CancelledError:
                    # stop() cancels the call, which surfaces here; a cancelled task must stay cancelled
                    task = asyncio.current_task()
                    if not self._stop.is_set() or (task is not None and task.cancelling()):
                        raise
                    break
                except aio.AioRpcError as exc:
                    if self._stop.is_set():
                        break
                    state, reason = self._classify(exc, answered_once=answered_once)
                    if state is not ClientState.UNAVAILABLE:
                        self._set(state, reason)
                        return
                if self._stop.is_set():
                    break
                failures += 1
                if not answered_once and failures >= self.max_initial_attempts:
                    self._set(
                        ClientState.NO_GRPC,
                        f"{NO_GRPC_MESSAGE}; nothing answered at {self.target} in {failures} attempts "
                        f"(on Falco ≤ 0.43 check grpc.enabled and grpc_output.enabled). Last error: {reason}",
                    )
                    return
                delay = self._backoff(failures)
                self._set(ClientState.UNAVAILABLE, reason, failures, delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), delay)
        finally:
            # also when the consumer stops iterating without calling stop()
            if self._status.state not in TERMINAL_STATES:
                self._set(ClientState.STOPPED, "stopped")

    def _backoff(self, failures: int) -> float:
        ceiling = min(self.backoff_max, self.backoff_initial * 2 ** (failures - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    async def _stream(self, channel: aio.Channel) -> AsyncIterator[Alert]:
        wake = asyncio.Event()

        async def requests() -> AsyncIterator[outputs_pb2.request]:
            while True:
                yield outputs_pb2.request()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), self.poll_interval)
                wake.clear()

        call = outputs_pb2_grpc.serviceStub(channel).sub(requests())
        self._call = call
        self._set(ClientState.STREAMING, self.target)
        try:
            async for response in call:
                wake.set()
                try:
                    alert = alert_from_grpc(response, node=self.node, pod=self.pod)
                except AlertParseError:
                    self.bad_messages += 1
                    continue
                yield alert
        finally:
            self._call = None
            call.cancel()


_GENERIC_TLS_HINT = "certificate rejected (wrong CA or a client certificate the server does not accept)"
_NO_CLIENT_CERT_HINT = "no client certificate configured, and Falco's gRPC on TCP requires mutual TLS"


def _tls_hint(details: str) -> str:
    if "hostname" in details or "server name" in details:
        return "the server certificate is not valid for this name (set GrpcTls.server_name)"
    if "verify" in details or "issuer" in details:
        return "the server certificate is not signed by the configured CA"
    return _GENERIC_TLS_HINT
