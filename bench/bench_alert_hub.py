"""Benchmark (not a test): alert ingestion through AlertHub + AlertStore, and filtered-view updates.

Every figure is printed next to a baseline measured in the same run on the same alerts:
- ingest: `hub.ingest(alert)` vs appending the alert to a plain `deque(maxlen=capacity)`;
- log lines: `hub.ingest_log_line(...)` and the batch path `hub.ingest_log_lines(batch)` (what the log
  followers call) vs `parse_json_alert(line)` + deque append, and vs `orjson.loads(line)` alone (issue 14's
  goal: parse + dedup + store at >= 150k alerts/s per core, where orjson alone parses ~550k/s: the batch
  path within 3.7x of orjson alone);
- views: `FilteredView.update()` per UI tick vs re-filtering the whole store per tick (what a view
  without incremental updates would do).

Times are process CPU time (`time.process_time`), so other processes on a shared machine inflate them
less than wall time would.

With `--before DIR` (a checkout of an earlier commit, e.g. `git worktree add --detach /tmp/old <commit>`),
the batch path of that tree's falcotui runs too, interleaved with this tree's and with orjson alone on the
same lines, best of `--rounds` each: before/after in one run, so a busy machine slows all three alike.

The garbage collector runs with the settings of the processes that ingest (falcotui/ops/gc_tuning.py:
the engine's worker and `alerts -f`); `--default-gc` keeps CPython's defaults (every figure slower, the
collector walking the store's alerts more often).

Run: .venv/bin/python bench/bench_alert_hub.py [--alerts N] [--capacity C] [--before DIR] [--rounds R]
     [--default-gc]
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import random
import sys
import time
from collections import deque

import orjson

from falcotui.falco.alerts import Alert, dedup_key, format_iso8601_ns, parse_json_alert
from falcotui.ops.alerts.hub import AlertHub
from falcotui.ops.alerts.query import parse_query
from falcotui.ops.alerts.store import AlertStore
from falcotui.ops.alerts.view import FilteredView
from falcotui.ops.gc_tuning import tune_for_ingest

NS = 1_000_000_000


@dataclasses.dataclass(slots=True)
class PodLine:
    """What a log follower hands over (falcotui.kube.logs.LogLine's attributes)."""

    pod: str
    node: str
    ts_ns: int
    line: bytes


RULES = [
    ("Terminal shell in container", "Notice", ["container", "mitre_execution", "shell"]),
    (
        "Read sensitive file untrusted",
        "Warning",
        ["T1555", "container", "filesystem", "mitre_credential_access"],
    ),
    ("Drop and execute new binary in container", "Critical", ["container", "mitre_persistence"]),
    ("Contact K8S API Server From Container", "Notice", ["k8s", "container", "network"]),
]


def make_lines(n: int, nodes: int, start_ns: int, seed: int = 1) -> list[tuple[str, bytes]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        rule, prio, tags = rng.choice(RULES)
        node = f"ip-10-0-{i % nodes // 250}-{i % nodes % 250}"
        ns, pod = rng.choice([("shop", "web-7d9f8"), ("payments", "api-5c6d"), ("kube-system", "coredns-1")])
        t = start_ns + i * 200_000
        fields = {
            "container.id": f"{i:012x}",
            "evt.time": t,
            "k8s.ns.name": ns,
            "k8s.pod.name": pod,
            "proc.cmdline": "cat /etc/shadow",
            "proc.name": "cat",
            "user.name": "root",
        }
        obj = {
            "hostname": node,
            "output": f"09:02:17.{i:09d}: {prio} {rule} (user=root cmd=cat /etc/shadow ns={ns} pod={pod})",
            "output_fields": fields,
            "priority": prio,
            "rule": rule,
            "source": "syscall",
            "tags": tags,
            "time": format_iso8601_ns(t),
        }
        out.append((node, orjson.dumps(obj)))
    return out


def best_of(runs: int, fn) -> float:
    best = float("inf")
    for _ in range(runs):
        t = time.process_time()
        fn()
        best = min(best, time.process_time() - t)
    return best


def load_tree(root: str) -> tuple[type, type]:
    """AlertHub and AlertStore of the falcotui package under `root`, imported beside this tree's."""
    ours = {k: v for k, v in sys.modules.items() if k == "falcotui" or k.startswith("falcotui.")}
    for name in ours:
        del sys.modules[name]
    sys.path.insert(0, root)
    try:
        hub = importlib.import_module("falcotui.ops.alerts.hub")
        store = importlib.import_module("falcotui.ops.alerts.store")
        if not hub.__file__.startswith(root):
            raise SystemExit(f"--before {root}: imported {hub.__file__} instead")
    finally:
        sys.path.remove(root)
        for name in [k for k in sys.modules if k == "falcotui" or k.startswith("falcotui.")]:
            del sys.modules[name]
        sys.modules.update(ours)
    return hub.AlertHub, store.AlertStore


def before_after(root: str, received: list[PodLine], cap: int, rounds: int) -> None:
    """The batch path of the tree at `root` and of this one, and orjson alone, interleaved."""
    old_hub, old_store = load_tree(root)
    batches = [received[i : i + 200] for i in range(0, len(received), 200)]

    def batch_path(hub_type: type, store_type: type):
        def run() -> None:
            h = hub_type(store_type(cap))
            for batch in batches:
                h.ingest_log_lines(batch)

        return run

    def orjson_only() -> None:
        loads = orjson.loads
        for item in received:
            loads(item.line)

    runs = {
        "orjson.loads alone": orjson_only,
        f"before ({root})": batch_path(old_hub, old_store),
        "after (this tree)": batch_path(AlertHub, AlertStore),
    }
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(rounds):
        for name, fn in runs.items():
            best[name] = min(best[name], best_of(1, fn))
    n, base = len(received), best["orjson.loads alone"]
    title = f"ingest_log_lines, interleaved (best of {rounds})"
    print(f"\n{title:48} {'µs/line':>9} {'lines/s':>11} {'× orjson':>9}")
    for name, secs in best.items():
        print(f"{name[:48]:48} {secs / n * 1e6:9.2f} {n / secs:11,.0f} {secs / base:9.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--alerts", type=int, default=30_000)
    ap.add_argument("--capacity", type=int, default=10_000)
    ap.add_argument("--nodes", type=int, default=50)
    ap.add_argument("--before", metavar="DIR", help="an earlier checkout whose batch path runs interleaved")
    ap.add_argument("--rounds", type=int, default=15, help="interleaved rounds with --before")
    ap.add_argument("--default-gc", action="store_true", help="CPython's GC thresholds, not the engine's")
    args = ap.parse_args()
    if not args.default_gc:
        # as in the processes that ingest (the engine's worker, `alerts -f`): see falcotui/ops/gc_tuning.py
        tune_for_ingest()
    n, cap = args.alerts, args.capacity
    now = time.time_ns()
    lines = make_lines(n, args.nodes, now - n * 200_000)
    alerts: list[Alert] = [parse_json_alert(line, node=node, pod=f"falco-{node}") for node, line in lines]
    grpc_copies = [dataclasses.replace(a, channel="grpc") for a in alerts]
    gc_note = "CPython's default GC" if args.default_gc else "GC tuned as in the worker and the CLI"
    print(f"{n} alerts, {args.nodes} nodes, store capacity {cap} (best of 3 runs; {gc_note})\n")

    def baseline() -> None:
        d: deque = deque(maxlen=cap)
        for a in alerts:
            d.append(a)

    def touching_baseline() -> None:
        d: deque = deque(maxlen=cap)
        by_rule: dict[str, int] = {}
        for a in alerts:
            d.append(a)
            by_rule[a.rule] = by_rule.get(a.rule, 0) + 1

    def keys_only() -> None:
        for a in alerts:
            dedup_key(a)

    def store_only() -> None:
        s = AlertStore(cap)
        for a in alerts:
            s.append(a)

    def hub_ingest() -> None:
        h = AlertHub(AlertStore(cap))
        for a in alerts:
            h.ingest(a)

    def hub_both_channels() -> None:
        h = AlertHub(AlertStore(cap))
        for a, g in zip(alerts, grpc_copies, strict=True):
            h.ingest(a)
            h.ingest(g)

    grpc_batches = [grpc_copies[i : i + 200] for i in range(0, n, 200)]

    def hub_grpc_batches() -> None:
        h = AlertHub(AlertStore(cap))
        for batch in grpc_batches:
            h.ingest_alerts(batch)

    def parse_baseline() -> None:
        d: deque = deque(maxlen=cap)
        for node, line in lines:
            d.append(parse_json_alert(line, node=node))

    def hub_log_lines() -> None:
        h = AlertHub(AlertStore(cap))
        for node, line in lines:
            h.ingest_log_line(f"falco-{node}", line, node=node)

    received = [PodLine(f"falco-{node}", node, now, line) for node, line in lines]
    batches = [received[i : i + 200] for i in range(0, n, 200)]

    def hub_log_batches() -> None:
        h = AlertHub(AlertStore(cap))
        for batch in batches:
            h.ingest_log_lines(batch)

    def orjson_only() -> None:
        loads = orjson.loads
        for _node, line in lines:
            loads(line)

    base = best_of(3, baseline)
    rows = [
        ("deque.append (baseline)", base, n),
        ("deque.append + count by rule (reads the alert)", best_of(3, touching_baseline), n),
        ("falco.alerts.dedup_key alone", best_of(3, keys_only), n),
        ("AlertStore.append", best_of(3, store_only), n),
        ("AlertHub.ingest (dedup+health+store)", best_of(3, hub_ingest), n),
        ("AlertHub.ingest, log+gRPC copies (2 per alert)", best_of(3, hub_both_channels), 2 * n),
    ]
    if hasattr(AlertHub, "ingest_alerts"):  # the gRPC channel's batch path (since hcpu, issue 14)
        rows.append(("AlertHub.ingest_alerts (gRPC, batches of 200)", best_of(3, hub_grpc_batches), n))
    print(f"{'ingest':48} {'µs/alert':>9} {'alerts/s':>11} {'× baseline':>11}")
    for name, secs, count in rows:
        print(f"{name:48} {secs / count * 1e6:9.2f} {count / secs:11,.0f} {secs / base * n / count:11.1f}")

    pbase = best_of(3, parse_baseline)
    obase = best_of(3, orjson_only)
    print(f"\n{'log lines (JSON parse included)':48} {'µs/line':>9} {'lines/s':>11} {'× baseline':>11}")
    print(f"{'':48} {'':9} {'':11} {'parse':>5} {'orjson':>6}")
    for name, secs in (
        ("orjson.loads alone (baseline)", obase),
        ("parse_json_alert + deque (baseline)", pbase),
        ("AlertHub.ingest_log_line (one line a call)", best_of(3, hub_log_lines)),
        ("AlertHub.ingest_log_lines (batches of 200)", best_of(3, hub_log_batches)),
    ):
        print(f"{name:48} {secs / n * 1e6:9.2f} {n / secs:11,.0f} {secs / pbase:5.2f} {secs / obase:6.2f}")
    print("(goal: ingest_log_lines >= 150k lines/s per core, i.e. at most ~3.7x orjson alone's time)")
    if args.before:
        before_after(args.before, received, cap, args.rounds)

    # views: a full store, then ticks of `batch` new alerts; incremental update vs full re-filter per tick
    print(f"\n{'view update per tick (store full)':48} {'ms/tick':>9} {'incr.':>11} {'× faster':>11}")
    for batch in (20, 500):
        for text in ("priority>=warning node:ip-10-0-0-7", "shadow ns:shop", "since:5m"):
            store = AlertStore(cap)
            for a in alerts[:cap]:
                store.append(a)
            query = parse_query(text)
            view = FilteredView(store, query)
            feed = iter(alerts[cap:])
            ticks = max(1, min(50, (n - cap) // batch))
            incr = full = 0.0
            for _ in range(ticks):
                for _ in range(batch):
                    store.append(next(feed))
                t = time.process_time()
                view.update()
                incr += time.process_time() - t
                t = time.process_time()
                match = query.matcher()
                [e.seq for e in store if match(e.alert, e.channels)]
                full += time.process_time() - t
            label = f"{batch}/tick  {text}"
            print(f"{label:48} {incr / ticks * 1e3:9.3f} {full / ticks * 1e3:9.2f}ms {full / incr:11.0f}")
    print("\n(incr. = FilteredView.update(); the next column is a full re-filter of the store per tick)")


if __name__ == "__main__":
    main()
