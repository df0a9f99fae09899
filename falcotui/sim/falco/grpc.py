"""A gRPC server with Falco's (≤ 0.43) output semantics, for the simulated Falco pods and the tests.

Like Falco: one global alert queue per server, each alert is delivered to exactly one subscriber; `sub`
sends whatever is queued each time the client sends a `request`; `get` sends what is queued and ends;
`version` answers the configured version. Stopping ends every stream (Falco restarts its gRPC server on
each hot reload), and the server can be started again on the same port.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import grpc
from grpc import aio

from falcotui.falco.alerts import Alert
from falcotui.falco.grpc import outputs_pb2, outputs_pb2_grpc, version_pb2, version_pb2_grpc
from falcotui.falco.grpc.convert import alert_to_response, version_response


class _Outputs(outputs_pb2_grpc.serviceServicer):
    def __init__(self, server: FalcoGrpcServer) -> None:
        self._server = server

    async def sub(
        self, request_iterator: AsyncIterator[outputs_pb2.request], context: aio.ServicerContext
    ) -> AsyncIterator[outputs_pb2.response]:
        queue = self._server._queue
        async for _request in request_iterator:
            async for response in _take_queued(queue):
                yield response

    async def get(
        self, request: outputs_pb2.request, context: aio.ServicerContext
    ) -> AsyncIterator[outputs_pb2.response]:
        async for response in _take_queued(self._server._queue):
            yield response


async def _take_queued(queue: deque[Alert]) -> AsyncIterator[outputs_pb2.response]:
    """The alerts queued at this moment (another subscriber may take some meanwhile). Alerts published
    while these are sent wait for the next request: draining until empty would never end while Falco
    produces faster than the client reads, and the stream could then neither see the client's next
    request nor its end."""
    for _ in range(len(queue)):
        if not queue:
            return
        yield alert_to_response(queue.popleft())


class _Version(version_pb2_grpc.serviceServicer):
    def __init__(self, server: FalcoGrpcServer) -> None:
        self._server = server

    async def version(
        self, request: version_pb2.request, context: aio.ServicerContext
    ) -> version_pb2.response:
        return self._server._version_message


class FalcoGrpcServer:
    """One simulated Falco's gRPC endpoint.

    TLS: pass PEM bytes (`ca_crt`, `server_crt`, `server_key`) to require mutual TLS, as Falco does on a
    TCP address; without them the server is plaintext (unit use only).
    """

    def __init__(
        self,
        *,
        version: str = "0.43.1",
        engine_version: str = "0.58.0",
        host: str = "127.0.0.1",
        port: int = 0,
        ca_crt: bytes | None = None,
        server_crt: bytes | None = None,
        server_key: bytes | None = None,
        max_queued: int = 100_000,
    ) -> None:
        tls = (ca_crt, server_crt, server_key)
        if any(tls) and not all(tls):
            raise ValueError("mutual TLS needs all of ca_crt, server_crt and server_key")
        self._tls = tls if all(tls) else None
        self._version_message = version_response(version, engine_version)
        self.host = host
        self.port = port
        self._queue: deque[Alert] = deque(maxlen=max_queued)
        self._server: aio.Server | None = None

    @classmethod
    def with_certs(cls, certs: Any, **kwargs: Any) -> FalcoGrpcServer:
        """Require mutual TLS with `ca_crt`, `server_crt`, `server_key` of e.g. falco.certs.GrpcCerts."""
        return cls(ca_crt=certs.ca_crt, server_crt=certs.server_crt, server_key=certs.server_key, **kwargs)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def queued(self) -> int:
        return len(self._queue)

    def publish(self, alert: Alert) -> None:
        """Queue an alert for the next subscriber request (dropped oldest-first past `max_queued`)."""
        self._queue.append(alert)

    async def start(self) -> int:
        """Listen and return the port (0 picks a free one on the first start; restarts reuse it)."""
        if self._server is not None:
            return self.port
        server = aio.server()
        outputs_pb2_grpc.add_serviceServicer_to_server(_Outputs(self), server)
        version_pb2_grpc.add_serviceServicer_to_server(_Version(self), server)
        address = f"{self.host}:{self.port}"
        if self._tls is not None:
            ca, crt, key = self._tls
            creds = grpc.ssl_server_credentials([(key, crt)], root_certificates=ca, require_client_auth=True)
            port = server.add_secure_port(address, creds)
        else:
            port = server.add_insecure_port(address)
        if port == 0:
            raise OSError(f"cannot listen on {address}")
        await server.start()
        self.port, self._server = port, server
        return port

    async def stop(self, grace: float | None = 0.2) -> None:
        """End every stream and stop listening; queued alerts stay queued for the next start."""
        server, self._server = self._server, None
        if server is not None:
            await server.stop(grace)

    async def restart(self, grace: float | None = 0.2) -> None:
        """What a hot reload does to Falco's gRPC server: stop, then start on the same port."""
        await self.stop(grace)
        await asyncio.sleep(0)
        await self.start()
