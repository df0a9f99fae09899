"""`falcotui status [--json]`: the fleet right now — per node its readiness, Falco pod, restarts, Falco
version, last reload and alerts in the window; the DaemonSet; nodes without Falco and why.

Exit 0 when the cluster answered (whatever state Falco is in), 1 when the API cannot be reached.
"""

from __future__ import annotations

import argparse
import sys
import time

from falcotui.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    Output,
    add_cluster_options,
    cli_command,
    connect,
    duration,
    preflight,
    run_async,
    write_trusted,
)
from falcotui.cli.nats_options import add_nats_source, ensure_stream, nats_source, typed_nats_options
from falcotui.falco.alerts import format_iso8601_ns
from falcotui.falco.sanitize import json_bytes, sanitize
from falcotui.ops.alerts.snapshot import Snapshot, since_ns_from_seconds, take_snapshot
from falcotui.ops.channels.nats import StreamState, probe_stream
from falcotui.ops.channels.nats_stream import duration_text
from falcotui.ops.fleet.k8s import certs_text
from falcotui.ops.fleet.status import NodeState, NodeStatus, ReloadState

_NS = 1_000_000_000
_STATE_COLOR = {
    NodeState.RUNNING: "32",
    NodeState.NO_POD: "33",
    NodeState.PENDING: "33",
    NodeState.NOT_READY: "33",
    NodeState.TERMINATING: "33",
    NodeState.NODE_NOT_READY: "31",
    NodeState.CRASH_LOOP: "31",
    NodeState.IMAGE_PULL: "31",
    NodeState.FAILING: "31",
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "status",
        help="show the Falco fleet: nodes, pods, versions, reloads, alerts",
        description="One row per node: node readiness, its Falco pod (state, restarts), the Falco version "
        "and last rules reload from the pod's log, and the alerts of the window. Exit 1 when the "
        "Kubernetes API cannot be reached.",
    )
    p.add_argument("--json", action="store_true", help="one JSON document instead of the table")
    p.add_argument(
        "--since",
        type=duration,
        default=3600,
        metavar="DURATION",
        help="window of pod logs to read for alerts and reloads (default: 1h)",
    )
    add_nats_source(
        p,
        "nats://HOST:PORT[,…]: also report Falcosidekick's NATS JetStream stream "
        "(exit 1: unreachable, or no stream)",
        create=True,
    )
    add_cluster_options(p)
    p.set_defaults(handler=run, many_contexts=True)


@cli_command
def run(args: argparse.Namespace) -> int:
    source = nats_source(args, args.source) if args.source is not None else None
    if source is None and (typed := typed_nats_options(args)):
        raise CliError(f"{', '.join(typed)}: only with --from nats://…", EXIT_USAGE)
    if source is not None and args.nats_create_stream:
        ensure_stream(args, source)  # the stream's configuration shown, then y/N (or --yes)
    if len(getattr(args, "contexts", ())) > 1:  # several clusters, each under its heading
        if source is not None:
            raise CliError("--from reads one NATS stream: use it with one --context", EXIT_USAGE)
        from falcotui.cli.many_clusters import status_many

        return run_async(status_many(args, status_document, status_text))
    clients = connect(args)
    try:
        preflight(clients)
        snap = run_async(
            take_snapshot(clients, args.falco_namespace, since_ns=since_ns_from_seconds(args.since))
        )
    finally:
        clients.close()
    stream = run_async(probe_stream(source)) if source is not None else None
    now = time.time_ns()
    if args.json:
        doc = status_document(snap, clients.context, clients.host, args.falco_namespace, args.since, now)
        if stream is not None:
            doc["nats"] = stream_document(stream, now)
        sys.stdout.buffer.write(json_bytes(doc, indent=True) + b"\n")
        sys.stdout.flush()
    else:
        out = Output.detect()
        text = status_text(snap, clients.context, clients.host, args.falco_namespace, args.since, now,
                           color=out.color)  # fmt: skip
        # every cell of the table is sanitized where it is formatted; the colours are ours
        if stream is not None:
            text += stream_text(stream, now)
        if out.color:
            write_trusted(out.stream, text)
        else:
            out.stream.write(text)
        out.stream.flush()
    return EXIT_FAILURE if stream is not None and (not stream.connected or stream.missing) else EXIT_OK


def stream_text(stream: StreamState, now_ns: int) -> str:
    """The status line of Falcosidekick's stream: reachable or why not, what it holds, how fresh it is."""
    where = sanitize(stream.servers, max_len=200)
    if not stream.connected:
        return f"NATS {where}: not reachable: {sanitize(stream.error, max_len=300)}\n"
    if stream.missing:
        hint = (
            " (--create-stream creates it, after showing its configuration)" if stream.stream_missing else ""
        )
        return f"NATS {where}: {sanitize(stream.missing, max_len=600)}: alerts are not being kept{hint}\n"
    newest = "empty" if stream.last_ns is None else f"newest {_ago(now_ns - stream.last_ns)} ago"
    return (
        f"NATS {where}: stream {sanitize(stream.stream, max_len=100)} "
        f"({sanitize(', '.join(stream.subjects), max_len=200)}): {stream.messages:,} alerts kept "
        f"(seq {stream.first_seq}-{stream.last_seq}), {newest}\n"
    )


def stream_document(stream: StreamState, now_ns: int) -> dict:
    return {
        "servers": stream.servers, "connected": stream.connected, "error": stream.error or None,
        "missing": stream.missing or None,
        "stream": stream.stream or None, "subjects": list(stream.subjects), "messages": stream.messages,
        "first_seq": stream.first_seq, "last_seq": stream.last_seq,
        "newest_age_s": None if stream.last_ns is None else round((now_ns - stream.last_ns) / 1e9, 3),
    }  # fmt: skip


def _alerts_by_node(snap: Snapshot) -> dict[str, int]:
    return dict(snap.hub.store.by_node)


def _reload_text(row: NodeStatus, now_ns: int) -> str:
    r = row.reload
    if r.state in (ReloadState.NONE, ReloadState.UNKNOWN):
        return "none" if r.state is ReloadState.NONE else "-"
    when = f" {_ago(now_ns - r.at_ns)} ago" if r.at_ns else ""
    return f"{r.state.value}{when}"


def _ago(delta_ns: int) -> str:
    s = max(0, delta_ns // _NS)
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m"
    if s < 172800:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


def status_text(
    snap: Snapshot,
    context: str | None,
    server: str,
    namespace: str,
    since_s: int,
    now_ns: int,
    *,
    color: bool,
) -> str:
    """The human report: header, DaemonSet line, the node table, then nodes without Falco and why."""
    fleet = snap.fleet
    rows = fleet.rows(now_ns=now_ns)
    alerts = _alerts_by_node(snap)
    ctx = sanitize(context or "(in-cluster)", max_len=200)
    lines = [f"cluster {sanitize(server, max_len=200)}  context {ctx}  namespace {sanitize(namespace)}"]
    ds = fleet.daemonset()
    if ds is None:
        where = sanitize(namespace)
        lines.append(f"DaemonSet: none named 'falco' in namespace {where} (deploy with `falcotui apply`)")
    else:
        state = "rolled out" if ds.rolled_out else "rolling out"
        image, name = sanitize(ds.image, max_len=300), sanitize(ds.name)
        certs = f" · {sanitize(certs_text(ds.certs_expire, now_ns / _NS))}" if ds.certs_expire else ""
        lines.append(f"DaemonSet {name}: {ds.text} · {ds.available} available · {state} · {image}{certs}")
    lines.append(sanitize(fleet.summary().text, max_len=1000))
    lines.append("")
    window = f"ALERTS/{duration_text(since_s)}"
    head = ("NODE", "READY", "POD", "STATE", "RESTARTS", "VERSION", "LAST RELOAD", window, "WORST")
    table = [head]
    states = []
    for row in rows:
        ready = {True: "yes", False: "no", None: "unknown"}[row.ready]
        worst = row.worst.label if row.worst is not None else "-"
        pod_state = row.pod.state if row.pod else "-"
        state = row.state.value + (f" ({pod_state})" if row.pod and pod_state != "Running" else "")
        table.append((
            row.name, ready + (" (cordoned)" if row.cordoned else ""), row.pod.name if row.pod else "-",
            state, str(row.restarts), row.version or "-", _reload_text(row, now_ns),
            str(alerts.get(row.name, 0)), worst,
        ))  # fmt: skip
        states.append(row.state)
    widths = [max(len(sanitize(r[i], max_len=80)) for r in table) for i in range(len(head))]
    for n, r in enumerate(table):
        cells = [sanitize(c, max_len=80).ljust(widths[i]) for i, c in enumerate(r)]
        if color and n == 0:
            cells = [f"\x1b[1m{c}\x1b[0m" for c in cells]
        elif color:
            cells[3] = f"\x1b[{_STATE_COLOR.get(states[n - 1], '0')}m{cells[3]}\x1b[0m"
        lines.append("  ".join(cells).rstrip())
    missing = [r for r in rows if r.pod is None]
    if missing:
        lines.append("")
        lines.append("Nodes without Falco:")
        for r in missing:
            lines.append(f"  {sanitize(r.name)}: {sanitize(r.no_pod_reason or 'no Falco pod')}")
    trouble = [r for r in rows if r.pod is not None and r.state is not NodeState.RUNNING]
    if trouble:
        lines.append("")
        lines.append("Pods with problems:")
        for r in trouble:
            detail = sanitize(r.pod.detail or r.pod.state, max_len=300)
            lines.append(f"  {sanitize(r.pod.name)} on {sanitize(r.name)}: {detail}")
            if r.reload.state in (ReloadState.CRASH_LOOP, ReloadState.FAILED) and r.reload.detail:
                lines.append(f"    Falco said: {sanitize(r.reload.detail, max_len=300)}")
    for pod, why in sorted(snap.errors.items()):
        lines.append(f"  (log of {sanitize(pod)} not read: {sanitize(why, max_len=300)})")
    if bad := snap.hub.bad_lines:
        last = snap.hub.last_bad_line
        why = f" (last: {sanitize(last.error, max_len=200)})" if last is not None and last.error else ""
        lines.append(f"{bad} log line{'s' * (bad != 1)} looked like alerts but could not be read{why}")
    return "\n".join(lines) + "\n"


def status_document(
    snap: Snapshot, context: str | None, server: str, namespace: str, since_s: int, now_ns: int
) -> dict:
    """`status --json`: the same facts as the table, with stable keys."""
    fleet = snap.fleet
    ds = fleet.daemonset()
    summary = fleet.summary()
    alerts = _alerts_by_node(snap)
    nodes = []
    for row in fleet.rows(now_ns=now_ns):
        pod = row.pod
        nodes.append({
            "name": row.name,
            "state": row.state.value,
            "ready": row.ready,
            "ready_reason": row.ready_reason,
            "cordoned": row.cordoned,
            "taints": list(row.taints),
            "pod": None if pod is None else {
                "name": pod.name, "phase": pod.phase, "state": pod.state, "detail": pod.detail,
                "ready": pod.ready_text, "restarts": pod.restarts, "image": pod.image,
            },
            "no_pod_reason": row.no_pod_reason or None,
            "version": row.version,
            "version_source": row.version_source,
            "reload": {
                "state": row.reload.state.value,
                "at": format_iso8601_ns(row.reload.at_ns) if row.reload.at_ns else None,
                "detail": row.reload.detail or None,
            },
            "alerts": alerts.get(row.name, 0),
            "alerts_per_min": row.alerts_per_min,
            "worst": row.worst.label if row.worst is not None else None,
        })  # fmt: skip
    return {
        "context": context,
        "server": server,
        "namespace": namespace,
        "window_seconds": since_s,
        "daemonset": None if ds is None else {
            "name": ds.name, "desired": ds.desired, "current": ds.current, "updated": ds.updated,
            "ready": ds.ready, "available": ds.available, "image": ds.image, "rolled_out": ds.rolled_out,
            "grpc_certs_expire": ds.certs_expire or None,
        },
        "summary": {
            "nodes": summary.nodes, "running": summary.running, "crash_looping": summary.crash_looping,
            "image_pull": summary.image_pull, "pending": summary.pending,
            "without_falco": summary.without_falco, "nodes_not_ready": summary.nodes_not_ready,
        },
        "nodes": nodes,
        "log_errors": dict(sorted(snap.errors.items())),
        "unreadable_lines": snap.hub.bad_lines,
    }  # fmt: skip
