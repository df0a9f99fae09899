"""Benchmark (not a test): what one alert-list tick costs across the engine boundary at 100k stored alerts.

The UI's `RemoteView` syncs with the engine's `ViewService` over the real link (a socket pair, pickled
frames; both ends on one loop here, so the figure is the protocol's cost without a second process's
scheduling). Per scenario it prints the reply's pickled size and the CPU per sync, next to two baselines
measured in the same run on the same store:
- in-process: `FilteredView.update()` + slicing the same window (what the UI did before the engine moved);
- whole view: pickling every row of the view (what shipping the view instead of a window would cost).

Scenarios, each with a 45-row list (a window of 90-135 rows: the visible rows and a page each side):
following quiet (no new alerts), following a storm (2,800 new alerts per tick = 20k/s at 7 ticks/s),
paused and scrolled half way while the storm evicts, the side counts (groups) with the update, and a
jump far away (a fetch, no update).

Run: .venv/bin/python bench/bench_remote_view.py [--alerts N] [--ticks T]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import pickle
import random
import socket
import time

from falcotui.falco.alerts import parse_json_alert
from falcotui.ops.alerts.query import parse_query
from falcotui.ops.alerts.store import AlertStore
from falcotui.ops.alerts.view import FilteredView
from falcotui.ops.alerts.view_service import ViewReply, ViewService
from falcotui.ops.engine_link import Link
from falcotui.ui.alerts.remote_view import RemoteView

HEIGHT = 45
STORM_PER_TICK = 2800


def templates(seed: int = 1) -> list:
    """A few hundred distinct alerts (rules, nodes, namespaces) in Falco's JSON shape, parsed for real."""
    import orjson

    rng = random.Random(seed)
    rules = [
        ("Terminal shell in container", "Notice"),
        ("Read sensitive file untrusted", "Warning"),
        ("Drop and execute new binary in container", "Critical"),
        ("Contact K8S API Server From Container", "Notice"),
    ]
    out = []
    for i in range(400):
        rule, prio = rng.choice(rules)
        node = f"ip-10-0-{i % 4}-{i % 50}"
        ns, pod = rng.choice([("shop", "web-7d9f8"), ("payments", "api-5c6d"), ("kube-system", "coredns-1")])
        obj = {
            "hostname": node,
            "output": f"09:02:17.{i:09d}: {prio} {rule} (user=root cmd=cat /etc/shadow pod={pod} ns={ns})",
            "output_fields": {
                "container.id": f"{i:012x}",
                "k8s.ns.name": ns,
                "k8s.pod.name": pod,
                "proc.cmdline": "cat /etc/shadow",
                "proc.name": "cat",
                "user.name": "root",
                "fd.name": "/etc/shadow",
            },
            "priority": prio,
            "rule": rule,
            "source": "syscall",
            "tags": ["container", "mitre_credential_access"],
            "time": "2026-11-26T09:02:17.000000000Z",
        }
        out.append(parse_json_alert(orjson.dumps(obj), node=node, pod=f"falco-{i % 50}"))
    return out


class Feed:
    def __init__(self, store: AlertStore) -> None:
        self.store = store
        self.tpl = templates()
        self.rng = random.Random(2)
        self.t = 1_795_683_737 * 1_000_000_000
        self.lag = {a.node: self.rng.randint(0, 200) * 1_000_000 for a in self.tpl}  # per node, in order

    def add(self, n: int) -> None:
        for _ in range(n):
            self.t += 50_000
            alert = self.rng.choice(self.tpl)  # each node's alerts in order, nodes up to 200 ms apart
            self.store.append(dataclasses.replace(alert, time_ns=self.t - self.lag[alert.node]))


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--ticks", type=int, default=30)
    args = parser.parse_args()

    store = AlertStore(args.alerts)
    feed = Feed(store)
    feed.add(args.alerts)
    service = ViewService(store)
    sizes: list[int] = []

    def handler(target: str, method: str, call_args: tuple):
        result = getattr(service, method)(*call_args)
        if isinstance(result, ViewReply):
            sizes.append(len(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)))
        return result

    a, b = socket.socketpair()
    ui = await Link.over(a, name="ui")
    worker = await Link.over(b, handler, name="worker")
    print(f"store: {len(store):,} alerts; list {HEIGHT} rows; {args.ticks} ticks per scenario (CPU time)")
    print(
        f"{'scenario':<34}{'reply bytes':>12}{'ms/sync':>9}{'in-proc ms':>11}{'ratio':>7}{'whole view B':>14}"
    )

    async def scenario(
        name: str, query: str, *, per_tick: int, follow: bool, groups: bool, fetch: bool
    ) -> None:
        remote = RemoteView(ui.call, parse_query(query))
        local = FilteredView(store, parse_query(query))
        remote.see(0, HEIGHT)
        await remote.update()
        if not follow:
            top = len(remote) // 2
            remote.follow = False
            remote.see(top, HEIGHT)
            remote.hold()
            local.hold()
            await remote.update()
        sizes.clear()
        remote_cpu = local_cpu = 0.0
        for i in range(args.ticks):
            feed.add(per_tick)
            c0 = time.process_time()
            if fetch:
                far = (i * 7919) % max(1, len(remote) - HEIGHT)
                remote.see(far, HEIGHT)
                remote.get(far)
                if remote._fetch is not None:
                    await remote._fetch
            else:
                await remote.update(groups=groups)
            c1 = time.process_time()
            local.update()
            n = len(local)
            top = n - HEIGHT if follow else n // 2
            local.slice(top - HEIGHT, top + 2 * HEIGHT)
            if groups:
                local.group_by_rule(), local.group_by_node()
            c2 = time.process_time()
            remote_cpu += c1 - c0
            local_cpu += c2 - c1
        whole = len(pickle.dumps(list(local), protocol=pickle.HIGHEST_PROTOCOL))
        mean_size = sum(sizes) / max(1, len(sizes))
        ms, base = remote_cpu / args.ticks * 1e3, local_cpu / args.ticks * 1e3
        ratio = ms / base if base else float("inf")
        print(f"{name:<34}{mean_size:>12,.0f}{ms:>9.2f}{base:>11.2f}{ratio:>6.1f}x{whole:>14,}")
        await remote.close()

    await scenario("following, quiet", "", per_tick=0, follow=True, groups=False, fetch=False)
    await scenario(
        "following, storm 2,800/tick", "", per_tick=STORM_PER_TICK, follow=True, groups=False, fetch=False
    )
    await scenario(
        "following, storm + side counts", "", per_tick=STORM_PER_TICK, follow=True, groups=True, fetch=False
    )
    await scenario(
        "paused half way, storm evicting",
        "",
        per_tick=STORM_PER_TICK,
        follow=False,
        groups=False,
        fetch=False,
    )
    await scenario(
        "filtered priority>=warning, storm",
        "priority>=warning",
        per_tick=STORM_PER_TICK,
        follow=True,
        groups=False,
        fetch=False,
    )
    await scenario("jump far (fetch, no update)", "", per_tick=0, follow=False, groups=False, fetch=True)
    await ui.aclose()
    await worker.aclose()


if __name__ == "__main__":
    asyncio.run(main())
