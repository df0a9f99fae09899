"""`falcotui report`: an incident report of the alerts of a window — a self-contained HTML page, the same as
Markdown, alerts-per-minute charts (SVG), the response actions taken (the action log), every alert as JSONL.

The alerts are read as `falcotui alerts` reads them: the Falco pods' logs for the window (every node,
de-duplicated, crashed instances' logs too), or with `--from nats://…` Falcosidekick's JetStream stream.
`--filter` takes the filter language of the TUI's filter bar (`priority>=warning ns:shop rule:shell`);
`--since`/`--until` bound the window. A pod whose log could not be read is named in the report as making
it incomplete, and the command then exits 1 (the files are still written).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

from falcotui.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    add_cluster_options,
    cli_command,
    connect,
    error,
    preflight,
    run_async,
    warn,
    write_trusted,
)
from falcotui.cli.nats_options import add_nats_source, nats_source, typed_nats_options
from falcotui.falco.sanitize import sanitize
from falcotui.ops.alerts.query import AlertQuery, QueryError, parse_query
from falcotui.ops.alerts.store import StoredAlert

HELP = "write an incident report (HTML, Markdown, SVG charts, JSONL) of a window's alerts and actions"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help=HELP,
        description="Read the alerts of a window (the Falco pods' logs, or --from nats://…), keep those the "
        "filter matches, and write an incident report into a folder: report.html (self-contained), "
        "report.md, alerts-by-priority.svg, alerts-by-rule.svg, alerts.jsonl and actions.jsonl (the "
        "response actions of the window, from the action log).",
    )
    p.add_argument("--since", metavar="WHEN", help="alerts since a duration ago (10m, 2h) or an ISO time")
    p.add_argument(
        "--until", metavar="WHEN", help="alerts until a duration ago or an ISO time (default: now)"
    )
    p.add_argument(
        "--filter",
        metavar="QUERY",
        default="",
        help="the TUI's filter language: priority>=warning node:N ns:NS rule:TEXT tag:T words…",
    )
    p.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        type=Path,
        help="the report's folder (default: a new one in the "
        "user's data dir, falcotui/exports/falcotui-report-…)",
    )
    p.add_argument("--title", metavar="TEXT", help="the report's title (default: names the cluster)")
    p.add_argument(
        "--action-log", metavar="FILE", type=Path, help="the response-action log (default: user data dir)"
    )
    add_nats_source(
        p,
        "nats://HOST:PORT[,…]: read Falcosidekick's NATS JetStream stream instead of the pods' logs",
    )
    add_cluster_options(p)
    p.set_defaults(handler=run)


def build_query(args: argparse.Namespace) -> AlertQuery:
    """The filter with the window of --since/--until (given once: as options or in the filter)."""
    try:
        query = parse_query(args.filter or "")
    except QueryError as exc:
        raise CliError(f"--filter: {exc.message}\n  {exc.caret(args.filter)}", EXIT_USAGE) from None
    for option, text, attrs in (
        ("--since", args.since, ("since_seconds", "since_ns")),
        ("--until", args.until, ("until_seconds", "until_ns")),
    ):
        if text is None:
            continue
        if any(getattr(query, a) is not None for a in attrs):
            raise CliError(f"{option} and {option[2:]}: in --filter: give the window once", EXIT_USAGE)
        try:
            bound = parse_query(f"{option[2:]}:{text.strip()}")
        except QueryError as exc:
            raise CliError(f"{option}: {exc.message}", EXIT_USAGE) from None
        query = replace(query, **{a: getattr(bound, a) for a in attrs})
    return query


class _Collector:
    """Takes what the alert readers print (the `AlertPrinter` interface): the matching alerts."""

    def __init__(self, match) -> None:  # type: ignore[no-untyped-def]
        self.match = match
        self.entries: list[StoredAlert] = []
        self.printed = 0

    def write(self, entries) -> None:  # type: ignore[no-untyped-def]
        for entry in entries:
            if self.match(entry.alert, entry.channels):
                self.entries.append(entry)
        self.printed = len(self.entries)


@cli_command
def run(args: argparse.Namespace) -> int:
    query = build_query(args)
    now = time.time_ns()
    since_ns, until_ns = query.time_bounds(now)
    collector = _Collector(query.matcher(now_ns=now))
    notes: list[str] = []
    context: str | None = None
    if args.source is not None:
        from falcotui.cli.alerts_cmd import follow_nats
        from falcotui.cli.common import Output

        nats = nats_source(args, args.source, since_ns=since_ns)
        code = run_async(follow_nats(nats, collector, Output.detect(), follow=False))
        if code != EXIT_OK:
            return code
        source = f"Falcosidekick's NATS stream {sanitize(args.source, max_len=300)}"
    else:
        if typed := typed_nats_options(args):
            raise CliError(f"{', '.join(typed)}: only with --from nats://…", EXIT_USAGE)
        clients = connect(args)
        try:
            preflight(clients)
            context = clients.context
            notes = run_async(_read_logs(clients, args.falco_namespace, since_ns, collector, query))
        finally:
            clients.close()
        source = (
            f"the Falco pods' logs (namespace {args.falco_namespace}) of context {context or 'in-cluster'}"
        )
    return _write(args, query, collector.entries, source, context, notes, since_ns, until_ns, now)


async def _read_logs(
    clients, namespace: str, since_ns: int | None, collector: _Collector, query
) -> list[str]:  # type: ignore[no-untyped-def]
    """The pods' logs for the window, as `falcotui alerts` reads them; what could not be read, as notes."""
    from falcotui.cli.alert_reading import report_unreadable, warn_unmatched_nodes
    from falcotui.ops.alerts.snapshot import take_snapshot

    snap = await take_snapshot(clients, namespace, since_ns=since_ns, versions=False, with_fleet=False)
    collector.write(sorted(snap.hub.store, key=lambda e: (e.alert.time_ns, e.seq)))
    warn_unmatched_nodes(query, [(p.get("spec") or {}).get("nodeName") or "" for p in snap.pods])
    report_unreadable(snap.hub.bad_lines, snap.hub.last_bad_line)
    notes = [f"the log of {pod} could not be read: {why}" for pod, why in sorted(snap.errors.items())]
    if snap.hub.bad_lines:
        notes.append(f"{snap.hub.bad_lines} log line(s) looked like alerts but could not be read")
    if not snap.pods:
        notes.append(f"no Falco pod found in namespace {namespace}")
    return notes


def _write(
    args,
    query: AlertQuery,
    entries: list[StoredAlert],
    source: str,
    context: str | None,
    notes: list[str],
    since_ns: int | None,
    until_ns: int | None,
    now: int,
) -> int:  # type: ignore[no-untyped-def]
    from falcotui.ops.alerts.action_log import ActionLog
    from falcotui.ops.alerts.report import ReportMeta, report_dir, write_report
    from falcotui.ops.alerts.view import default_export_dir

    directory = args.output if args.output is not None else report_dir(default_export_dir())
    where = context or (args.source and "NATS") or "cluster"
    meta = ReportMeta(
        title=args.title or f"Falco incident report: {where}",
        source=source,
        filter_text=query.to_text(),
        since_ns=since_ns,
        until_ns=until_ns,
        context=context,
        notes=tuple(notes),
    )
    log = ActionLog(args.action_log)
    try:
        result, _data = write_report(entries, directory, meta, log.records(), now_ns=now)
    except OSError as exc:
        raise CliError(f"the report could not be written to {directory}: {exc.strerror or exc}") from None
    write_trusted(
        sys.stdout,
        f"{result.alerts} alert{'s' * (result.alerts != 1)} and {result.actions} response "
        f"action{'s' * (result.actions != 1)} → {sanitize(result.directory, max_len=500)}\n"
        f"  {sanitize(result.html, max_len=500)}\n  {sanitize(result.markdown, max_len=500)}\n",
    )
    for note in notes:
        warn(sanitize(note, max_len=500))
    if notes and any("could not be read" in n or "no Falco pod" in n for n in notes):
        error("the report is incomplete (said at its top)")
        return EXIT_FAILURE
    return EXIT_OK
