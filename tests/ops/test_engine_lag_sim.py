"""The engine's lag at start, against a simulated cluster over real HTTP: replaying the logs' history is not
lateness. Before, the header read the age of each node's last replayed alert ("lag 77.6 s", red) while
nothing was late (issue 14; issue 17 item 7: "the lag shows red at start while history replays")."""

from __future__ import annotations

import time

from simkit import eventually, falco_runtime

from falcotui.falco.alerts import parse_json_alert
from falcotui.kube.apply import Applier
from falcotui.kube.client import KubeClients
from falcotui.kube.logs import split_timestamp
from falcotui.ops.deploy import manifests
from falcotui.ops.engine import Engine, EngineOptions

NS = 1_000_000_000


def logged_alert_times(clients: KubeClients) -> list[int]:
    """Event times of every alert the Falco pods' logs hold now."""
    times = []
    for pod in clients.request("GET", "/api/v1/namespaces/falco/pods")["items"]:
        name = pod["metadata"]["name"]
        if not (pod.get("status", {}).get("containerStatuses") or [{}])[0].get("state", {}).get("running"):
            continue
        resp = clients.open_stream(
            f"/api/v1/namespaces/falco/pods/{name}/log",
            query=[("timestamps", "true"), ("container", "falco")],
            read_timeout=10,
        )
        try:
            body = resp.read()
        finally:
            resp.release_conn()
        for raw in body.split(b"\n"):
            parts = split_timestamp(raw)
            if parts is not None and parts[1].startswith(b"{"):
                times.append(parse_json_alert(parts[1]).time_ns)
    return times


async def test_the_lag_stays_calm_while_history_replays(make_sim_cluster, clients_for) -> None:
    # a one-second burst on every node, then silence: what a tail replays at start is all history
    runtime = falco_runtime(
        "incident", seed=3, per_minute=0, delay=0, duration=1.0, burst_rate=20, fraction=1
    )
    clients = clients_for(make_sim_cluster(runtime=runtime, nodes=3))
    Applier(clients).apply(manifests.render())
    times: list[int] = []

    def history_is_old() -> bool:
        times[:] = logged_alert_times(clients)
        return len(times) > 30 and max(times) < time.time_ns() - 3 * NS

    await eventually(history_is_old, "a burst of alerts, over for 3 s")
    options = EngineOptions(tail_lines=None, probe_interval=0.3, delete_grace=0.5)
    async with Engine(clients, "falco", channels=("log",), options=options) as engine:
        await eventually(lambda: len(engine.store) >= len(times), "the history replayed")
        health = engine.health()
        assert health.log_streams == 3
        assert health.lag_s is None, f"replayed history read as lag {health.lag_s} s on {health.lag_node}"
