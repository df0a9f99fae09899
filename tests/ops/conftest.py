"""Alert and Kubernetes object builders for the ops tests: alerts are Falco JSON lines parsed by the real
parser (or gRPC messages decoded by the real converter), objects are dicts in the Kubernetes API's shape."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import orjson
import pytest

from falcotui.falco.alerts import Alert, alert_from_grpc, format_iso8601_ns, parse_json_alert
from falcotui.falco.grpc import outputs_pb2
from falcotui.falco.grpc.convert import alert_to_response

NS = 1_000_000_000
#: 2026-11-26T09:02:17Z, the time of the sample log's alerts
T0 = 1_795_683_737 * NS

RULES = {
    "Terminal shell in container": ("Notice", ["container", "mitre_execution", "shell", "T1059"]),
    "Read sensitive file untrusted": (
        "Warning",
        ["T1555", "container", "filesystem", "host", "maturity_stable", "mitre_credential_access"],
    ),
    "Drop and execute new binary in container": ("Critical", ["container", "mitre_persistence", "TA0003"]),
    "Contact K8S API Server From Container": ("Notice", ["k8s", "container", "network", "mitre_discovery"]),
    "Clear Log Activities": ("Warning", ["host", "container", "filesystem", "mitre_defense_evasion"]),
}


def alert_line(
    i: int,
    *,
    node: str = "ip-10-0-1-23",
    rule: str = "Read sensitive file untrusted",
    priority: str | None = None,
    ns: str | None = "shop",
    pod: str = "web-7d9f8",
    time_ns: int | None = None,
    cmd: str = "cat /etc/shadow",
) -> bytes:
    """A JSON alert line in the shape of the sample log's second alert (keys as Falco writes them)."""
    prio, tags = RULES.get(rule, ("Warning", ["custom"]))
    prio = priority or prio
    t = T0 + i * 1_000_000 if time_ns is None else time_ns
    seconds, frac = divmod(t, NS)
    h, rem = divmod(seconds % 86400, 3600)
    stamp = f"{h:02d}:{rem // 60:02d}:{rem % 60:02d}.{frac:09d}"
    fields = {
        "container.id": f"4f1c2a9e{i % 9999:04d}",
        "container.image.repository": "docker.io/library/nginx",
        "container.name": pod,
        "evt.time": t,
        "evt.type": "openat",
        "fd.name": "/etc/shadow",
        "k8s.ns.name": ns,
        "k8s.pod.name": pod,
        "proc.cmdline": cmd,
        "proc.name": cmd.split()[0],
        "user.name": "root",
        "user.uid": 0,
    }
    output = (
        f"{stamp}: {prio} {rule} (file=/etc/shadow user=root command={cmd} "
        f"container_id={fields['container.id']} k8s_pod_name={pod} k8s_ns_name={ns} seq={i})"
    )
    obj = {
        "hostname": node,
        "output": output,
        "output_fields": fields,
        "priority": prio,
        "rule": rule,
        "source": "syscall",
        "tags": tags,
        "time": format_iso8601_ns(t),
    }
    return orjson.dumps(obj)


def log_alert(i: int, *, falco_pod: str | None = None, **kw) -> Alert:
    """An alert as the log channel produces it: the line parsed with the node/pod it was read from."""
    node = kw.get("node", "ip-10-0-1-23")
    return parse_json_alert(alert_line(i, **kw), node=node, pod=falco_pod or f"falco-{node[-2:]}")


def grpc_copy(alert: Alert) -> Alert:
    """The same alert as Falco's gRPC output would deliver it, through the wire format."""
    wire = alert_to_response(alert).SerializeToString()
    return alert_from_grpc(outputs_pb2.response.FromString(wire), node=alert.node, pod=alert.pod)


class Clock:
    """A settable nanosecond clock for stores and hubs (no sleeping in tests)."""

    def __init__(self, now_ns: int = T0 + 3600 * NS) -> None:
        self.now = now_ns

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * NS)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sample_lines(shared_data: Path) -> list[str]:
    return (shared_data / "falco_stdout_sample.log").read_text().splitlines()


@pytest.fixture
def mk() -> SimpleNamespace:
    """The builders, for tests (test modules cannot import conftest under --import-mode=importlib)."""
    return SimpleNamespace(
        NS=NS,
        T0=T0,
        RULES=RULES,
        Clock=Clock,
        alert_line=alert_line,
        log_alert=log_alert,
        grpc_copy=grpc_copy,
    )
