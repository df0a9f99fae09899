"""Pieces every long-lived stream of the kube layer shares: capped jittered backoff between reconnects,
splitting a byte stream into lines, reading a streaming response in chunks, and handing items from
worker threads to the asyncio loop (one loop callback per burst)."""

from __future__ import annotations

import asyncio
import random
import threading
import weakref
from collections.abc import Callable, Iterator

_JITTER = random.Random()


class Backoff:
    """Capped exponential backoff with jitter: delay n is uniform in [(1-j)·d, d], d = min(cap, base·2ⁿ)."""

    def __init__(
        self, base: float = 0.2, cap: float = 10.0, jitter: float = 0.5, rng: random.Random | None = None
    ):
        if base <= 0 or cap < base or not 0 <= jitter <= 1:
            raise ValueError("backoff needs 0 < base <= cap and 0 <= jitter <= 1")
        self.base, self.cap, self.jitter = base, cap, jitter
        self.failures = 0
        self._rng = rng or _JITTER  # one generator for all: seeding one per backoff costs ~50 µs each

    def next_delay(self) -> float:
        ceiling = min(self.cap, self.base * (2 ** min(self.failures, 32)))
        self.failures += 1
        return ceiling * (1 - self.jitter * self._rng.random())

    def reset(self) -> None:
        self.failures = 0


class LineSplitter:
    """Turns arbitrary byte chunks into complete lines (without the newline); keeps the unfinished tail."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, chunk: bytes) -> list[bytes]:
        if b"\n" not in chunk:
            self._buf += chunk
            return []
        if self._buf:  # the start of the first line came with an earlier chunk
            self._buf += chunk
            data = bytes(self._buf)
        else:  # the common case: split the chunk itself, no copy into the buffer and out again
            data = chunk if type(chunk) is bytes else bytes(chunk)
        lines = data.split(b"\n")
        self._buf = bytearray(lines.pop())
        if b"\r" in data:
            return [line[:-1] if line.endswith(b"\r") else line for line in lines]
        return lines

    @property
    def pending(self) -> bytes:
        """Bytes after the last newline: an incomplete line when the stream was cut."""
        return bytes(self._buf)


def iter_chunks(resp, stop: threading.Event, size: int = 65536) -> Iterator[bytes]:
    """Chunks of a streaming urllib3 response as they arrive; ends at EOF or when `stop` is set."""
    while not stop.is_set():
        chunk = resp.read1(size)
        if not chunk:
            return
        yield chunk


class _Mailbox:
    """Items posted by any worker thread of one loop, handed over in one loop callback per burst.

    Fifty log followers under an alert storm would otherwise wake the loop once per line through
    `call_soon_threadsafe`; here the first item of a burst schedules the delivery and the rest ride along.
    Items keep their order."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self._items: list[tuple[Callable[[object], None], object]] = []

    def post(self, put: Callable[[object], None], item: object) -> None:
        with self._lock:
            self._items.append((put, item))
            if len(self._items) > 1:
                return  # a delivery is already scheduled
        try:
            self._loop.call_soon_threadsafe(self._deliver)
        except RuntimeError:  # the loop closed during shutdown
            with self._lock:
                self._items.clear()

    def _deliver(self) -> None:
        with self._lock:
            items, self._items = self._items, []
        for put, item in items:
            try:
                put(item)
            except Exception as exc:  # as asyncio would for a callback of its own: report, go on
                self._loop.call_exception_handler({"message": "event sink failed", "exception": exc})


_MAILBOXES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Mailbox] = weakref.WeakKeyDictionary()
_MAILBOXES_LOCK = threading.Lock()


def _mailbox(loop: asyncio.AbstractEventLoop) -> _Mailbox:
    with _MAILBOXES_LOCK:
        box = _MAILBOXES.get(loop)
        if box is None:
            box = _MAILBOXES[loop] = _Mailbox(loop)
        return box


class Emitter:
    """Delivers events from a worker thread to an asyncio queue or callback on the owning loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sink: asyncio.Queue | Callable[[object], None]):
        self._box = _mailbox(loop)
        self._put = sink.put_nowait if isinstance(sink, asyncio.Queue) else sink

    def __call__(self, item: object) -> None:
        self._box.post(self._put, item)
