"""Nodes whose Falco fails or goes blind for reasons only Falco's output shows, through the simulated cluster:
kernel.perf_event_paranoid=4 with the least-privilege capabilities (crash loop, explained), a node without a
reachable runtime socket (`<NA>` container fields, explained), and the privileged profile getting past the
sysctl."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from simkit import eventually, pod_log

from falcotui.falco.alerts import parse_json_alert
from falcotui.kube.apply import Applier
from falcotui.kube.client import KubeClients
from falcotui.ops.deploy import manifests
from falcotui.ops.engine import Engine, EngineOptions
from falcotui.ops.fleet.falco_problems import ProblemKind
from falcotui.ops.fleet.status import NodeState
from falcotui.sim.config import NodeSpec

UBUNTU = NodeSpec("ubuntu-1", perf_event_paranoid=4)
NO_SOCKET = NodeSpec("bare-1", runtime_sockets=())
LIBBPF_LINES = (  # falcosecurity/charts#921, verbatim after the timestamp
    "[libs]: libbpf: tracepoint 'syscalls/sys_enter_connect' perf_event_open() failed: Permission denied",
    "[libs]: libbpf: prog 'connect_e': failed to create tracepoint 'syscalls/sys_enter_connect' perf event: "
    "Permission denied",
)


@pytest.fixture
def cluster(falco_sim, clients_for) -> Callable[..., tuple[object, KubeClients]]:
    """A healthy node, an Ubuntu-default node and one without a runtime socket; `objects` applied."""

    def make(objects: list[dict] | None = None) -> tuple[object, KubeClients]:
        sim = falco_sim(nodes=1, per_minute=900, seed=3, extra_nodes=[UBUNTU, NO_SOCKET])
        clients = clients_for(sim)
        Applier(clients).apply(objects if objects is not None else manifests.render())
        return sim, clients

    return make


def pod_on(clients: KubeClients, node: str) -> dict:
    pods = clients.request("GET", "/api/v1/namespaces/falco/pods")["items"]
    return next(p for p in pods if p["spec"].get("nodeName") == node)


def log_lines(clients: KubeClients, pod: str, previous: bool = False) -> list[str]:
    return [line for _, line in pod_log(clients, pod, previous=previous)]


async def test_fleet_explains_perf_event_paranoid_and_a_missing_runtime_socket(cluster) -> None:
    _, clients = cluster()
    options = EngineOptions(tail_lines=None, probe_interval=0.3, delete_grace=0.5)
    async with Engine(clients, "falco", channels=("log",), options=options) as engine:
        fleet = engine.fleet

        def problem(node: str):
            row = fleet.row(node)
            return row.problem.kind if row is not None and row.problem is not None else None

        await eventually(lambda: problem("ubuntu-1") is ProblemKind.PERF_EVENT_PARANOID, "the sysctl, named")
        await eventually(lambda: problem("bare-1") is ProblemKind.NO_RUNTIME_SOCKET, "the missing socket")
        healthy = "sim-node-01"
        await eventually(lambda: (r := fleet.row(healthy)) is not None and r.alerts_per_min > 3, "alerts")
        assert problem(healthy) is None
        ubuntu = fleet.row("ubuntu-1")
        assert ubuntu is not None
        assert ubuntu.state in (NodeState.CRASH_LOOP, NodeState.FAILING, NodeState.NOT_READY)
        assert any("perf_event_paranoid=2" in r for r in ubuntu.problem.remedies)
        assert any("--privileged" in r for r in ubuntu.problem.remedies)
        assert "sys_enter_connect" in ubuntu.problem.evidence
        bare = fleet.row("bare-1")
        assert bare is not None and bare.state is NodeState.RUNNING  # blind, not down
    # What the API server holds: the crashed Falco's own lines (verbatim), and `<NA>`/null metadata alerts.
    crashed = pod_on(clients, "ubuntu-1")["metadata"]["name"]
    lines = log_lines(clients, crashed, previous=True) or log_lines(clients, crashed)
    bodies = [ln.split(": ", 1)[1] if ": " in ln else ln for ln in lines]
    at = bodies.index(LIBBPF_LINES[0])
    assert bodies[at + 1] == LIBBPF_LINES[1] and lines[at + 2] == "Error: "
    assert any("Starting health webserver" in b for b in bodies[:at])  # it got that far, as real Falco does
    blind = pod_on(clients, "bare-1")["metadata"]["name"]
    alerts = [parse_json_alert(ln) for ln in log_lines(clients, blind) if ln.startswith("{")]
    with_fields = [a for a in alerts if "container.name" in a.output_fields]
    assert with_fields, "the default rules' suggested output names container fields"
    for a in with_fields:
        assert a.output_fields["container.id"] not in (None, "", "<NA>")  # from the kernel's cgroup
        assert a.output_fields["container.name"] is None  # JSON null: no value without the runtime
        assert "container_name=<NA>" in a.output or "<NA>" in a.output


@pytest.mark.parametrize(
    "security",
    [
        {"privileged": True},  # the chart's default
        {
            "capabilities": {
                "drop": ["ALL"],
                "add": ["SYS_ADMIN", "BPF", "PERFMON", "SYS_RESOURCE", "SYS_PTRACE"],
            }
        },
    ],
)
async def test_privileged_or_sys_admin_gets_past_the_sysctl(cluster, security) -> None:
    objects = manifests.render()
    ds = next(o for o in objects if o["kind"] == "DaemonSet")
    ds["spec"]["template"]["spec"]["containers"][0]["securityContext"] = security
    _, clients = cluster(objects)

    def running(node: str) -> bool:
        try:
            st = pod_on(clients, node).get("status", {}).get("containerStatuses") or [{}]
        except StopIteration:
            return False
        return bool(st[0].get("ready"))

    await eventually(lambda: running("ubuntu-1"), "Falco running on the perf_event_paranoid=4 node")
    pod = pod_on(clients, "ubuntu-1")
    assert not any("perf_event_open" in ln for ln in log_lines(clients, pod["metadata"]["name"]))
    assert (pod["status"]["containerStatuses"][0].get("restartCount") or 0) == 0
