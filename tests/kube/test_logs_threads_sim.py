"""Issue 14: following many pods' logs costs no thread per pod. 200 simulated Falco pods are followed (each
stream open and delivering) while the process's thread count stays where it was before."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from falcotui.kube.apply import Applier
from falcotui.kube.logs import PodLogFollowers
from falcotui.kube.rollout import wait_rollout

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_logs_sim import Collector

PODS = 200


@pytest.mark.timeout(300)
async def test_following_200_pods_does_not_start_200_threads(make_falco_sim, connect, manifests, eventually):
    cluster = make_falco_sim(per_minute=60, nodes=PODS)
    kube = connect(cluster)
    Applier(kube).apply(manifests)
    await wait_rollout(kube, "falco", "falco", timeout=240)
    got = Collector()
    followers = PodLogFollowers(kube, got, tail_lines=5)
    before = threading.active_count()
    peak = before
    await followers.start()
    try:

        def every_pod_delivering() -> bool:
            nonlocal peak
            peak = max(peak, threading.active_count())
            return len({x.pod for x in got.lines}) == PODS

        await eventually(every_pod_delivering, "a line from every pod", timeout=240)
        assert len(followers.followed_pods()) == PODS
        during = threading.active_count()
    finally:
        await followers.aclose()
    # the pods informer is one thread; a thread per pod would add 200
    assert during - before <= 5, f"{during - before} threads more while following {PODS} pods"
    assert peak - before <= 5, f"up to {peak - before} threads more while the streams opened"
