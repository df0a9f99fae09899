"""Benchmark (not a test): what an incident report costs next to the JSONL export it includes.

On the same N alerts (Falco's sample alerts re-stamped over a 2 h window, 40 rules, 6 nodes), in one run:
- baseline: `export_jsonl` alone (what `e` `j` writes);
- the report: `write_report` (JSONL + one summary pass + two matplotlib SVG charts + HTML + Markdown);
- matplotlib's first import, measured in a fresh interpreter (the report pays it once per process; nothing
  else imports it: `falcotui --help` and the TUI's start-up do not).

Times are process CPU time (`time.process_time`), best of `--rounds`; the figures printed are ratios to
the baseline, with the absolute times beside them.

Run: .venv/bin/python bench/bench_report.py [--alerts N] [--rounds R]
"""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from falcotui.falco.alerts import parse_json_alert
from falcotui.ops.alerts.report import ReportMeta, write_report
from falcotui.ops.alerts.store import AlertStore
from falcotui.ops.alerts.view import export_jsonl

NS = 1_000_000_000
SAMPLES = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "falco_stdout_sample.log"


def alerts(n: int) -> list:
    samples = [parse_json_alert(x) for x in SAMPLES.read_text().splitlines() if x.startswith("{")]
    now = time.time_ns()
    store = AlertStore(capacity=n)
    for i in range(n):
        a = samples[i % len(samples)]
        t = now - 7200 * NS + i * (7200 * NS // n)
        store.append(dataclasses.replace(a, time_ns=t, rule=f"{a.rule} {i % 40}", hostname=f"node-{i % 6}"))
    return sorted(store, key=lambda e: (e.alert.time_ns, e.seq))


def best(fn, rounds: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(rounds):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    entries = alerts(args.alerts)
    probe = (
        "import time; t = time.process_time(); import matplotlib.figure, matplotlib.backends.backend_svg; "
    )
    probe += "print(time.process_time() - t)"
    cold = float(
        subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    )
    meta = ReportMeta("bench", "bench", "", None, None)
    with tempfile.TemporaryDirectory() as tmp:
        write_report(entries[:10], Path(tmp) / "warm", meta)  # matplotlib imported and its fonts found
        base = best(lambda: export_jsonl(entries, Path(tmp) / "a.jsonl"), args.rounds)
        report = best(lambda: write_report(entries, Path(tmp) / "r", meta), args.rounds)
    print(f"{args.alerts:,} alerts, CPU seconds, best of {args.rounds}")
    print(f"  export_jsonl (baseline)      {base:7.3f} s   1.00x")
    print(f"  write_report                 {report:7.3f} s   {report / base:.2f}x")
    print(f"  matplotlib's first import    {cold:7.3f} s   {cold / base:.2f}x (once per process)")


if __name__ == "__main__":
    main()
