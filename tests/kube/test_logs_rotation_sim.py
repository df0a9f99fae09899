"""Issue 17 item 8: the simulated kubelet rotates container logs (containerLogMaxSize, here small), and a log
follower neither loses nor repeats a line: following live through rotations (the kubelet lets a follower
finish the rotated file) and resuming after its stream was cut, from a file other than the one it opened."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from falcotui.kube.apply import Applier
from falcotui.kube.logs import PodLogFollowers

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_logs_sim import Collector, server_log

MAX_SIZE = 2000  # bytes: ~15 of the lines below; the kubelet looks every 0.2 s (10 lines)


async def test_follower_through_rotations_and_a_resume_loses_and_repeats_nothing(
    make_falco_sim, connect, manifests, eventually
):
    cluster = make_falco_sim(
        per_minute=0, nodes=1, container_log_max_size=MAX_SIZE, container_log_monitor_interval=0.2
    )
    kube = connect(cluster)
    Applier(kube).apply(manifests)
    got = Collector()
    followers = PodLogFollowers(kube, got, tail_lines=None)
    await followers.start()
    try:
        await eventually(lambda: len(followers.followed_pods()) == 1, "the pod is followed")
        (pod,) = followers.followed_pods()
        await eventually(
            lambda: cluster.controllers.container_handle("falco", pod, "falco") is not None, "up"
        )
        log = cluster.controllers.container_handle("falco", pod, "falco").ctx.log
        await eventually(lambda: len(got.of(pod)) >= 3, "Falco's start-up lines")

        def write(first: int, n: int) -> None:
            async def go() -> None:
                for i in range(first, first + n):  # a line every 20 ms: the kubelet looks every 0.2 s
                    log.append("stdout", f"marker line {i:04d} " + "x" * 80)
                    await asyncio.sleep(0.02)

            cluster.call(go)

        def markers() -> list[str]:
            return [line for _, line in got.of(pod) if line.startswith("marker line ")]

        write(0, 60)  # rotations while the follower reads along
        await eventually(lambda: len(markers()) >= 60, "every line written so far")
        assert log.rotations >= 3
        # `kubectl logs` now serves the current file only, as the kubelet does
        assert len([t for _, t in server_log(kube, pod) if t.startswith("marker line ")]) < 60

        streams = next(iter(followers.followers.values())).streams
        cluster.restart_api_server()  # the stream drops; the follower resumes from the newest file
        await eventually(lambda: next(iter(followers.followers.values())).streams > streams, "resumed")
        write(60, 40)  # two more rotations after the resume
        await eventually(lambda: len(markers()) >= 100, "the lines after the resume")
    finally:
        await followers.aclose()
    assert markers() == [f"marker line {i:04d} " + "x" * 80 for i in range(100)]  # each once, in order
