"""Events from many worker threads reach the loop complete and in order, in few loop wake-ups."""

from __future__ import annotations

import asyncio
import threading

from falcotui.kube.streams import Emitter


async def test_many_threads_deliver_everything_in_order_per_thread():
    loop = asyncio.get_running_loop()
    got: dict[int, list[int]] = {t: [] for t in range(8)}
    queue: asyncio.Queue = asyncio.Queue()
    emitters = [Emitter(loop, lambda item, t=t: got[t].append(item)) for t in range(8)]
    queued = Emitter(loop, queue)

    def work(t: int) -> None:
        for i in range(2000):
            emitters[t](i)
        queued(("done", t))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    done = {(await asyncio.wait_for(queue.get(), 30))[1] for _ in range(8)}
    for th in threads:
        th.join()
    await asyncio.sleep(0)
    assert done == set(range(8))
    assert all(items == list(range(2000)) for items in got.values())


async def test_a_failing_sink_is_reported_and_the_others_still_get_their_items():
    loop = asyncio.get_running_loop()
    reported: list[BaseException] = []
    loop.set_exception_handler(lambda _loop, ctx: reported.append(ctx["exception"]))
    got: list[int] = []

    def broken(item: object) -> None:
        raise ValueError(f"bad {item}")

    bad, good = Emitter(loop, broken), Emitter(loop, got.append)
    delivered = asyncio.Event()

    def work() -> None:
        bad(1)
        good(2)
        Emitter(loop, lambda _: delivered.set())(None)

    await asyncio.to_thread(work)
    await asyncio.wait_for(delivered.wait(), 10)
    assert got == [2]
    assert [str(e) for e in reported] == ["bad 1"]
