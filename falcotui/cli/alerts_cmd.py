"""`falcotui alerts`: Falco's alerts from every node, merged and de-duplicated, as lines or JSON lines.

Without `-f`: what the Falco pods' logs hold for the window (`--since`, default all of it), oldest first,
then exit. With `-f`: the same, then follow every pod's log (and gRPC where the pod's Falco has it) until
Ctrl-C, through cut streams, API server restarts, pod restarts and new nodes, each alert printed once.
`--json` prints one object per line (Falco's alert keys plus `node`, `pod`, `channel`) for jq.

`--from nats://HOST:PORT[,…]` reads Falcosidekick's JetStream stream instead (no cluster access needed):
the stream's alerts since `--since` (or all it keeps), and with `-f` live after them; with `--channels`
the cluster's own channels too, de-duplicated against it. A missing stream is said plainly (exit 1);
`--create-stream` shows the configuration it would create and asks (cli/nats_options.ensure_stream).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterable
from typing import BinaryIO

from falcotui.cli.alert_reading import StopSignal, report_unreadable, warn_unmatched_nodes
from falcotui.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    Output,
    add_cluster_options,
    cli_command,
    connect,
    error,
    preflight,
    run_async,
    silence_stdout,
    warn,
)
from falcotui.cli.nats_options import add_nats_source, ensure_stream, nats_source, typed_nats_options
from falcotui.falco.alerts import Alert, Priority, alert_to_json
from falcotui.falco.sanitize import json_bytes, json_passes, sanitize
from falcotui.falco.sidekick import CLUSTER_FIELD
from falcotui.ops.alerts.query import AlertQuery, QueryError
from falcotui.ops.alerts.store import StoredAlert

TICK_S = 0.1  # how often the NATS-only follow loop drains its hub
#: how often `follow` drains the engine: alerts are printed as soon as they are stored (on_stored) or passed
#: on (the relay), so the tick only prints notices; idle at 10 ticks a second it cost 0.5% of a core (0.2%)
FOLLOW_TICK_S = 0.5
_COLORS = {
    Priority.EMERGENCY: "1;31",
    Priority.ALERT: "1;31",
    Priority.CRITICAL: "1;31",
    Priority.ERROR: "31",
    Priority.WARNING: "33",
    Priority.NOTICE: "36",
    Priority.INFORMATIONAL: "2",
    Priority.DEBUG: "2",
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "alerts",
        help="print Falco's alerts from every node (JSON lines with --json)",
        description="Print the alerts the Falco pods' logs hold (every node, de-duplicated, oldest first); "
        "with -f keep following them, and Falco's gRPC output where a node's Falco (<= 0.43) offers it.",
    )
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new alerts until Ctrl-C")
    p.add_argument("--json", action="store_true", help="one JSON object per alert per line (for jq)")
    p.add_argument("--min-priority", metavar="P", help="Emergency … Debug: this priority or more severe")
    p.add_argument("--rule", metavar="R", help="rule name contains R (case-insensitive)")
    p.add_argument("--node", metavar="N", help="alerts from node N")
    p.add_argument(
        "--k8s-namespace",
        "--workload-namespace",
        dest="workload_namespace",
        metavar="NS",
        help="alerts about workloads in namespace NS (k8s.ns.name; -n is Falco's own namespace)",
    )
    p.add_argument(
        "--since", metavar="WHEN", help="only alerts since a duration ago (10m, 2h) or an ISO time"
    )
    p.add_argument(
        "--channels",
        metavar="LIST",
        help="with -f: log, grpc or log,grpc (default); without -f only the logs have history",
    )
    add_nats_source(
        p,
        "nats://HOST:PORT[,HOST:PORT…]: read Falcosidekick's NATS JetStream stream (no cluster needed; "
        "with --channels and -f, beside the cluster's own channels)",
        create=True,
    )
    add_cluster_options(p)
    p.set_defaults(handler=run, many_contexts=True)


def parse_channels(text: str) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(c.strip().lower() for c in text.split(",") if c.strip()))
    bad = [c for c in chosen if c not in ("log", "grpc")]
    if bad or not chosen:
        what = ", ".join(bad) or "(none)"
        raise CliError(f"--channels: unknown channel {what} (use log, grpc or log,grpc)", EXIT_USAGE)
    return chosen


def build_query(args: argparse.Namespace) -> AlertQuery:
    try:
        return AlertQuery.from_options(
            min_priority=args.min_priority, rule=args.rule, node=args.node, namespace=args.workload_namespace,
            since=args.since,
        )  # fmt: skip
    except QueryError as exc:
        raise CliError(exc.message, EXIT_USAGE) from None


class AlertPrinter:
    """Writes alerts that pass the query: JSON lines, or one sanitized line each (coloured on a TTY)."""

    def __init__(
        self, out: BinaryIO, *, json: bool, color: bool, match: Callable[[Alert, tuple], bool] | None
    ) -> None:
        self.out = out
        self.json = json
        self.color = color
        self.match = match
        self.printed = 0
        self.cluster_column = False  # many clusters: each text line starts with its alert's cluster
        self._tails: dict[str | None, tuple[str | None, bytes]] = {}  # pod -> (node, `_log_tail`)

    def write(self, entries: Iterable[StoredAlert], lines: dict[int, bytes] | None = None) -> None:
        """Print the entries that match, in one write. `lines` (seq -> the JSON line Falco wrote, see
        `HubDelta.lines`): with --json such an alert is printed as Falco's own bytes with falcotui's keys
        added, not parsed and written again; a line a terminal could act on is escaped as usual."""
        chunks = []
        get, match = (lines or {}).get, self.match
        for entry in entries:
            alert = entry.alert
            if match is not None and not match(alert, entry.channels):
                continue
            if not self.json:
                chunks.append(self.line(alert).encode() + b"\n")
            elif (raw := get(entry.seq)) is not None and self.passes(raw):
                # a raw line is a log line: its channel is `log`, its node and pod say the rest
                chunks.append(raw[:-1] + self._log_tail(alert.pod, alert.node))
            else:
                chunks.append(alert_to_json(alert) + b"\n")
        if chunks:
            self.out.write(b"".join(chunks))
            self.out.flush()
            self.printed += len(chunks)

    @staticmethod
    def passes(line: bytes) -> bool:
        """True when a JSON line Falco wrote (see `HubDelta.lines`) can be printed as it came with the log
        channel's keys spliced in (`LineRelay.passes`): nothing in it a terminal could act on."""
        return line[-1:] == b"}" and json_passes(line)

    def relay(self, lines: list[bytes], nodes: list[str], pods: list[str]) -> None:
        """Print new alerts' JSON lines as Falco wrote them, with `channel` (log), `node` and `pod` added
        (`LineRelay.relay`, for a printer without a query: every alert is printed)."""
        if not lines:
            return
        pod, node = pods[0], nodes[0]
        if pods.count(pod) == len(pods) and nodes.count(node) == len(nodes):  # one pod's batch (always)
            tail = self._log_tail(pod, node)
            data = tail.join([raw[:-1] for raw in lines]) + tail  # (bytes.replace: 10x slower)
        else:
            log_tail = self._log_tail
            data = b"".join([raw[:-1] + log_tail(p, n) for raw, n, p in zip(lines, nodes, pods, strict=True)])
        self.out.write(data)
        self.out.flush()
        self.printed += len(lines)

    def _log_tail(self, pod: str | None, node: str | None) -> bytes:
        """The tail of a log line of `pod` on `node` (remembered per pod): `,"channel":"log","node":…,
        "pod":…}` and the newline, what `alert_to_json` adds to Falco's keys."""
        known = self._tails.get(pod)
        if known is not None and known[0] == node:
            return known[1]
        added: dict[str, str] = {"channel": "log"}
        if node is not None:
            added["node"] = node
        if pod is not None:
            added["pod"] = pod
        if len(self._tails) > 4096:
            self._tails.clear()
        tail = b"," + json_bytes(added)[1:] + b"\n"
        self._tails[pod] = (node, tail)
        return tail

    def line(self, alert: Alert) -> str:
        prio = alert.priority.label.ljust(13)
        node = sanitize(alert.node or alert.hostname or "-", max_len=100)
        rule = sanitize(alert.rule, max_len=200)
        message = sanitize(alert.message, max_len=4000)
        if self.color:
            prio = f"\x1b[{_COLORS[alert.priority]}m{prio}\x1b[0m"
            rule = f"\x1b[1m{rule}\x1b[0m"
        line = f"{alert.time_iso} {prio} {node} {rule}: {message}"
        if self.cluster_column:
            line = f"{sanitize(str(alert.output_fields.get(CLUSTER_FIELD, '-')), max_len=60)} {line}"
        return line


@cli_command
def run(args: argparse.Namespace) -> int:
    query = build_query(args)
    channels = parse_channels(args.channels or "log,grpc")
    if not args.follow and args.channels and "grpc" in channels:
        warn("gRPC output has no history: without -f only the pods' logs are read")
    out = Output.detect()
    now = time.time_ns()
    since_ns = query.time_bounds(now)[0]
    printer = AlertPrinter(sys.stdout.buffer, json=args.json, color=out.color and not args.json,
                           match=query.matcher(now_ns=now))  # fmt: skip
    nats = None
    if args.source is not None:
        nats = nats_source(args, args.source, since_ns=since_ns)
        if args.channels is not None and not args.follow:
            raise CliError("--from with --channels needs -f (only the stream is read without it)", EXIT_USAGE)
        ensure_stream(args, nats)  # missing: say so, or create it with --create-stream once confirmed
        if args.channels is None:  # the stream alone: no cluster access needed
            try:
                if args.follow:
                    printer.match = _without_window(query, since_ns)
                return run_async(follow_nats(nats, printer, out, follow=args.follow))
            except BrokenPipeError:
                silence_stdout()
                return EXIT_OK
        channels = (*channels, "nats")
    elif typed := typed_nats_options(args):
        raise CliError(f"{', '.join(typed)}: only with --from nats://…", EXIT_USAGE)
    if len(getattr(args, "contexts", ())) > 1:  # several clusters side by side (cli/many_clusters.py)
        return _many(args, query, channels, printer, out, since_ns)
    clients = connect(args)
    try:
        preflight(clients)
        if args.follow:
            window = _follow_query(query, since_ns)
            printer.match = None if window is None else window.matcher()
            gate = None if window is None else window.line_gate()
            return run_async(
                follow(clients, args.falco_namespace, channels, since_ns, printer, out, nats, gate=gate)
            )
        return run_async(read_window(clients, args.falco_namespace, since_ns, printer, query))
    except BrokenPipeError:
        silence_stdout()
        return EXIT_OK
    finally:
        clients.close()


def _many(args: argparse.Namespace, query: AlertQuery, channels, printer, out: Output, since_ns) -> int:
    from falcotui.cli.many_clusters import alerts_follow, alerts_window

    if args.source is not None:
        raise CliError("--from reads one NATS stream: use it with one --context", EXIT_USAGE)
    printer.cluster_column = True
    try:
        if args.follow:
            printer.match = _without_window(query, since_ns)
            return run_async(alerts_follow(args, channels, since_ns, printer, out))
        return run_async(alerts_window(args, printer, query, since_ns))
    except BrokenPipeError:
        silence_stdout()
        return EXIT_OK


def _follow_query(query: AlertQuery, since_ns: int | None) -> AlertQuery | None:
    """In follow mode the window's lower bound is fixed when the command starts: a relative bound must
    not start dropping alerts as the clock moves on. None: no condition at all (every alert is printed)."""
    if query.least_severe is None and query.most_severe is None and not query.terms and since_ns is None:
        return None
    return AlertQuery(query.least_severe, query.most_severe, query.terms, None, since_ns)


def _without_window(query: AlertQuery, since_ns: int | None) -> Callable[[Alert, tuple], bool] | None:
    """`_follow_query`'s matcher (None: every alert is printed)."""
    window = _follow_query(query, since_ns)
    return None if window is None else window.matcher()


async def read_window(
    clients, namespace: str, since_ns: int | None, printer: AlertPrinter, query: AlertQuery | None = None
) -> int:
    from falcotui.ops.alerts.snapshot import take_snapshot

    snap = await take_snapshot(clients, namespace, since_ns=since_ns, versions=False, with_fleet=False)
    entries = sorted(snap.hub.store, key=lambda e: (e.alert.time_ns, e.seq))
    printer.write(entries)
    warn_unmatched_nodes(query, [(p.get("spec") or {}).get("nodeName") or "" for p in snap.pods])
    for pod, why in sorted(snap.errors.items()):
        warn(f"the log of {sanitize(pod, max_len=253)} could not be read: {sanitize(why, max_len=500)}")
    report_unreadable(snap.hub.bad_lines, snap.hub.last_bad_line)
    if snap.errors:
        # the output is incomplete (or, when every log failed, empty for a reason other than "no alerts"):
        # a script must not read it as the whole truth
        read = len(snap.read_pods)
        what = "no Falco pod's log could be read" if not read else "the alerts above are incomplete"
        error(f"{len(snap.errors)} of {len(snap.errors) + read} Falco pods' logs could not be read: {what}")
        return EXIT_FAILURE
    return EXIT_OK


async def follow(
    clients,
    namespace: str,
    channels: tuple[str, ...],
    since_ns: int | None,
    printer: AlertPrinter,
    out: Output,
    nats=None,
    *,
    gate: tuple[frozenset[str], int | None] | None = None,
) -> int:
    """Print every alert of every channel as it arrives until Ctrl-C. With --json, Falco's own lines pass
    through the hub's relay (ops/alerts/relay.py) when the printer prints every alert or its query is
    `gate` (`AlertQuery.line_gate`: priorities and a fixed lower time bound)."""
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    from falcotui.ops.engine import Engine, EngineOptions
    from falcotui.ops.gc_tuning import tune_for_ingest

    options = EngineOptions(tail_lines=None, log_since_ns=since_ns, nats=nats, keep_lines=printer.json)
    from falcotui.ops.alerts.outbox import AlertOutbox

    # each alert is printed as soon as the hub stored it (AlertHub.on_stored, below): the engine keeps no
    # store of its own for a list nobody shows (see ops/alerts/outbox.py)
    engine = Engine(clients, namespace, channels=channels, options=options, store=AlertOutbox())
    stop = StopSignal()
    hub, broken = engine.hub, []

    def print_stored() -> None:
        """Print what the hub has just stored (AlertHub.on_stored, on the loop, inside a channel's read)."""
        delta = hub.drain()
        if broken:
            return
        try:
            printer.write(delta.alerts, delta.lines)
        except BrokenPipeError as exc:  # the reader went away: end as the loop below would
            broken.append(exc)
            stop.set()
        if delta.missed:
            warn(f"{delta.missed} alerts arrived faster than they could be printed (dropped)")

    hub.on_stored = print_stored
    if printer.json and (printer.match is None or gate is not None):  # Falco's lines as they came (relay.py)
        hub.relay = _GuardedRelay(printer, broken, stop, gate)
    await engine.start()
    tune_for_ingest()
    try:
        while not stop.is_set():
            delta = engine.drain()
            printer.write(delta.alerts.alerts, delta.alerts.lines)
            if delta.alerts.missed:
                warn(f"{delta.alerts.missed} alerts arrived faster than they could be printed (dropped)")
            if out.progress:  # a person is watching stderr: say what happens to the streams
                for notice in delta.notices:
                    print(f"falcotui: {sanitize(notice.message, max_len=300)}", file=sys.stderr, flush=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), FOLLOW_TICK_S)
        if broken:
            raise broken[0]
        last = engine.drain().alerts
        printer.write(last.alerts, last.lines)
    finally:
        hub.on_stored = hub.relay = None
        await engine.stop()
    report_unreadable(engine.hub.bad_lines, engine.hub.last_bad_line)
    return stop.code


class _GuardedRelay:
    """The printer as the hub's `LineRelay` in `follow`: a reader gone away ends the command (as
    `print_stored` does) instead of failing the log stream that brought the lines."""

    def __init__(
        self,
        printer: AlertPrinter,
        broken: list[BaseException],
        stop: StopSignal,
        gate: tuple[frozenset[str], int | None] | None = None,
    ) -> None:
        self.passes = json_passes  # AlertPrinter.passes without its `}` check (the relay's lines end so)
        self.gate = gate  # the printer's query as the relay reads it off a line (AlertQuery.line_gate)
        self._printer, self._broken, self._stop = printer, broken, stop

    def relay(self, lines: list[bytes], nodes: list[str], pods: list[str]) -> None:
        if self._broken:
            return
        try:
            self._printer.relay(lines, nodes, pods)
        except BrokenPipeError as exc:
            self._broken.append(exc)
            self._stop.set()


NATS_CONNECT_S = 15.0  # without -f: give up when the server has not answered in this long


async def follow_nats(source, printer: AlertPrinter, out: Output, *, follow: bool) -> int:
    """The stream alone (`--from nats://…` without --channels): its history, then (with -f) live, through
    the same hub and channel the engine uses, until Ctrl-C (or, without -f, until caught up)."""
    from falcotui.ops.alerts.hub import AlertHub
    from falcotui.ops.channels.nats import NatsChannel
    from falcotui.ops.notices import NoticeLog

    hub, notices = AlertHub(), NoticeLog()
    channel = NatsChannel(source, hub, notices)
    stop = StopSignal()
    started = time.monotonic()
    channel.start()
    try:
        while not stop.is_set():
            printer.write(hub.drain().alerts)
            if out.progress:
                for notice in notices.drain():
                    print(f"falcotui: {sanitize(notice.message, max_len=300)}", file=sys.stderr, flush=True)
            if not follow and channel.caught_up:
                break
            if not follow and not channel.delivered and time.monotonic() - started > NATS_CONNECT_S:
                error(f"NATS: nothing read from {sanitize(source.servers[0], max_len=200)}: "
                      f"{sanitize(channel.detail, max_len=300)}")  # fmt: skip
                stop.code = EXIT_FAILURE
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), TICK_S)
        printer.write(hub.drain().alerts)
    finally:
        await channel.aclose()
    if channel.bad:
        warn(f"{channel.bad} NATS messages were not Falcosidekick alerts (skipped)")
    return stop.code
