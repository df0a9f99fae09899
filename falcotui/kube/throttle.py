"""Client-side rate limiting like client-go's, interactive requests ahead of background ones, and the
server's pushback (429/503 with `Retry-After`) recorded so the UI can say "throttled" instead of hanging.

Facts: client-go's REST client passes every request — a watch or a log stream once, when it opens —
through a token bucket (`flowcontrol.NewTokenBucketRateLimiter(QPS, Burst)`, `Request.tryThrottle` in
rest/request.go) whose defaults are `DefaultQPS = 5.0`, `DefaultBurst = 10` (rest/config.go); a negative QPS
turns it off. On 429 and 5xx with `Retry-After` it waits that many seconds and retries, at most 10 times
(rest/with_retry.go `checkWait`, rest/request.go "The default is 10"). kubectl keeps those defaults for its
requests; kube-scheduler raises them to 50/100 (KubeSchedulerConfiguration clientConnection defaults), the
scale falcotui works at: one log stream per node opens at start-up, so 5/s would take 200 s at 1,000 nodes.
falcotui's defaults are therefore 50/100, set with `--qps/--burst` or `FALCOTUI_QPS`/`FALCOTUI_BURST`.

Priorities are two: INTERACTIVE (what the user is waiting for: apply, rules, a node's details) and
BACKGROUND (informers, log followers, reload tracking). A thread marks itself background with
`background()`; waiting background requests never take a token while an interactive one waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from falcotui.kube.client import TimeoutApiClient

CLIENT_GO_DEFAULT_QPS, CLIENT_GO_DEFAULT_BURST = 5.0, 10
DEFAULT_QPS, DEFAULT_BURST = 50.0, 100
MAX_RETRIES = 10  # client-go's retry ceiling for Retry-After answers
MAX_RETRY_AFTER = 60.0  # seconds; a longer Retry-After is cut to this (a stuck screen is worse)
THROTTLED_MEMORY = 5.0  # seconds a pushback keeps the "throttled" state after its Retry-After has passed
QPS_ENV, BURST_ENV = "FALCOTUI_QPS", "FALCOTUI_BURST"


class Priority(enum.IntEnum):
    INTERACTIVE = 0
    BACKGROUND = 1


_local = threading.local()


@contextlib.contextmanager
def background() -> Iterator[None]:
    """Requests of this thread inside the block yield to interactive ones."""
    before = getattr(_local, "background", False)
    _local.background = True
    try:
        yield
    finally:
        _local.background = before


def current_priority() -> Priority:
    return Priority.BACKGROUND if getattr(_local, "background", False) else Priority.INTERACTIVE


@dataclass(frozen=True, slots=True)
class RateLimits:
    """`qps <= 0` means no client-side limit (as client-go's negative QPS)."""

    qps: float = DEFAULT_QPS
    burst: int = DEFAULT_BURST
    max_retries: int = MAX_RETRIES

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] = os.environ, *, qps: float | None = None, burst: int | None = None
    ) -> RateLimits:
        """Explicit values first, then `FALCOTUI_QPS`/`FALCOTUI_BURST`, then the defaults."""
        try:
            env_qps = float(environ[QPS_ENV]) if environ.get(QPS_ENV) else None
            env_burst = int(environ[BURST_ENV]) if environ.get(BURST_ENV) else None
        except ValueError as exc:
            raise ValueError(f"{QPS_ENV}/{BURST_ENV} must be numbers: {exc}") from None
        q = qps if qps is not None else env_qps if env_qps is not None else DEFAULT_QPS
        b = burst if burst is not None else env_burst if env_burst is not None else DEFAULT_BURST
        if b < 1:
            raise ValueError("burst must be at least 1")
        return cls(q, b)


class _LoopEvent:
    """`threading.Event`'s `set`/`clear` for a waiter on an event loop: `set()` may come from any thread."""

    __slots__ = ("_future", "_loop", "_thread")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._thread = threading.get_ident()
        self._future: asyncio.Future[None] = loop.create_future()

    def set(self) -> None:
        if threading.get_ident() == self._thread:
            self._fire()
            return
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
            self._loop.call_soon_threadsafe(self._fire)

    def _fire(self) -> None:
        if not self._future.done():
            self._future.set_result(None)

    def clear(self) -> None:  # on the loop's thread, under the bucket's lock
        if self._future.done():
            self._future = self._loop.create_future()

    async def wait(self, timeout: float | None) -> None:
        await asyncio.wait({self._future}, timeout=timeout)


class _Waiter:
    __slots__ = ("event", "granted")

    def __init__(self, event: threading.Event | _LoopEvent | None = None) -> None:
        self.event = event if event is not None else threading.Event()
        self.granted = False


class TokenBucket:
    """`qps` tokens a second, at most `burst` saved; `acquire()` blocks until a token is granted.

    Waiters queue by priority, first come first served within one; only the queue's head sleeps on a
    timer (until the next token), the rest sleep until granted, so a thousand waiting threads cost nothing.
    """

    def __init__(self, qps: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.qps, self.burst, self._clock = qps, burst, clock
        self._tokens = float(burst)
        self._stamp = clock()
        self._lock = threading.Lock()
        self._queues: tuple[deque[_Waiter], deque[_Waiter]] = (deque(), deque())
        self.granted = 0

    @property
    def unlimited(self) -> bool:
        return self.qps <= 0

    def waiting(self, priority: Priority | None = None) -> int:
        if priority is None:
            return len(self._queues[0]) + len(self._queues[1])
        return len(self._queues[priority])

    def acquire(self, priority: Priority = Priority.INTERACTIVE) -> float:
        """Take one token (waiting for it); returns the seconds waited."""
        if self.unlimited:
            self.granted += 1
            return 0.0
        start = self._clock()
        me = self._enqueue(_Waiter(), priority)
        while (delay := self._turn(me)) is not False:
            me.event.wait(delay)
        return self._clock() - start

    async def acquire_async(self, priority: Priority = Priority.BACKGROUND) -> float:
        """`acquire()` for a coroutine: waits without blocking its loop; a cancelled waiter leaves the
        queue (a token granted to it meanwhile is spent)."""
        if self.unlimited:
            self.granted += 1
            return 0.0
        start = self._clock()
        event = _LoopEvent(asyncio.get_running_loop())
        me = self._enqueue(_Waiter(event), priority)
        try:
            while (delay := self._turn(me)) is not False:
                await event.wait(delay)
        except asyncio.CancelledError:
            with self._lock:
                if not me.granted:
                    with contextlib.suppress(ValueError):
                        self._queues[priority].remove(me)
                    self._dispatch_locked()  # wake the next head if it was this one
            raise
        return self._clock() - start

    def _enqueue(self, me: _Waiter, priority: Priority) -> _Waiter:
        with self._lock:
            self._queues[priority].append(me)
            self._dispatch_locked()
        return me

    def _turn(self, me: _Waiter) -> float | Literal[False] | None:
        """False once `me` holds a token; else how long it sleeps before looking again (the queue's head
        until the next token, None: until woken)."""
        with self._lock:
            if not me.granted:
                self._dispatch_locked()
            if me.granted:
                return False
            me.event.clear()
            return (1.0 - self._tokens) / self.qps if me is self._head() else None

    def _head(self) -> _Waiter | None:
        q = self._queues[0] or self._queues[1]
        return q[0] if q else None

    def _dispatch_locked(self) -> None:
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * self.qps)
        self._stamp = now
        while self._tokens >= 1.0:
            head = self._head()
            if head is None:
                return
            (self._queues[0] or self._queues[1]).popleft()
            self._tokens -= 1.0
            self.granted += 1
            head.granted = True
            head.event.set()
        head = self._head()
        if head is not None:
            head.event.set()  # the new head times the next token


@dataclass(eq=False)
class Pushback:
    """What the server's 429/503 answers did lately; read by the UI/CLI to say "throttled"."""

    clock: Callable[[], float] = time.monotonic
    answers: int = 0  # 429/503 answers with Retry-After
    retried: int = 0
    until: float = 0.0  # monotonic time the last Retry-After ends
    last_status: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, status: int, seconds: float) -> None:
        with self._lock:
            self.answers += 1
            self.last_status = status
            self.until = max(self.until, self.clock() + seconds)

    def active(self) -> bool:
        return self.answers > 0 and self.clock() < self.until + THROTTLED_MEMORY


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` as seconds (delta-seconds, or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        import email.utils  # only for an HTTP-date Retry-After (rare): not at every CLI start

        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True, slots=True)
class Again:
    """Send the request again: after `wait` seconds, or at once with a fresh credential (`refresh`)."""

    refresh: bool
    wait: float = 0.0


@dataclass(eq=False)
class RetryRules:
    """When one request is sent again (client-go's rules, for the sync client and `kube.aio` alike): once
    after a 401 when an exec plugin gives the credentials (its token is forgotten first: exec.go's
    roundTripper), and after a 429/503 with `Retry-After` (waited out, at most `MAX_RETRY_AFTER`), up to
    `RateLimits.max_retries` times; each pushback is recorded for the "throttled" state."""

    api: TimeoutApiClient  # kube.client's ApiClient: its credentials, limits and pushback
    refreshed: bool = False
    retries: int = 0

    def next_try(self, status: int, retry_after: str | None, headers: Mapping[str, Any]) -> Again | None:
        api = self.api
        if status == 401 and api.credentials is not None and not self.refreshed and headers:
            api.credentials.rejected(_bearer(headers))
            self.refreshed = True
            return Again(refresh=True)
        if status in (429, 503) and self.retries < api.limits.max_retries:
            wait = retry_after_seconds(retry_after)
            if wait is not None:
                wait = min(wait, MAX_RETRY_AFTER)
                api.pushback.note(status, wait)
                self.retries += 1
                api.pushback.retried += 1
                return Again(refresh=False, wait=wait)
        return None


def _bearer(headers: Mapping[str, Any]) -> str:
    value = str(headers.get("authorization") or headers.get("Authorization") or "")
    return value.removeprefix("Bearer ").strip()
