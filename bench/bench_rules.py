"""Benchmark (not a test): validating Falco's default rules vs `yaml.safe_load` of the same file.

Run: `.venv/bin/python bench/bench_rules.py [path/to/falco_rules.yaml] [--repeat N]`.
Both are measured in this run on this machine; the ratio is what to compare between runs.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from falcotui.falco.rules.compile import parse_cached
from falcotui.falco.rules.loader import load_rules

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "falco_rules.yaml"


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    fn()  # warm-up: imports, the field catalog, regex caches
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("rules", nargs="?", type=Path, default=DEFAULT)
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    text = args.rules.read_text(encoding="utf-8")
    files = [(args.rules.name, text)]

    result = load_rules(files)
    assert result.successful, [m.text for m in result.errors]

    baseline = timed(lambda: yaml.safe_load(text), args.repeat)
    c_loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    libyaml = timed(lambda: yaml.load(text, Loader=c_loader), args.repeat)

    def cold() -> object:
        parse_cached.cache_clear()  # first validation: every condition parsed
        return load_rules(files)

    cold_runs = timed(cold, args.repeat)
    warm = timed(lambda: load_rules(files), args.repeat)  # re-validation: unchanged conditions cached
    no_lints = timed(lambda: load_rules(files, lints=False), args.repeat)

    base = statistics.median(baseline)
    print(
        f"file: {args.rules} ({len(text)} chars, {len(result.rules)} rules, {len(result.macros)} macros,"
        f" {len(result.lists)} lists), {args.repeat} runs each, medians:"
    )
    print(f"  yaml.safe_load (baseline)        {base * 1000:8.1f} ms   1.00x")
    for label, runs in (
        ("yaml.load, CSafeLoader (libyaml)", libyaml),
        ("load_rules, cold parse cache", cold_runs),
        ("load_rules, warm (as you type)", warm),
        ("load_rules, warm, lints=False", no_lints),
    ):
        med = statistics.median(runs)
        print(f"  {label:33s}{med * 1000:8.1f} ms   {med / base:.2f}x  (min {min(runs) * 1000:.1f} ms)")


if __name__ == "__main__":
    main()
