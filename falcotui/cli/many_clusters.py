"""`falcotui alerts` and `falcotui status` over several kubeconfig contexts (`--context a --context b`).

Each cluster is read with its own clients (its own rate limit, credentials and timeouts), concurrently: one
cluster that does not answer is reported (stderr, or `"error"` in JSON) and the others still print; the exit
status is then 1. Every alert carries its cluster as the `cluster` output field — the context name, where
Falcosidekick's customfields put it, and what the TUI's `cluster:` filter reads — and the text lines start
with it. De-duplication stays per cluster (the same alert text on two clusters is two alerts).

- `alerts` without -f: every cluster's window, merged by event time. With -f: every cluster followed live,
  a cluster that cannot be reached at start tried again (ops/engine_fleets.ClusterEngine) while the others
  print; its state changes are said on stderr.
- `status`: each cluster's table under a heading (or `{"clusters": [...]}` with --json).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time

from falcotui.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    CliError,
    Output,
    connect,
    preflight,
    warn,
    write_trusted,
)
from falcotui.falco.sanitize import json_bytes, sanitize
from falcotui.falco.sidekick import CLUSTER_FIELD
from falcotui.kube.errors import KubeError

TICK_S = 0.1


def for_context(args: argparse.Namespace, context: str) -> argparse.Namespace:
    """`args` with one context in place of the list."""
    return argparse.Namespace(**{**vars(args), "context": context, "contexts": [context]})


async def _connect_all(args: argparse.Namespace) -> dict[str, object]:
    """Clients for every context, each checked with /version: the clients, or a CliError saying why."""

    def one(name: str) -> object:
        try:
            clients = connect(for_context(args, name))
        except CliError as exc:
            return exc
        try:
            preflight(clients)
        except CliError as exc:
            clients.close()
            return exc
        return clients

    names = list(args.contexts)
    results = await asyncio.gather(*(asyncio.to_thread(one, n) for n in names))
    return dict(zip(names, results, strict=True))


def _say_failed(failed: dict[str, str]) -> None:
    for name, why in failed.items():
        warn(f"cluster {sanitize(name, max_len=100)}: {sanitize(why, max_len=500)}")


# ---------------------------------------------------------------- alerts


async def alerts_window(args: argparse.Namespace, printer, query, since_ns: int | None) -> int:
    """Every cluster's alerts in the window, merged by event time (the cluster field set on each)."""
    from falcotui.cli.alert_reading import report_unreadable, warn_unmatched_nodes
    from falcotui.ops.alerts.snapshot import take_snapshot

    reached = await _connect_all(args)
    failed = {n: c.message for n, c in reached.items() if isinstance(c, CliError)}
    live = {n: c for n, c in reached.items() if not isinstance(c, CliError)}

    async def read(name: str, clients) -> object:
        try:
            return await take_snapshot(clients, args.falco_namespace, since_ns=since_ns, versions=False,
                                       with_fleet=False)  # fmt: skip
        except KubeError as exc:
            return exc
        finally:
            clients.close()

    snaps = dict(zip(live, await asyncio.gather(*(read(n, c) for n, c in live.items())), strict=True))
    entries, nodes, incomplete = [], [], 0
    for name, snap in snaps.items():
        if isinstance(snap, KubeError):
            failed[name] = str(snap)
            continue
        for entry in snap.hub.store:  # type: ignore[attr-defined]
            entry.alert.output_fields[CLUSTER_FIELD] = name
            entries.append(entry)
        nodes += [(p.get("spec") or {}).get("nodeName") or "" for p in snap.pods]  # type: ignore[attr-defined]
        for pod, why in sorted(snap.errors.items()):  # type: ignore[attr-defined]
            what = f"the log of {sanitize(pod, max_len=253)} could not be read: {sanitize(why, max_len=500)}"
            warn(f"cluster {sanitize(name, max_len=100)}: {what}")
        incomplete += len(snap.errors)  # type: ignore[attr-defined]
        report_unreadable(snap.hub.bad_lines, snap.hub.last_bad_line)  # type: ignore[attr-defined]
    entries.sort(key=lambda e: (e.alert.time_ns, e.alert.output_fields[CLUSTER_FIELD], e.seq))
    printer.write(entries)
    warn_unmatched_nodes(query, nodes)
    _say_failed(failed)
    if failed or incomplete:
        what = f"{len(failed)} of {len(reached)} clusters could not be read" if failed else ""
        if incomplete:
            what += ("; " if what else "") + f"{incomplete} Falco pods' logs could not be read"
        warn(f"the alerts above are incomplete: {what}")
        return EXIT_FAILURE
    return EXIT_OK


async def alerts_follow(args: argparse.Namespace, channels: tuple[str, ...], since_ns: int | None, printer,
                        out: Output) -> int:  # fmt: skip
    """Follow every cluster at once until Ctrl-C; one down at start is retried while the others print."""
    from falcotui.cli.alert_reading import StopSignal
    from falcotui.cli.common import rate_limits
    from falcotui.kube.client import Timeouts
    from falcotui.ops.engine import EngineOptions
    from falcotui.ops.engine_fleets import ClusterEngine, ClusterSpec
    from falcotui.ops.engine_worker import ConnectOptions, EngineSpec

    timeouts = Timeouts(connect=min(10.0, args.request_timeout), read=args.request_timeout)
    options = EngineOptions(tail_lines=None, log_since_ns=since_ns)
    clusters = {
        name: ClusterEngine(ClusterSpec(name, EngineSpec(
            ConnectOptions(args.kubeconfig, name, timeouts, rate_limits(args)), args.falco_namespace,
            channels=channels, options=options)))
        for name in args.contexts
    }  # fmt: skip
    stop = StopSignal()
    said: dict[str, tuple[str, str]] = {}
    for cluster in clusters.values():
        cluster.start(20.0)
    try:
        while not stop.is_set():
            _drain(clusters, printer, out, said)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), TICK_S)
        _drain(clusters, printer, out, said)
    finally:
        await asyncio.gather(*(c.stop() for c in clusters.values()), return_exceptions=True)
    return stop.code


def _drain(clusters: dict, printer, out: Output, said: dict[str, tuple[str, str]]) -> None:
    for name, cluster in clusters.items():
        who = f"cluster {sanitize(name, max_len=100)}"
        state = cluster.current_state()
        key = (state.phase, state.error)
        if said.get(name) != key:
            said[name] = key
            if state.error or state.phase == "failed":
                warn(f"{who}: {state.phase}: {sanitize(state.error, max_len=500)}")
            elif state.phase == "running" and out.progress:
                print(f"falcotui: {who}: following", file=sys.stderr, flush=True)
        engine = cluster.engine
        if engine is None:
            continue
        delta = engine.drain()
        for entry in delta.alerts.alerts:
            entry.alert.output_fields[CLUSTER_FIELD] = name
        printer.write(delta.alerts.alerts)
        if delta.alerts.missed:
            warn(f"cluster {name}: {delta.alerts.missed} alerts arrived faster than they could be printed")
        if out.progress:
            for notice in delta.notices:
                print(
                    f"falcotui: {who}: {sanitize(notice.message, max_len=300)}", file=sys.stderr, flush=True
                )


# ---------------------------------------------------------------- status


async def status_many(args: argparse.Namespace, status_document, status_text) -> int:
    """Each cluster's status (a heading and its table, or one JSON document listing them), written by
    status_cmd's `status_document` / `status_text` (passed in: status_cmd imports this module)."""
    from falcotui.ops.alerts.snapshot import since_ns_from_seconds, take_snapshot

    reached = await _connect_all(args)

    async def read(name: str, clients) -> object:
        try:
            return await take_snapshot(
                clients, args.falco_namespace, since_ns=since_ns_from_seconds(args.since)
            )
        except KubeError as exc:
            return exc
        finally:
            clients.close()

    snaps = {n: c if isinstance(c, CliError) else None for n, c in reached.items()}
    live = {n: c for n, c in reached.items() if not isinstance(c, CliError)}
    snaps.update(zip(live, await asyncio.gather(*(read(n, c) for n, c in live.items())), strict=True))
    now = time.time_ns()
    failed = False
    if args.json:
        docs = []
        for name, snap in snaps.items():
            if isinstance(snap, CliError | KubeError):
                failed = True
                docs.append(
                    {"cluster": name, "error": snap.message if isinstance(snap, CliError) else str(snap)}
                )
                continue
            clients = live[name]
            doc = status_document(snap, clients.context, clients.host, args.falco_namespace, args.since, now)  # type: ignore[arg-type]
            docs.append({"cluster": name, **doc})
        sys.stdout.buffer.write(json_bytes({"clusters": docs}, indent=True) + b"\n")
        sys.stdout.flush()
        return EXIT_FAILURE if failed else EXIT_OK
    out = Output.detect()
    for name, snap in snaps.items():
        heading = f"== cluster {sanitize(name, max_len=100)} ==\n"
        if isinstance(snap, CliError | KubeError):
            failed = True
            why = snap.message if isinstance(snap, CliError) else str(snap)
            out.stream.write(f"{heading}not reachable: {sanitize(why, max_len=500)}\n\n")
            continue
        clients = live[name]
        text = status_text(snap, clients.context, clients.host, args.falco_namespace, args.since, now,  # type: ignore[arg-type]
                           color=out.color)  # fmt: skip
        out.stream.write(heading)
        if out.color:
            write_trusted(out.stream, text + "\n")
        else:
            out.stream.write(text + "\n")
    out.stream.flush()
    return EXIT_FAILURE if failed else EXIT_OK
