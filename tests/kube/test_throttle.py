"""The client-side token bucket (client-go's QPS/burst, interactive before background) and the server's
pushback: 429 and 503 with Retry-After are waited out and retried (at most 10 times, as client-go), a 429
without Retry-After is an error at once, and the pushback shows in `throttle_state()`."""

from __future__ import annotations

import threading
import time

import pytest

from falcotui.kube.client import Timeouts, load_clients
from falcotui.kube.errors import KubeApiError
from falcotui.kube.throttle import (
    DEFAULT_BURST,
    DEFAULT_QPS,
    Priority,
    RateLimits,
    TokenBucket,
    background,
    current_priority,
    retry_after_seconds,
)
from falcotui.sim.api.throttle import Throttle


def test_burst_then_qps() -> None:
    now = [0.0]
    bucket = TokenBucket(qps=200.0, burst=5, clock=lambda: now[0])
    for _ in range(5):
        bucket.acquire()
    assert bucket.granted == 5 and bucket.waiting() == 0, "the burst is served at once"
    sixth = threading.Thread(target=bucket.acquire)
    sixth.start()
    while bucket.waiting() == 0:
        time.sleep(0.001)
    sixth.join(0.05)
    assert sixth.is_alive() and bucket.granted == 5, "no token until time passes"
    now[0] += 1 / 200.0
    sixth.join(10)
    assert not sixth.is_alive() and bucket.granted == 6


def test_interactive_requests_go_before_waiting_background_ones() -> None:
    # The clock is the test's: no token comes while the queue forms (a busy machine's slow thread starts
    # would otherwise let the real clock grant tokens early), then one token per step, in grant order.
    now = [0.0]
    bucket = TokenBucket(qps=40.0, burst=1, clock=lambda: now[0])
    bucket.acquire()  # the bucket is empty now
    order: list[str] = []
    lock = threading.Lock()

    def take(name: str, priority: Priority) -> None:
        bucket.acquire(priority)
        with lock:
            order.append(name)

    def until(pred) -> None:
        deadline = time.monotonic() + 10
        while not pred():
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.001)

    threads = [threading.Thread(target=take, args=(f"bg{i}", Priority.BACKGROUND)) for i in range(6)]
    for i, t in enumerate(threads):  # one after the other: the queue's order is the order of asking
        t.start()
        until(lambda n=i + 1: bucket.waiting(Priority.BACKGROUND) == n)
    user = threading.Thread(target=take, args=("user", Priority.INTERACTIVE))
    user.start()
    until(lambda: bucket.waiting(Priority.INTERACTIVE) == 1)
    for granted in range(1, 8):
        now[0] += 2 / 40.0  # two tokens' worth, capped at the burst of 1: exactly one grant
        until(lambda g=granted: len(order) == g)
    for t in [*threads, user]:
        t.join(10)
    assert order[0] == "user", f"the interactive request jumped the background queue: {order}"
    assert order[1:] == [f"bg{i}" for i in range(6)], "FIFO within one priority"


def test_priority_is_per_thread() -> None:
    assert current_priority() is Priority.INTERACTIVE
    with background():
        assert current_priority() is Priority.BACKGROUND
        seen: list[Priority] = []
        t = threading.Thread(target=lambda: seen.append(current_priority()))
        t.start()
        t.join()
        assert seen == [Priority.INTERACTIVE]
    assert current_priority() is Priority.INTERACTIVE


def test_limits_from_options_environment_and_defaults() -> None:
    assert RateLimits.from_env({}) == RateLimits(DEFAULT_QPS, DEFAULT_BURST)
    env = {"FALCOTUI_QPS": "5", "FALCOTUI_BURST": "10"}  # client-go's own defaults (rest/config.go)
    assert RateLimits.from_env(env) == RateLimits(5.0, 10)
    assert RateLimits.from_env(env, qps=0) == RateLimits(0.0, 10)
    assert TokenBucket(0, 1).unlimited
    with pytest.raises(ValueError, match="FALCOTUI_QPS"):
        RateLimits.from_env({"FALCOTUI_QPS": "fast"})


def test_retry_after_forms() -> None:
    assert retry_after_seconds("1") == 1.0
    assert retry_after_seconds(" 2.5 ") == 2.5
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412478.0) == 2.0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None


@pytest.mark.parametrize("status", [429, 503])
def test_a_storm_is_waited_out_and_the_request_succeeds(make_sim, tmp_path, status) -> None:
    cluster = make_sim(nodes=2)
    throttle = Throttle(seats=100)
    cluster.server.throttle = throttle
    kube = load_clients(cluster.write_kubeconfig(tmp_path / "kc"), environ={}, timeouts=Timeouts(2, 10))
    throttle.storm(1.5, status=status)
    assert kube.request("GET", "/api/v1/nodes")["items"]
    assert throttle.rejected >= 1 and kube.api_client.pushback.retried >= 1
    assert kube.throttle_state().startswith(f"throttled: API server answered {status} Retry-After")
    kube.close()


def test_retries_end_after_ten_and_no_retry_without_retry_after(make_sim, tmp_path) -> None:
    cluster = make_sim(nodes=1)
    throttle = Throttle(seats=100, retry_after=0)
    cluster.server.throttle = throttle
    kube = load_clients(cluster.write_kubeconfig(tmp_path / "kc"), environ={}, timeouts=Timeouts(2, 10))
    throttle.storm(3600)
    with pytest.raises(KubeApiError) as failed:
        kube.request("GET", "/api/v1/nodes")
    assert failed.value.code == 429 and "Too many requests" in str(failed.value)
    assert throttle.rejected == 11, "the first answer and 10 retries (client-go's MaxRetries default)"
    kube.close()


def test_long_running_requests_are_not_limited_by_the_server(make_sim, tmp_path) -> None:
    cluster = make_sim(nodes=1)
    throttle = Throttle(seats=100)
    cluster.server.throttle = throttle
    kube = load_clients(cluster.write_kubeconfig(tmp_path / "kc"), environ={}, timeouts=Timeouts(2, 10))
    throttle.storm(3600)
    resp = kube.open_stream("/api/v1/nodes", query=[("watch", "true"), ("timeoutSeconds", 1)], read_timeout=5)
    assert resp.status == 200
    resp.release_conn()
    kube.close()


async def test_coroutines_wait_for_tokens_behind_interactive_threads_and_a_cancelled_one_leaves() -> None:
    import asyncio
    import contextlib

    now = [0.0]
    bucket = TokenBucket(qps=10.0, burst=1, clock=lambda: now[0])
    await bucket.acquire_async()  # the burst
    order: list[str] = []

    async def take(name: str) -> None:
        await bucket.acquire_async(Priority.BACKGROUND)
        order.append(name)

    first, second = asyncio.create_task(take("first")), asyncio.create_task(take("second"))
    while bucket.waiting() < 2:
        await asyncio.sleep(0.001)
    interactive = threading.Thread(
        target=lambda: (bucket.acquire(Priority.INTERACTIVE), order.append("user"))
    )
    interactive.start()
    while bucket.waiting() < 3:
        await asyncio.sleep(0.001)
    second.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await second
    assert bucket.waiting() == 2, "the cancelled coroutine left the queue"
    now[0] += 0.1  # one token
    await asyncio.to_thread(interactive.join, 10)
    assert order == ["user"], "the interactive request goes before the waiting background ones"
    now[0] += 0.1
    await asyncio.wait_for(first, 10)
    assert order == ["user", "first"] and bucket.waiting() == 0 and bucket.granted == 3
