"""Server-side throttling like an overloaded API server: 429 (or 503) with `Retry-After` past a limit.

Facts it rests on:
- API Priority and Fairness rejects what it cannot seat or queue with HTTP 429
  (kubernetes.io/docs/concepts/cluster-administration/flow-control/), and the max-in-flight filter answers
  `429`, `Retry-After: 1`, body `Too many requests, please try again later.`
  (staging/src/k8s.io/apiserver/pkg/server/filters/maxinflight.go: `retryAfter = "1"`, `tooManyRequests`).
- Long-running requests (watches, and the `log`, `exec`, `portforward`, `attach`, `proxy` subresources)
  skip that limit (`BasicLongRunningRequestCheck(sets.NewString("watch", "proxy"), sets.NewString("attach",
  "exec", "proxy", "log", "portforward"))` in kube-apiserver's config; maxinflight.go "Skip tracking long
  running events").
- client-go waits out `Retry-After` on 429 and on 5xx (k8s.io/client-go/rest/with_retry.go `checkWait`);
  an API server that is starting or overloaded can answer 503 with `Retry-After`.

The simulator's handlers are fast, so each admitted request holds its seat `hold` seconds to stand for the
work a real server does; `storm(seconds)` rejects every limited request for a while, as when other tenants
saturate the priority level.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from aiohttp import web

LONG_RUNNING_SUBRESOURCES = frozenset({"log", "exec", "portforward", "attach", "proxy"})
MESSAGE = "Too many requests, please try again later.\n"


def long_running(request: web.Request) -> bool:
    """Watches and streaming subresources, which the concurrency limit does not count."""
    if request.query.get("watch") in ("true", "1") or "/watch/" in request.path:
        return True
    parts = request.path.rstrip("/").split("/")
    return len(parts) >= 2 and parts[-3:-2] == ["pods"] and parts[-1] in LONG_RUNNING_SUBRESOURCES


@dataclass(slots=True)
class Throttle:
    seats: int = 10  # limited requests executing at once
    retry_after: int = 1  # seconds, as maxinflight.go sends
    hold: float = 0.0  # seconds an admitted request keeps its seat
    status: int = 429  # 503 to play an API server that is not ready
    storm_until: float = 0.0  # monotonic; before it every limited request is rejected
    inflight: int = 0
    admitted: int = 0
    rejected: int = 0

    def storm(self, seconds: float, status: int = 429) -> None:
        """Reject every limited request for `seconds` from now."""
        self.status = status
        self.storm_until = time.monotonic() + seconds

    def try_admit(self) -> bool:
        if time.monotonic() < self.storm_until or self.inflight >= self.seats:
            self.rejected += 1
            return False
        self.inflight += 1
        self.admitted += 1
        return True

    def release(self) -> None:
        self.inflight -= 1

    def reject(self) -> web.Response:
        return web.Response(
            status=self.status,
            text=MESSAGE,
            content_type="text/plain",
            headers={"Retry-After": str(self.retry_after)},
        )
