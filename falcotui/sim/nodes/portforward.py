"""The `pods/portforward` subresource over the websocket channel protocol (`v4`/`v5.channel.k8s.io`).

One websocket carries one connection per requested port: port i gets data channel 2i and error channel
2i+1, and the server's first frame on each channel is the port number as uint16 little-endian. The
handler connects to where the pod's port really listens (`resolve`), bridges bytes both ways, and
closes the websocket when the pod side closes (as the kubelet does), or reports on the error channel
when nothing listens there.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import Callable

from aiohttp import WSMsgType, web

from falcotui.sim.api.channel_ws import CLOSE_CHANNEL, frame, upgrade
from falcotui.sim.api.errors import StoreError, not_found

Resolver = Callable[[str, str, int], "tuple[str, int] | None"]
READ_SIZE = 64 * 1024


def make_portforward_handler(store, resolve: Resolver) -> Callable[[web.Request, str, str], object]:
    """The handler for `ApiServer.add_pod_subresource("portforward", ...)`.

    `resolve(namespace, pod, port)` says where that pod port listens, or None if nothing does.
    """

    async def handler(request: web.Request, namespace: str, pod_name: str) -> web.StreamResponse:
        pod = store.peek("pods", namespace, pod_name)
        if pod is None:
            raise not_found("pods", pod_name)
        ports = _ports(request)
        if (pod.get("status") or {}).get("phase") != "Running":
            raise StoreError(400, "unable to upgrade connection: pod not running", "BadRequest")
        ws = await upgrade(request)
        uid = pod["metadata"].get("uid", "")
        conns: list[tuple[asyncio.StreamReader, asyncio.StreamWriter] | None] = []
        for i, port in enumerate(ports):
            await ws.send_bytes(frame(2 * i, struct.pack("<H", port)))
            await ws.send_bytes(frame(2 * i + 1, struct.pack("<H", port)))
            conns.append(await _connect(ws, i, port, resolve(namespace, pod_name, port), pod_name, uid))
        pumps = [
            asyncio.create_task(_pump_to_ws(ws, 2 * i, c[0])) for i, c in enumerate(conns) if c is not None
        ]
        reader = asyncio.create_task(_pump_from_ws(ws, conns))
        try:
            if pumps:  # with no port connected there is nothing left to carry: close right away
                await asyncio.wait([reader, *pumps], return_when=asyncio.FIRST_COMPLETED)
        finally:
            reader.cancel()
            for p in pumps:
                p.cancel()
            for c in conns:
                if c is not None:
                    c[1].close()
            with contextlib.suppress(Exception):
                await ws.close()
        return ws

    return handler


def _ports(request: web.Request) -> list[int]:
    ports: list[int] = []
    for value in request.query.getall("ports", []):
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            if not part.isdigit() or not 0 < int(part) < 65536:
                raise StoreError(400, f'invalid port "{part}"', "BadRequest")
            ports.append(int(part))
    if not ports:
        raise StoreError(400, "portforward: no ports requested", "BadRequest")
    return ports


async def _connect(
    ws: web.WebSocketResponse, index: int, port: int, target: tuple[str, int] | None, pod: str, uid: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
    reason = "connection refused"
    if target is not None:
        try:
            return await asyncio.open_connection(*target)
        except OSError as exc:
            reason = exc.strerror or str(exc)
    message = (
        f"error forwarding port {port} to pod {pod}, uid {uid}: failed to connect to localhost:{port} "
        f"inside the pod's network namespace: dial tcp4 127.0.0.1:{port}: connect: {reason}"
    )
    await ws.send_bytes(frame(2 * index + 1, message.encode()))
    return None


async def _pump_to_ws(ws: web.WebSocketResponse, channel: int, reader: asyncio.StreamReader) -> None:
    while True:
        data = await reader.read(READ_SIZE)
        if not data:
            return
        await ws.send_bytes(frame(channel, data))


async def _pump_from_ws(
    ws: web.WebSocketResponse, conns: list[tuple[asyncio.StreamReader, asyncio.StreamWriter] | None]
) -> None:
    async for msg in ws:
        if msg.type != WSMsgType.BINARY or not msg.data:
            continue
        channel, data = msg.data[0], msg.data[1:]
        if channel == CLOSE_CHANNEL:
            if data and data[0] % 2 == 0 and data[0] // 2 < len(conns):
                c = conns[data[0] // 2]
                if c is not None and c[1].can_write_eof():
                    c[1].write_eof()
            continue
        index = channel // 2
        if channel % 2 or index >= len(conns) or conns[index] is None:
            continue
        writer = conns[index][1]  # type: ignore[index]
        writer.write(data)
        await writer.drain()
