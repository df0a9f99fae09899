"""The wire between the UI and the engine's worker: framed, pipelined request/response over one socket.

Both ends are a `Link` on an asyncio loop over one end of a socket pair (a child process's inherited
socket, or a thread's): `await link.call(target, method, *args)` sends a request with a fresh id and
returns the peer's answer when it comes back, so many calls can be in flight at once and none blocks the
loop; requests from the peer go to the link's `handler(target, method, args)`, whose result (or awaited
result) is sent back under the request's id. A frame is a 4-byte big-endian length and a pickle.

Pickle, not JSON: the answers are our own dataclasses and enums (Health, NodeStatus, Notice), which pickle
round-trips as they are, and the peer is always our own worker on a socket pair no one else holds (it is
never a network socket).
"""

from __future__ import annotations

import asyncio
import itertools
import pickle
import socket
import struct
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

HEADER = struct.Struct(">I")
MAX_FRAME = 1 << 30  # a frame this large is a broken peer, not a message
Handler = Callable[[str, str, tuple], Any]

_CALL, _OK, _ERR = 0, 1, 2


class LinkClosed(ConnectionError):
    """The peer went away (or the link was closed) before the answer came."""


class RemoteError(Exception):
    """The peer's handler raised: `type_name` is its class name, `str()` its message, `remote_tb` its
    traceback text (for a log, never for the screen)."""

    def __init__(self, type_name: str, message: str, remote_tb: str = "") -> None:
        super().__init__(message)
        self.type_name = type_name
        self.remote_tb = remote_tb


class Link:
    """One end of the wire; see the module docstring. Make it with `await Link.over(sock, handler)`."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        handler: Handler | None = None,
        *,
        name: str = "link",
    ) -> None:
        self.name = name
        self._reader = reader
        self._writer = writer
        self._handler = handler
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future] = {}
        self._tasks: set[asyncio.Task] = set()
        self._closed = asyncio.Event()
        self.close_reason = ""
        self.calls = 0  # requests sent
        self.served = 0  # requests answered
        self._reading = asyncio.get_running_loop().create_task(self._read_loop(), name=f"{name}-reader")

    @classmethod
    async def over(cls, sock: socket.socket, handler: Handler | None = None, *, name: str = "link") -> Link:
        """A link on the running loop over `sock` (a connected stream socket; the link owns it now)."""
        sock.setblocking(False)
        reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 20)
        return cls(reader, writer, handler, name=name)

    # ------------------------------------------------------------ calling the peer

    async def call(self, target: str, method: str, *args: Any) -> Any:
        """The peer's `handler(target, method, args)`'s answer; RemoteError if it raised, LinkClosed if the
        peer went away first."""
        if self._closed.is_set():
            raise LinkClosed(self.close_reason or f"{self.name} is closed")
        call_id = next(self._ids)
        fut = asyncio.get_running_loop().create_future()
        self._pending[call_id] = fut
        self.calls += 1
        try:
            self._send((_CALL, call_id, target, method, args))
            await self._writer.drain()
        except (OSError, RuntimeError) as exc:  # the transport broke under us
            self._pending.pop(call_id, None)
            self._shut(f"{self.name}: cannot send: {exc}")
            raise LinkClosed(self.close_reason) from None
        try:
            return await fut
        finally:
            self._pending.pop(call_id, None)

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    async def aclose(self) -> None:
        """Close the socket and fail every call still waiting (LinkClosed); safe to call twice."""
        self._shut(f"{self.name} was closed")
        self._reading.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(self._reading, *self._tasks, return_exceptions=True)
        try:
            await self._writer.wait_closed()
        except (OSError, RuntimeError):
            pass

    # ------------------------------------------------------------ internals

    def _send(self, message: tuple) -> None:
        payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        self._writer.write(HEADER.pack(len(payload)) + payload)

    def _shut(self, reason: str) -> None:
        if self._closed.is_set():
            return
        self.close_reason = reason
        self._closed.set()
        self._writer.close()
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(LinkClosed(reason))
        self._pending.clear()

    async def _read_loop(self) -> None:
        reason = f"{self.name}: the peer closed the connection"
        try:
            while True:
                (size,) = HEADER.unpack(await self._reader.readexactly(HEADER.size))
                if size > MAX_FRAME:
                    reason = f"{self.name}: a frame of {size} bytes (broken peer)"
                    return
                self._dispatch(pickle.loads(await self._reader.readexactly(size)))
        except asyncio.IncompleteReadError:
            pass
        except (OSError, pickle.UnpicklingError, EOFError, ValueError) as exc:
            reason = f"{self.name}: {type(exc).__name__}: {exc}"
        finally:
            self._shut(reason)

    def _dispatch(self, message: tuple) -> None:
        kind, call_id = message[0], message[1]
        if kind == _CALL:
            self._serve(call_id, message[2], message[3], message[4])
            return
        fut = self._pending.get(call_id)
        if fut is None or fut.done():
            return  # the caller gave up (cancelled) meanwhile
        if kind == _OK:
            fut.set_result(message[2])
        else:
            fut.set_exception(RemoteError(*message[2]))

    def _serve(self, call_id: int, target: str, method: str, args: tuple) -> None:
        if self._handler is None:
            self._reply_error(call_id, LookupError(f"{self.name} serves no calls"))
            return
        try:
            result = self._handler(target, method, args)
        except Exception as exc:
            self._reply_error(call_id, exc)
            return
        if isinstance(result, Awaitable):
            task = asyncio.ensure_future(result)
            self._tasks.add(task)
            task.add_done_callback(lambda t: self._finish(call_id, t))
        else:
            self._reply(call_id, result)

    def _finish(self, call_id: int, task: asyncio.Future) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            self._reply_error(call_id, LinkClosed("the call was cancelled"))
        elif (exc := task.exception()) is not None:
            self._reply_error(call_id, exc)
        else:
            self._reply(call_id, task.result())

    def _reply(self, call_id: int, value: Any) -> None:
        if self._closed.is_set():
            return
        self.served += 1
        try:
            self._send((_OK, call_id, value))
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            self._reply_error(call_id, exc)

    def _reply_error(self, call_id: int, exc: BaseException) -> None:
        if self._closed.is_set():
            return
        tb = "".join(traceback.format_exception(exc))[-4000:]
        self._send((_ERR, call_id, (type(exc).__name__, str(exc), tb)))
