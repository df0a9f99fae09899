"""One pipeline per Falco pod, through the simulated cluster over HTTP: a pod's lines are classified where
their kubelet timestamp is known, so a text-mode alert replayed from a tail keeps its own day (Falco's text
output prints only the time of day: falcosecurity/falco userspace/engine/formats.cpp, `*%evt.time: `)."""

from __future__ import annotations

import asyncio
import threading
import time

from simkit import eventually

from falcotui.kube.client import KubeClients
from falcotui.kube.logs import read_log
from falcotui.ops.deploy.deployer import Deployer
from falcotui.ops.engine import Engine, EngineOptions
from falcotui.ops.rules.reload_pipeline import HeadlessPipeline
from falcotui.sim.config import NodeSpec

NS = 1_000_000_000
DAY = 86_400


async def deploy_text_mode(clients: KubeClients) -> list[str]:
    """Falco with `json_output: false` and the time of day in alerts (`time_format_iso_8601: false`, Falco's
    own default; the image's config.d drop-in turns it on, so `-o` turns it off again: -o is applied after
    the drop-ins, configuration.cpp init_from_file)."""
    dep = Deployer(clients)
    plan = dep.plan()
    for obj in plan.objects:
        if obj["kind"] == "ConfigMap" and obj["metadata"]["name"] == "falco-config":
            text = obj["data"]["falco.yaml"]
            assert "json_output: true" in text
            obj["data"]["falco.yaml"] = text.replace("json_output: true", "json_output: false")
        if obj["kind"] == "DaemonSet":
            container = obj["spec"]["template"]["spec"]["containers"][0]
            container["args"] = [*container["args"], "-o", "time_format_iso_8601=false"]
    dep.apply(plan)
    result = await dep.follow_rollout(timeout=30, stuck_grace=5)
    assert result.done, result.explain()
    return [n.pod for n in result.status.nodes]


async def test_a_text_alert_replayed_from_a_tail_keeps_its_kubelet_timestamp(falco_sim, clients_for):
    # the node's clock is two days and a bit behind: every line it logs is older than today
    sim = falco_sim(
        nodes=0, per_minute=1200, extra_nodes=[NodeSpec("old-node", clock_offset=-2 * DAY - 3600)]
    )
    clients = clients_for(sim)
    (pod,) = await deploy_text_mode(clients)

    def text_alerts() -> list[tuple[int, str]]:
        return [(ts, t) for ts, t in read_log(clients, "falco", pod, container="falco") if ": " in t[:40]
                and t[:2].isdigit() and t[2] == ":"]  # fmt: skip

    await eventually(lambda: len(text_alerts()) >= 3, "three text alerts in the pod's log")
    logged = {text: ts for ts, text in text_alerts()}
    assert all(ts < time.time_ns() - DAY * NS for ts in logged.values())  # logged "two days ago"

    # the engine starts later and replays the log's tail
    engine = Engine(clients, "falco", channels=("log",), options=EngineOptions(tail_lines=1000))
    await engine.start()
    try:
        await eventually(
            lambda: sum(1 for e in engine.store.since(0) if e.alert.output in logged) >= 3,
            "the replayed text alerts in the store",
        )
        replayed = [e.alert for e in engine.store.since(0) if e.alert.output in logged]
        for alert in replayed:
            kubelet = logged[alert.output]
            # the alert's time of day, on the day of its line (a fraction of a second before the kubelet
            # stamped it), not on today's date
            assert abs(alert.time_ns - kubelet) < 5 * NS, (alert.time_ns, kubelet)
            assert alert.node == "old-node"
    finally:
        await engine.stop()


async def test_the_headless_pipeline_marks_each_pods_log_and_stops_when_idle(falco_sim, clients_for):
    """`rules push --wait` and a RulesService used alone run the engine's log pipeline: it knows where each
    Falco pod's log stands (the last kubelet timestamp read) and, when nobody asks it anything, stops."""
    sim = falco_sim(nodes=2)
    clients = clients_for(sim)
    dep = Deployer(clients)
    dep.apply(dep.plan())
    assert (await dep.follow_rollout(timeout=30, stuck_grace=5)).done
    # a pipeline an earlier test started may still be winding down: judge only the threads this one starts
    earlier = {t for t in threading.enumerate() if t.name == "reload-pipeline"}
    pipeline = HeadlessPipeline(clients, "falco", idle_s=1.0)
    await asyncio.to_thread(pipeline.start)
    marks = await asyncio.to_thread(pipeline.log_marks)
    pods = {p["metadata"]["name"] for p in clients.request("GET", "/api/v1/namespaces/falco/pods")["items"]}
    assert set(marks) == pods  # every pod's tail line was read before start() returned
    for pod, mark in marks.items():
        logged = read_log(clients, "falco", pod, container="falco")
        assert any(ts == mark for ts, _ in logged)  # a real line's kubelet timestamp
    await eventually(
        lambda: (
            pipeline.closed
            and not any(t.name == "reload-pipeline" and t not in earlier for t in threading.enumerate())
        ),
        "the idle pipeline stopping",
    )
