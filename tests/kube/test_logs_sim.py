"""Log followers against simulated Falco pods: cut streams, new nodes, container restarts."""

from __future__ import annotations

from falcotui.kube.apply import Applier
from falcotui.kube.client import KubeClients
from falcotui.kube.logs import FollowerNotice, LogFollower, LogLine, PodLogFollowers, split_timestamp
from falcotui.kube.rollout import wait_rollout
from falcotui.sim.config import NodeSpec


def server_log(kube: KubeClients, pod: str, *, previous: bool = False) -> list[tuple[int, str]]:
    """The pod's whole log as the API server has it right now."""
    query = [("timestamps", "true"), ("container", "falco")] + ([("previous", "true")] if previous else [])
    resp = kube.open_stream(f"/api/v1/namespaces/falco/pods/{pod}/log", query=query, read_timeout=10)
    out = []
    for raw in resp.read().split(b"\n"):
        parts = split_timestamp(raw)
        if parts is not None:
            out.append((parts[0], parts[1].decode(errors="replace")))
    return out


class Collector:
    def __init__(self) -> None:
        self.lines: list[LogLine] = []
        self.notices: list[FollowerNotice] = []

    def __call__(self, item: object) -> None:
        if isinstance(item, list):
            self.lines.extend(item)
        else:
            self.notices.append(item)

    def of(self, pod: str) -> list[tuple[int, str]]:
        return [(x.ts_ns, x.line.decode(errors="replace")) for x in self.lines if x.pod == pod]


async def test_cut_streams_and_an_api_restart_lose_and_repeat_nothing(
    make_falco_sim, connect, manifests, eventually
):
    cluster = make_falco_sim(scenario="flaky", per_minute=1800, cut_every=0.3, nodes=2)
    kube = connect(cluster)
    Applier(kube).apply(manifests)
    got = Collector()
    followers = PodLogFollowers(kube, got, tail_lines=None)
    await followers.start()
    try:
        await eventually(lambda: len(followers.followed_pods()) == 2, "a follower per Falco pod")
        await eventually(lambda: len(got.lines) >= 20, "the first lines")
        cluster.restart_api_server()  # every stream and watch drops at once, on top of the flaky cuts
        await eventually(
            lambda: all(f.streams >= 4 for f in followers.followers.values()),
            "each pod's stream was cut and resumed several times",
            timeout=40,
        )
    finally:
        await followers.aclose()
    for pod in followers.followed_pods() | {f.pod for f in followers.followers.values()}:
        mine = got.of(pod)
        full = server_log(kube, pod)
        assert len(mine) > 40
        assert mine == full[: len(mine)], f"{pod}: duplicates or gaps against the server's log"
    assert any(n.kind == "resumed" for n in got.notices)


async def test_a_node_added_later_gets_its_pod_followed(make_falco_sim, connect, manifests, eventually):
    cluster = make_falco_sim(per_minute=600, nodes=2)
    kube = connect(cluster)
    Applier(kube).apply(manifests)
    got = Collector()
    followers = PodLogFollowers(kube, got)
    await followers.start()
    try:
        await eventually(lambda: len(followers.followed_pods()) == 2, "the first two pods are followed")
        cluster.add_node(NodeSpec(name="late-node"))
        await eventually(lambda: len(followers.followed_pods()) == 3, "the new node's pod is followed")
        await eventually(lambda: any(x.node == "late-node" for x in got.lines), "lines from the new node")
        late = next(x for x in got.lines if x.node == "late-node")
        assert late.pod in followers.followed_pods() and late.container == "falco"
    finally:
        await followers.aclose()


async def test_container_restart_is_followed_onto_the_new_instance(
    make_falco_sim, connect, manifests, eventually
):
    cluster = make_falco_sim(per_minute=600, nodes=1)
    kube = connect(cluster)
    Applier(kube).apply(manifests)
    got = Collector()
    followers = PodLogFollowers(kube, got, tail_lines=None)
    await followers.start()
    try:
        await eventually(lambda: len(followers.followed_pods()) == 1, "the pod is followed")
        (pod,) = followers.followed_pods()
        await eventually(lambda: len(got.of(pod)) >= 10, "some lines of the first instance")

        async def kill() -> None:
            await cluster.controllers.container_handle("falco", pod, "falco").stop()

        cluster.call(kill)
        await eventually(lambda: any(n.kind == "restarted" for n in got.notices), "the restart is noticed")
        await eventually(
            lambda: len(server_log(kube, pod)) >= 5 and len([x for x in got.lines if x.ts_ns > max(
                t for t, _ in server_log(kube, pod, previous=True))]) >= 5,
            "lines of the new instance",
        )  # fmt: skip
    finally:
        await followers.aclose()
    before = server_log(kube, pod, previous=True)
    after = server_log(kube, pod)
    mine = got.of(pod)
    assert mine[: len(before)] == before, "the crashed instance's lines, each once"
    new = mine[len(before) :]
    assert new == after[: len(new)], "the new instance from its first line, no duplicates"


async def test_first_start_reads_only_the_tail(make_falco_sim, connect, manifests, eventually) -> None:
    cluster = make_falco_sim(per_minute=0, nodes=1)  # startup lines only: the log stands still
    kube = connect(cluster)
    Applier(kube).apply(manifests)
    pod = (await wait_rollout(kube, "falco", "falco", timeout=30)).nodes[0].pod
    await eventually(lambda: len(server_log(kube, pod)) >= 5, "the startup lines")
    got = Collector()
    follower = LogFollower(kube, "falco", pod, got, tail_lines=3)
    follower.start()
    try:
        await eventually(lambda: len(got.lines) >= 3, "the tail")
    finally:
        await follower.aclose()
    assert got.of(pod) == server_log(kube, pod)[-3:]


async def test_lines_missed_before_a_crash_come_from_the_previous_log(
    make_falco_sim, connect, via_proxy, manifests, eventually
) -> None:
    """The follow stream stalls, the container dies meanwhile: the lines written between the stall and
    the crash are read with `previous=true`, then the new instance is followed from its first line."""
    cluster = make_falco_sim(per_minute=1200, nodes=1)
    direct = connect(cluster)
    Applier(direct).apply(manifests)
    pod = (await wait_rollout(direct, "falco", "falco", timeout=30)).nodes[0].pod
    proxy, kube = await via_proxy(cluster, read_timeout=2)
    got = Collector()
    follower = LogFollower(kube, "falco", pod, got, tail_lines=None, idle_timeout=1.0)
    follower.start()
    try:
        await eventually(lambda: len(got.of(pod)) >= 10, "lines of the first instance")
        proxy.freeze()  # the follow stream goes silent; the container keeps logging
        seen = len(got.of(pod))
        await eventually(lambda: len(server_log(direct, pod)) >= seen + 10, "lines the follower misses")

        async def kill() -> None:
            await cluster.controllers.container_handle("falco", pod, "falco").stop()

        cluster.call(kill)
        await eventually(lambda: any(n.kind == "restarted" for n in got.notices), "the restart", timeout=30)
        await eventually(lambda: len([x for x in got.lines if not x.previous]) > seen + 5, "the new instance")
    finally:
        await follower.aclose()
    before = server_log(direct, pod, previous=True)
    after = server_log(direct, pod)
    mine = got.of(pod)
    assert any(x.previous for x in got.lines), "the gap was filled from the previous log"
    assert mine[: len(before)] == before, "every line of the crashed instance, once"
    new = mine[len(before) :]
    assert new and new == after[: len(new)]


async def test_first_start_since_a_time_reads_from_that_time_then_follows(
    make_falco_sim, connect, manifests, eventually
) -> None:
    cluster = make_falco_sim(per_minute=3000, nodes=1)
    kube = connect(cluster)
    Applier(kube).apply(manifests)
    pod = (await wait_rollout(kube, "falco", "falco", timeout=30)).nodes[0].pod
    await eventually(
        lambda: len({t // 1_000_000_000 for t, _ in server_log(kube, pod)}) >= 3, "a log over 3 seconds"
    )
    before = server_log(kube, pod)
    since_ns = before[len(before) // 2][0] + 1  # not on a whole second: sinceTime alone lets more through
    older = [x for x in before if x[0] < since_ns]
    got = Collector()
    follower = LogFollower(kube, "falco", pod, got, tail_lines=None, since_ns=since_ns)
    follower.start()
    try:
        wanted = len(before) - len(older) + 10
        await eventually(lambda: len(got.lines) >= wanted, "the window, then new lines")
    finally:
        await follower.aclose()
    expected = [x for x in server_log(kube, pod) if x[0] >= since_ns]
    mine = got.of(pod)
    assert mine == expected[: len(mine)], "from the first line at/after the time, no gaps or duplicates"
    assert older and not set(older) & set(mine)
