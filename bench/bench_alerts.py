"""Benchmark (not a test): alert parsing and display sanitizing, each against a baseline of the same run.

Builds a realistic JSONL file of Falco alerts (shaped like the shared sample's, varied values), then prints
alerts/s for `parse_json_alert` next to plain `json.loads` of the same lines, and strings/s for `sanitize`
next to a `str.replace` chain. Usage: `python bench/bench_alerts.py [--lines N]`.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from falcotui.falco.alerts import dedup_key, format_iso8601_ns, parse_json_alert
from falcotui.falco.loglines import LogLineClassifier
from falcotui.falco.sanitize import escape_markup, sanitize

RULES = [
    ("Terminal shell in container", "Notice", ["container", "shell", "mitre_execution"]),
    ("Read sensitive file untrusted", "Warning", ["filesystem", "mitre_credential_access", "T1555"]),
    ("Drop and execute new binary in container", "Critical", ["container", "mitre_persistence", "TA0003"]),
    ("Contact K8S API Server From Container", "Notice", ["k8s", "network", "mitre_discovery"]),
    ("Search Private Keys or Passwords", "Warning", ["host", "mitre_credential_access"]),
]
COMMANDS = [
    "sh -c clear; (bash || ash || sh)",
    "cat /etc/shadow",
    "curl -sk https://10.0.0.1:443/api",
    "find / -name id_rsa",
]


def build_lines(n: int, seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    t = 1795683601_000000000
    lines = []
    for i in range(n):
        t += rng.randrange(1, 50_000_000)
        rule, prio, tags = rng.choice(RULES)
        cmd = rng.choice(COMMANDS)
        pod = f"web-{rng.randrange(16**5):05x}"
        fields = {
            "container.id": f"{rng.randrange(16**12):012x}",
            "container.image.repository": "docker.io/library/nginx",
            "container.name": pod,
            "evt.time": t,
            "evt.type": rng.choice(["execve", "openat", "connect"]),
            "fd.name": rng.choice(["/etc/shadow", "/root/.ssh/id_rsa", None]),
            "k8s.ns.name": rng.choice(["shop", "default", "payments"]),
            "k8s.pod.name": pod,
            "proc.cmdline": cmd,
            "proc.exepath": "/usr/bin/" + cmd.split()[0],
            "proc.name": cmd.split()[0],
            "proc.pname": rng.choice(["bash", "runc", "containerd-shim"]),
            "proc.tty": rng.choice([0, 34816]),
            "user.loginuid": -1,
            "user.name": "root",
            "user.uid": 0,
        }
        clock = format_iso8601_ns(t)
        output = f"{clock[11:29]}: {prio} {rule} | " + " ".join(
            f"{k.replace('.', '_')}={v}" for k, v in fields.items()
        )
        obj = {
            "hostname": f"node-{i % 40}",
            "output": output,
            "output_fields": fields,
            "priority": prio,
            "rule": rule,
            "source": "syscall",
            "tags": tags,
            "time": clock,
        }
        keys = list(obj)
        rng.shuffle(keys)  # Falco does not promise a key order
        lines.append(json.dumps({k: obj[k] for k in keys}, separators=(",", ":")).encode())
    return lines


def rates(
    ours: Callable[[], object], base: Callable[[], object], items: int, repeat: int
) -> tuple[float, float]:
    """Items per second of `ours` and of `base`, best of `repeat` runs each, interleaved so that the load
    of a shared machine weighs on both alike."""
    best = [float("inf"), float("inf")]
    for _ in range(repeat):
        for k, fn in enumerate((ours, base)):
            gc.collect()
            start = time.perf_counter()
            fn()
            best[k] = min(best[k], time.perf_counter() - start)
    return items / best[0], items / best[1]


def each(fn: Callable[[Any], object], items: list) -> Callable[[], None]:
    """Apply fn to every item, keeping no results (so no run pays for another's garbage)."""

    def run() -> None:
        for item in items:
            fn(item)

    return run


def row(label: str, ours: float, base: float, base_label: str, unit: str) -> None:
    print(
        f"  {label:<28} {ours:>11,.0f} {unit}/s  vs {base_label:<22} {base:>11,.0f} {unit}/s"
        f"  ratio {ours / base:5.2f}x"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--lines", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "alerts.jsonl"
        path.write_bytes(b"\n".join(build_lines(args.lines)) + b"\n")
        size = path.stat().st_size
        lines = path.read_bytes().splitlines()
    print(
        f"bench_alerts: {len(lines):,} JSONL alerts, {size / 1e6:.1f} MB, avg {size // len(lines)} bytes/line"
    )

    gc.collect()
    gc.freeze()  # the inputs are long-lived: keep the collector from rescanning them during the runs
    n, r = len(lines), args.repeat
    print(f"parsing (best of {r}, interleaved with the baseline):")
    row(
        "parse_json_alert",
        *rates(each(parse_json_alert, lines), each(json.loads, lines), n, r),
        "json.loads",
        "alerts",
    )
    classifier = LogLineClassifier(node="node-a", pod="falco-1")
    row(
        "LogLineClassifier.classify",
        *rates(each(classifier.classify, lines), each(json.loads, lines), n, r),
        "json.loads",
        "lines",
    )
    alerts = [parse_json_alert(x) for x in lines]
    row("dedup_key", *rates(each(dedup_key, alerts), each(json.loads, lines), n, r), "json.loads", "alerts")

    fields = [a.output for a in alerts] + [str(v) for a in alerts[:20_000] for v in a.output_fields.values()]
    hostile = [f"\x1b]8;;http://x\x1b\\{s}\x1b[2J\u202e[bold]{s[:20]}\n" for s in fields[:50_000]]
    gc.freeze()

    def replace_chain(items: list[str]) -> Callable[[], None]:
        def run() -> None:
            for s in items:
                s.replace("\x1b", "").replace("\n", "⏎").replace("\r", "").replace("\t", " ")

        return run

    print(f"sanitize ({len(fields):,} clean fields, {len(hostile):,} hostile strings):")
    for label, items in (("sanitize (clean)", fields), ("sanitize (hostile)", hostile)):
        row(
            label,
            *rates(each(sanitize, items), replace_chain(items), len(items), r),
            "str.replace chain",
            "str",
        )
    row(
        "sanitize (clean)",
        *rates(each(sanitize, fields), each(len, fields), len(fields), r),
        "len() (floor)",
        "str",
    )
    row(
        "escape_markup (clean)",
        *rates(each(escape_markup, fields), replace_chain(fields), len(fields), r),
        "str.replace chain",
        "str",
    )


if __name__ == "__main__":
    main()
