"""Benchmark (not a test): how long `falcotui --help`, `--version` and `rules lint FILE` take to start.

Each command runs as a fresh process (what a user waits for), several times; the figure is the median wall
time, printed next to two baselines measured in the same run:
- `python -c pass`: the interpreter's own start-up, the floor no lazy import can go below;
- eager: `import falcotui.cli` and register every sub-command's parser (what `--help` cost when
  `build_parser` imported every command module, and with them the Kubernetes client, the deployer and
  the rules engine).

Run: .venv/bin/python bench/bench_startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ONE_RULE = """\
- rule: Shell in container
  desc: a shell was started in a container
  condition: evt.type = execve and proc.name = sh
  output: shell started (user=%user.name)
  priority: WARNING
"""

EAGER = (
    "from falcotui.cli import build_parser, LazySubParsers; p = build_parser(); "
    "[a.load_all() for a in p._actions if isinstance(a, LazySubParsers)]"
)


def wall(argv: list[str], runs: int) -> float:
    """Median wall seconds of `argv` as a fresh process over `runs` runs (after one warm-up run)."""
    subprocess.run(argv, capture_output=True, check=True)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=9)
    opts = ap.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp) / "one.yaml"
        rules.write_text(ONE_RULE)
        cases = [
            ("python -c pass (floor)", [py, "-c", "pass"]),
            ("eager: every command module", [py, "-c", EAGER]),
            ("falcotui --help", [py, "-m", "falcotui", "--help"]),
            ("falcotui --version", [py, "-m", "falcotui", "--version"]),
            ("falcotui rules lint one.yaml", [py, "-m", "falcotui", "rules", "lint", str(rules)]),
        ]
        results = [(name, wall(argv, opts.runs)) for name, argv in cases]
    floor = results[0][1]
    eager = results[1][1]
    print(f"median wall time of {opts.runs} runs each (goal: each command < 0.3 s)")
    for name, seconds in results:
        print(
            f"{name:32s} {seconds:6.3f} s   {seconds / floor:5.1f}x python -c pass"
            f"   {seconds / eager:5.2f}x eager"
        )


if __name__ == "__main__":
    main()
