"""A local TCP listener that forwards each accepted connection to a pod port through the API server.

Every accepted connection opens its own port-forward websocket (`kubernetes.stream.portforward`, one
per connection as the protocol intends). The client library hands back one end of a socket pair that its
proxy thread bridges to the websocket; this module pumps bytes between that end and the accepted TCP
connection on the asyncio loop. Used to reach a Falco pod's gRPC port (5060) from the user's machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from dataclasses import dataclass, field

from kubernetes.stream import portforward

from falcotui.kube.client import KubeClients
from falcotui.kube.errors import KubeError
from falcotui.kube.exec import open_pod_websocket


class PortForwardError(KubeError):
    """The port-forward could not be opened (pod missing, port closed, API unreachable)."""


def open_pod_socket(
    clients: KubeClients, namespace: str, pod: str, port: int
) -> tuple[socket.socket, object]:
    """Blocking: a connected socket to `pod:port` through the API server, and the PortForward to close."""
    where = f"port-forward to {namespace}/{pod}:{port}"
    try:
        clients.check_websocket_proxy()
    except KubeError as exc:
        raise PortForwardError(f"{where}: {exc}") from exc
    try:
        pf = open_pod_websocket(
            clients,
            lambda api: portforward(
                api.connect_get_namespaced_pod_portforward, pod, namespace, ports=str(port)
            ),
            lambda message, code: PortForwardError(f"{where}: {message}", code=code),
        )
    except PortForwardError:
        raise
    except (OSError, ValueError, KubeError) as exc:
        raise PortForwardError(f"{where}: {exc}") from exc
    wrapped = pf.socket(port)
    return wrapped._socket, pf


@dataclass(eq=False)
class PortForwarder:
    """`async with PortForwarder(clients, ns, pod, 5060) as pf:` then connect to `pf.address`."""

    clients: KubeClients
    namespace: str
    pod: str
    remote_port: int
    host: str = "127.0.0.1"
    port: int = 0
    connections: int = 0
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self._closing = False

    @property
    def address(self) -> tuple[str, int]:
        if self._server is None:
            raise PortForwardError("the port-forward listener is not started")
        return self._server.sockets[0].getsockname()[:2]

    async def start(self) -> tuple[str, int]:
        self._closing = False
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        return self.address

    async def __aenter__(self) -> PortForwarder:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def active_connections(self) -> int:
        """Connections being forwarded right now."""
        return len(self._tasks)

    async def close(self, grace: float = 0.0) -> None:
        """Stop listening; give live connections up to `grace` seconds to end on their own, then cut them."""
        self._closing = True  # a connection accepted just before, whose handler has not run yet, is refused
        if self._server is not None:
            self._server.close()
        if self._tasks and grace > 0:
            await asyncio.wait(list(self._tasks), timeout=grace)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # asyncio's server reports anything but a normal return of this callback (a cancellation
        # included) as an unhandled error, so `close()` cutting a connection must end it normally here.
        if self._closing:
            writer.close()
            return
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self.connections += 1
        pf = None
        try:
            opening = asyncio.ensure_future(
                asyncio.to_thread(open_pod_socket, self.clients, self.namespace, self.pod, self.remote_port)
            )
            try:
                sock, pf = await asyncio.shield(opening)
            except PortForwardError as exc:
                self.errors.append(str(exc))
                return
            except asyncio.CancelledError:
                opening.add_done_callback(_close_unused)  # the thread still finishes opening it
                raise
            pod_reader, pod_writer = await asyncio.open_connection(sock=sock)
            try:
                await _pump_both(reader, writer, pod_reader, pod_writer)
            finally:
                pod_writer.close()
                error = pf.error(self.remote_port)
                if error:
                    self.errors.append(f"{self.namespace}/{self.pod}:{self.remote_port}: {error.strip()}")
        except (OSError, asyncio.IncompleteReadError) as exc:
            self.errors.append(str(exc))
        except asyncio.CancelledError:
            pass  # cut by close(); both sides are closed below
        finally:
            writer.close()
            if pf is not None:
                with contextlib.suppress(Exception):
                    pf.close()
            if task is not None:
                self._tasks.discard(task)


def _close_unused(opening: asyncio.Future) -> None:
    if opening.cancelled() or opening.exception() is not None:
        return
    sock, pf = opening.result()
    with contextlib.suppress(Exception):
        sock.close()
        pf.close()


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    try:
        while data := await src.read(65536):
            dst.write(data)
            await dst.drain()
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            if dst.can_write_eof():
                dst.write_eof()


async def _pump_both(
    a_reader: asyncio.StreamReader,
    a_writer: asyncio.StreamWriter,
    b_reader: asyncio.StreamReader,
    b_writer: asyncio.StreamWriter,
) -> None:
    """Copy both ways until either side is finished, then stop the other direction too."""
    tasks = [asyncio.create_task(_pipe(a_reader, b_writer)), asyncio.create_task(_pipe(b_reader, a_writer))]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        # The pod side closing ends the exchange; a local half-close waits for the pod's answer.
        if tasks[1].done():
            tasks[0].cancel()
        else:
            await tasks[1]
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
