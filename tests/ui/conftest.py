"""UI test fixtures: the app on a live simulated cluster (`demo_app`), the app on a frozen state with a fixed
clock (`frozen_app`, for snapshots and exact text), and `screen_text(app)` to read what the app shows.

Frozen state: an Engine that is never started (no network), fed node/pod/DaemonSet objects in the API's
shape and Falco JSON alert lines parsed by the real parser, with a settable clock — every row, rate and
sparkline is then the same on every run. The app reaches it as it reaches any engine: through an
`EngineClient` over the link, the engine on a thread (`app.frozen_engine` is the Engine itself, to feed
before the app runs; while it runs, feed it on its own loop with `await feed(app, fn)`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import orjson
import pytest
from textual.app import App

from falcotui.cli.demo import FAST_TIMINGS, DemoCluster
from falcotui.cli.tui_cmd import build_services
from falcotui.falco.alerts import format_iso8601_ns, parse_json_alert
from falcotui.kube.client import Timeouts, load_clients
from falcotui.ops.deploy.deployer import Deployer
from falcotui.ops.engine import Engine
from falcotui.ops.engine_client import EngineClient
from falcotui.ops.engine_placement import ThreadPlacement
from falcotui.ops.rules.service import RulesService
from falcotui.ui.app import FalcoTuiApp
from falcotui.ui.keymap import UserKeymap
from falcotui.ui.services import Services

NS = 1_000_000_000
NOW = 1_795_683_737 * NS  # 2026-11-26T09:02:17Z
TS = "2026-11-26T08:00:00Z"
GPU = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}


# ---------------------------------------------------------------- reading the screen


def screen_lines(app: App) -> list[str]:
    """The visible screen, one string per terminal row, as the compositor paints it."""
    return ["".join(seg.text for seg in strip).rstrip() for strip in app.screen._compositor.render_strips()]


def screen_text_of(app: App) -> str:
    return "\n".join(screen_lines(app))


@pytest.fixture
def screen_text() -> Callable[[App], str]:
    return screen_text_of


async def wait_for(pilot, predicate: Callable[[], bool], *, timeout: float = 20.0, step: float = 0.1) -> bool:
    """Pause the pilot until `predicate()` holds (bounded); returns whether it did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await pilot.pause(step)
    return predicate()


@pytest.fixture
def until() -> Callable:
    return wait_for


async def wait_shown(pilot, app: App, *parts: str, where: Callable[[str], object] | None = None) -> str:
    """The screen text once it holds every one of `parts` (and `where(text)` is truthy); fails after a
    bounded wait. Lists and headers repaint on the app's tick, so a fixed pause may come too early."""

    def done() -> bool:
        text = screen_text_of(app)
        return all(p in text for p in parts) and (where is None or bool(where(text)))

    assert await wait_for(pilot, done), screen_text_of(app)
    return screen_text_of(app)


@pytest.fixture
def shows() -> Callable:
    """`text = await shows(pilot, app, "paused (+3 new)", where=lambda t: ...)`: see `wait_shown`."""
    return wait_shown


# ---------------------------------------------------------------- frozen state


class Clock:
    def __init__(self, now: int = NOW) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def k8s_node(name: str, *, ready: str = "True", taints: list[dict] | None = None) -> dict:
    obj = {
        "kind": "Node",
        "metadata": {
            "name": name,
            "uid": f"uid-{name}",
            "creationTimestamp": TS,
            "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"},
        },
        "spec": {},
        "status": {
            "conditions": [
                {"type": "Ready", "status": ready, "reason": "KubeletReady", "lastTransitionTime": TS}
            ]
        },
    }
    if taints:
        obj["spec"]["taints"] = taints
    return obj


def k8s_pod(name: str, node: str, *, restarts: int = 0, waiting: dict | None = None) -> dict:
    ready = waiting is None
    state = {"running": {"startedAt": TS}} if ready else {"waiting": waiting}
    return {
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "falco",
            "uid": f"uid-{name}",
            "creationTimestamp": TS,
            "labels": {"app.kubernetes.io/name": "falco", "app.kubernetes.io/instance": "falco"},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "DaemonSet",
                    "name": "falco",
                    "uid": "uid-ds",
                    "controller": True,
                }
            ],
        },
        "spec": {"nodeName": node, "containers": [{"name": "falco", "image": "falcosecurity/falco:0.45.0"}]},
        "status": {
            "phase": "Running",
            "startTime": TS,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [
                {
                    "name": "falco",
                    "image": "falcosecurity/falco:0.45.0",
                    "ready": ready,
                    "restartCount": restarts,
                    "state": state,
                }
            ],
        },
    }


def k8s_daemonset(desired: int, ready: int) -> dict:
    return {
        "kind": "DaemonSet",
        "metadata": {"name": "falco", "namespace": "falco", "uid": "uid-ds", "generation": 1},
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": "falco"}},
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": "falco"}},
                "spec": {"containers": [{"name": "falco", "image": "falcosecurity/falco:0.45.0"}]},
            },
        },
        "status": {
            "desiredNumberScheduled": desired,
            "currentNumberScheduled": desired,
            "numberReady": ready,
            "updatedNumberScheduled": desired,
            "numberAvailable": ready,
            "observedGeneration": 1,
        },
    }


ALERT_KINDS = [
    (
        "Terminal shell in container",
        "Notice",
        "shop",
        "web-7d9f8",
        "bash",
        "A shell was spawned in a container",
    ),
    (
        "Read sensitive file untrusted",
        "Warning",
        "shop",
        "web-7d9f8",
        "cat /etc/shadow",
        "Sensitive file opened for reading by non-trusted program",
    ),
    (
        "Drop and execute new binary in container",
        "Critical",
        "data",
        "db-0",
        "/tmp/x",
        "Executing binary not part of base image",
    ),
    (
        "Clear Log Activities",
        "Warning",
        "ci",
        "runner-5",
        "truncate -s0 /var/log/syslog",
        "Log files were tampered",
    ),
]


def alert_json(
    i: int, node: str, t_ns: int, kind: int, *, output: str | None = None, rule: str | None = None
) -> bytes:
    name, prio, ns, pod, cmd, text = ALERT_KINDS[kind]
    fields = {
        "evt.time": t_ns,
        "k8s.ns.name": ns,
        "k8s.pod.name": pod,
        "proc.cmdline": cmd,
        "container.id": f"c0ffee{i:06d}",
        "user.name": "root",
    }
    out = output if output is not None else f"{text} (user=root command={cmd} k8s_pod_name={pod} seq={i})"
    return orjson.dumps(
        {
            "hostname": node,
            "output": f"09:00:00.000000000: {prio} {out}",
            "output_fields": fields,
            "priority": prio,
            "rule": rule or name,
            "source": "syscall",
            "tags": ["container", "mitre_execution"],
            "time": format_iso8601_ns(t_ns),
        }
    )


def frozen_engine(tmp_path: Path, clock: Clock, *, max_alerts: int = 100_000) -> Engine:
    """An engine that never connects (its clients point at a closed port), fed a fixed fleet and alerts."""
    kubeconfig = tmp_path / "frozen-kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: frozen\n"
        "clusters: [{name: frozen, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: frozen, context: {cluster: frozen, user: u, namespace: falco}}]\n"
    )
    clients = load_clients(str(kubeconfig), None, timeouts=Timeouts(connect=0.5, read=0.5))
    engine = Engine(clients, "falco", read_only=False, clock=clock, alert_capacity=max_alerts)
    nodes = [k8s_node(f"ip-10-0-1-{n}") for n in (11, 23, 57, 80)] + [k8s_node("ip-10-0-2-11", taints=[GPU])]
    pods = [
        k8s_pod("falco-a11", "ip-10-0-1-11"),
        k8s_pod("falco-b23", "ip-10-0-1-23"),
        k8s_pod(
            "falco-c57",
            "ip-10-0-1-57",
            restarts=7,
            waiting={"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container"},
        ),
        k8s_pod("falco-d80", "ip-10-0-1-80"),
    ]
    engine.fleet.replace("nodes", nodes)
    engine.fleet.replace("pods", pods)
    engine.fleet.apply("daemonsets", "added", k8s_daemonset(4, 3))
    # ip-10-0-1-57 runs Ubuntu's kernel.perf_event_paranoid=4: its Falco's last start, as charts#921 shows
    for line in (
        "Thu Nov 26 08:58:01 2026: Falco version: 0.45.0 (x86_64)",
        "Thu Nov 26 08:58:01 2026: Opening 'syscall' source with modern BPF probe.",
        "Thu Nov 26 08:58:01 2026: Starting health webserver with threadiness 2, listening on 0.0.0.0:8765",
        "Thu Nov 26 08:58:01 2026: [libs]: libbpf: tracepoint 'syscalls/sys_enter_connect' perf_event_open() "
        "failed: Permission denied",
        "Thu Nov 26 08:58:01 2026: [libs]: libbpf: prog 'connect_e': failed to create tracepoint "
        "'syscalls/sys_enter_connect' perf event: Permission denied",
        "Error: ",
    ):
        engine.hub.ingest_log_line("falco-c57", line, node="ip-10-0-1-57")
    for pod, node in (
        ("falco-a11", "ip-10-0-1-11"),
        ("falco-b23", "ip-10-0-1-23"),
        ("falco-d80", "ip-10-0-1-80"),
    ):
        engine.hub.ingest_log_line(pod, "Thu Nov 26 08:00:01 2026: Falco version: 0.45.0 (x86_64)", node=node)
        engine.hub.set_channel(node, "log", True, pod=pod)
    i = 0
    for step in range(120):  # 10 minutes of alerts, heavier on ip-10-0-1-23 in the last minutes
        t = NOW - (600 - step * 5) * NS
        for node, kinds in (
            ("ip-10-0-1-23", (0, 1) if step > 90 else (1,)),
            ("ip-10-0-1-11", (3,) if step % 4 == 0 else ()),
        ):
            for kind in kinds:
                engine.hub.ingest(
                    parse_json_alert(alert_json(i, node, t, kind), node=node, pod="falco-x"), received_ns=t
                )
                i += 1
    t = NOW - 1 * NS  # the newest alert, by its time (the order the Alerts list shows) and by arrival
    engine.hub.ingest(
        parse_json_alert(alert_json(i, "ip-10-0-1-80", t, 2), node="ip-10-0-1-80", pod="falco-d80"),
        received_ns=t,
    )
    return engine


def frozen_services(
    tmp_path: Path, *, read_only: bool = False, max_alerts: int = 100_000
) -> tuple[Services, Clock]:
    clock = Clock()
    engine = frozen_engine(tmp_path, clock, max_alerts=max_alerts)
    client = EngineClient(ThreadPlacement(engine), engine.clients, "falco", read_only=engine.read_only)
    services = Services(
        engine=client,
        deployer=Deployer(engine.clients, "falco"),
        rules=RulesService(engine.clients, "falco", reloads=client),
        context_name="prod-eu-1",
        namespace="falco",
        read_only=read_only,
    )
    return services, clock


@pytest.fixture
def frozen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., FalcoTuiApp]:
    """`frozen(read_only=False, max_alerts=100_000, keymap=None)`: the app over the frozen state, in UTC."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()

    def make(
        *, read_only: bool = False, max_alerts: int = 100_000, keymap: UserKeymap | None = None
    ) -> FalcoTuiApp:
        services, clock = frozen_services(tmp_path, read_only=read_only, max_alerts=max_alerts)
        app = FalcoTuiApp(services, start_engine=False, keymap=keymap)
        app.frozen_clock = clock
        app.frozen_engine = services.engine.local_engine
        return app

    yield make
    monkeypatch.delenv("TZ")
    time.tzset()


async def feed_engine(app: FalcoTuiApp, fn: Callable[[Engine], object]) -> object:
    """`fn(engine)` on the running app's engine loop (its thread), e.g. to ingest alerts mid-test."""
    return await app.services.engine.run_in_engine(fn)


@pytest.fixture
def feed() -> Callable:
    """`await feed(app, lambda engine: engine.hub.ingest(...))`: see `feed_engine`."""
    return feed_engine


@pytest.fixture
def alert_bytes() -> SimpleNamespace:
    """Builders for extra alerts in tests (`alert_bytes.line(...)`, `alert_bytes.parse`)."""
    return SimpleNamespace(line=alert_json, parse=parse_json_alert, NOW=NOW, NS=NS)


# ---------------------------------------------------------------- live simulated cluster


@pytest.fixture
def demo_app() -> Iterator[Callable[..., tuple[FalcoTuiApp, DemoCluster]]]:
    """`demo_app(nodes=3, scenario="incident", deploy=True, read_only=False)`: the app on a started simulated
    cluster with fast kubelet timings (the same wiring as `falcotui --demo`)."""
    started: list[DemoCluster] = []

    def make(
        *,
        nodes: int = 3,
        scenario: str = "incident",
        deploy: bool = True,
        read_only: bool = False,
        per_minute: float | None = None,
        **timings: float,
    ) -> tuple[FalcoTuiApp, DemoCluster]:
        demo = DemoCluster(
            nodes=nodes,
            scenario=scenario,
            seed=3,
            timings={**FAST_TIMINGS, **timings},
            per_minute=per_minute,
        )
        started.append(demo)
        demo.start(deploy=deploy)
        services = build_services(
            demo.clients(), namespace="falco", read_only=read_only, context_name="sim", demo=True
        )
        return FalcoTuiApp(services), demo

    yield make
    for demo in started:
        demo.stop()


@pytest.fixture(autouse=True)
def _quiet_grpc() -> None:
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
