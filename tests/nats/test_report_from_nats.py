"""`falcotui report --from nats://…` as a user runs it (a subprocess, the real nats-server, no cluster): the
stream's alerts read as `falcotui alerts --from` reads them, and the report's files checked against its
JSONL (tests/cli/report_checks.py)."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from tests.cli.report_checks import check_charts, check_counts, open_report

from .conftest import numbered, publish


async def test_report_of_the_stream(nats_server, sample_alerts, tmp_path):
    alerts = list(numbered(sample_alerts, 400, node="ip-10-0-1-7", step_ns=1_000_000_000))
    await publish(nats_server.url, alerts, customfields={"cluster": "prod-eu"})
    out = tmp_path / "report"
    argv = [
        sys.executable,
        "-m",
        "falcotui",
        "report",
        "--from",
        nats_server.url,
        "--filter",
        "cluster:prod-eu",
        "-o",
        str(out),
        "--action-log",
        str(tmp_path / "none.jsonl"),
    ]
    done = await asyncio.to_thread(
        subprocess.run, argv, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )
    assert done.returncode == 0, done.stderr
    report = open_report(out)
    assert [a["output_fields"]["evt.time"] for a in report.alerts] == [a.time_ns for a in alerts]
    assert {a["channel"] for a in report.alerts} == {"nats"}
    check_counts(report)
    check_charts(report, out)
    assert f"Falcosidekick's NATS stream {nats_server.url}" in "".join(report.page.text)
    assert "400 alerts and 0 response actions" in done.stdout
