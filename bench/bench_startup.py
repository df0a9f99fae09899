"""Benchmark (not a test): how long `falcotui --help`, `--version` and `rules lint FILE` take to start.

Each command runs as a fresh process (what a user waits for), several times; the figure is the median wall
time, printed next to two baselines measured in the same run:
- `python -c pass`: the interpreter's own start-up, the floor no lazy import can go below;
- eager: `import falcotui.cli` and register every sub-command's parser (what `--help` cost when
  `build_parser` imported every command module, and with them the Kubernetes client, the deployer and
  the rules engine).

With `--before DIR` (a checkout of an earlier commit, e.g. `git worktree add --detach /tmp/old 1fa20c0`) the
same commands also run from DIR's code (PYTHONPATH=DIR), interleaved in the same run, for before/after.

Run: .venv/bin/python bench/bench_startup.py [--runs N] [--before DIR]
"""

from __future__ import annotations

import argparse
import os
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


#: the bytecode cache the measured processes use. An installed falcotui starts from compiled bytecode (pip
#: compiles a wheel's modules at install); with PYTHONDONTWRITEBYTECODE=1 (as in this session's shell) every
#: start would compile every imported module again, which measures the compiler, not the imports. A private
#: prefix keeps the checkouts free of __pycache__; the warm-up round fills it.
PYCACHE = Path(tempfile.gettempdir()) / f"falcotui-bench-startup-{os.getuid()}"


def timed(argv: list[str], code: str | None) -> float:
    """Wall seconds of `argv` as a fresh process; `code`: import falcotui from that directory instead. It
    runs in the temporary directory: `python -m` puts the working directory first on sys.path."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    if code is not None:
        env["PYTHONPATH"] = code
    start = time.perf_counter()
    subprocess.run(argv, capture_output=True, check=True, env=env, cwd=tempfile.gettempdir())
    return time.perf_counter() - start


def medians(cases: list[tuple[str, list[str], str | None]], runs: int) -> list[tuple[str, float]]:
    """Median wall time of each case; the cases take turns (round-robin) so that a load change on a shared
    machine falls on all of them alike. One warm-up round first."""
    times: list[list[float]] = [[] for _ in cases]
    for round_ in range(runs + 1):
        for i, (_name, argv, code) in enumerate(cases):
            took = timed(argv, code)
            if round_:
                times[i].append(took)
    return [(name, statistics.median(t)) for (name, _a, _c), t in zip(cases, times, strict=True)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--before", metavar="DIR", help="also time the commands with the code in DIR")
    opts = ap.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp) / "one.yaml"
        rules.write_text(ONE_RULE)
        cases: list[tuple[str, list[str], str | None]] = [
            ("python -c pass (floor)", [py, "-c", "pass"], None),
            ("eager: every command module", [py, "-c", EAGER], None),
            ("falcotui --help", [py, "-m", "falcotui", "--help"], None),
            ("falcotui --version", [py, "-m", "falcotui", "--version"], None),
            ("falcotui rules lint one.yaml", [py, "-m", "falcotui", "rules", "lint", str(rules)], None),
        ]
        if opts.before:  # the eager import needs this tree's LazySubParsers: commands only
            cases += [(f"before: {name}", argv, opts.before) for name, argv, _c in cases[2:5]]
        results = medians(cases, opts.runs)
    floor = results[0][1]
    eager = results[1][1]
    print(f"median wall time of {opts.runs} runs each, bytecode cached (goal: each command < 0.3 s)")
    for name, seconds in results:
        print(
            f"{name:40s} {seconds:6.3f} s   {seconds / floor:5.1f}x python -c pass"
            f"   {seconds / eager:5.2f}x eager"
        )


if __name__ == "__main__":
    main()
