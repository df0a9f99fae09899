"""Key-to-screen latency of the real `falcotui` in a pseudo-terminal, idle and under an alert storm.

What a user at the keyboard sees: the app runs as its own process on a pty (160x45, xterm-256color)
against a simulated cluster in a third process; the bench writes the F1/F2 escape sequences to the pty
and times how long until the other screen's title arrives on the terminal's output. Both phases run in
the same invocation, so the printed storm/idle ratio is robust against a noisy machine.

    .venv/bin/python bench/bench_ui_latency.py [--nodes 50] [--rate 20] [--rounds 15] [--against DIR]

The baseline measured in the same run is a bare Textual app (built into this script) switching between
two screens full of styled text, the same size: the floor any Textual program pays for a full repaint.
`--against DIR` also runs the app from another checkout (e.g. `git worktree add /tmp/old HEAD~3`), in
alternation with this one on the same clusters' settings, and prints this tree's latency as a ratio of it.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import re
import statistics
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SIM_SCRIPT = """
import sys
from falcotui.cli.demo import FAST_TIMINGS, DemoCluster
demo = DemoCluster(nodes=int(sys.argv[1]), scenario=sys.argv[2], storm_rate=float(sys.argv[3]), seed=11,
                   timings=dict(FAST_TIMINGS), tainted_node=False).start()
print(demo.kubeconfig, flush=True)
sys.stdin.read()
demo.stop()
"""


def start_sim(nodes: int, scenario: str, rate: float) -> tuple[subprocess.Popen, str]:
    """The simulated cluster in its own process (as a real cluster would be), Falco deployed."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", SIM_SCRIPT, str(nodes), scenario, str(rate)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)  # fmt: skip
    kubeconfig = proc.stdout.readline().strip()
    if not kubeconfig:
        proc.kill()
        raise SystemExit("the simulated cluster did not start")
    return proc, kubeconfig


def summary(values: list[float]) -> tuple[float, float]:
    """(median, p90)"""
    ordered = sorted(values)
    return statistics.median(ordered), ordered[int(0.9 * (len(ordered) - 1))]


KEYS = {"f1": b"\x1bOP", "f2": b"\x1bOQ"}
_ESCAPES = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[PX^_].*?\x1b\\|\x1b\][^\x07]*\x07|\x1b[@-Z\\-_]")


class Terminal:
    """A pty running one program; collects what it writes, with the escape sequences removed."""

    def __init__(self, argv: list[str], env: dict[str, str], size: tuple[int, int] = (160, 45)) -> None:
        self.master, slave = os.openpty()
        cols, rows = size
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                                     start_new_session=True, close_fds=True)  # fmt: skip
        os.close(slave)
        self._text = bytearray()
        self._cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                chunk = b""
            with self._cond:
                if not chunk:
                    self._text += b"\0EOF"
                    self._cond.notify_all()
                    return
                self._text += _ESCAPES.sub(b"", chunk)
                self._cond.notify_all()

    def mark(self) -> int:
        with self._cond:
            return len(self._text)

    def wait_for(self, needle: bytes, since: int, timeout: float) -> float | None:
        """Monotonic time when `needle` showed up in the output after position `since`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while needle not in self._text[since:]:
                left = deadline - time.monotonic()
                if left <= 0 or self._text.endswith(b"\0EOF"):
                    return None
                self._cond.wait(left)
            return time.monotonic()

    def tail(self, n: int) -> str:
        with self._cond:
            return self._text[-n:].decode(errors="replace")

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self) -> int:
        self.send(b"q")
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def switch_latencies(term: Terminal, rounds: int) -> list[float]:
    """Alternate F2/F1 and time each until the other screen's title is on the terminal."""
    out: list[float] = []
    for i in range(rounds * 2):
        key, needle = ("f2", "Alerts ·") if i % 2 == 0 else ("f1", "Fleet ·")
        since = term.mark()
        t0 = time.monotonic()
        term.send(KEYS[key])
        seen = term.wait_for(needle.encode(), since, 30)
        if seen is None:
            raise SystemExit(f"{key} never showed {needle!r}; the screen showed: {term.tail(600)}")
        out.append(seen - t0)
        time.sleep(0.3)
    return out


class Run:
    """One measured run: latencies, and the CPU share the app and the cluster used meanwhile."""

    def __init__(self, latencies: list[float], app_cpu: float, sim_cpu: float) -> None:
        self.latencies, self.app_cpu, self.sim_cpu = latencies, app_cpu, sim_cpu


def measure(nodes: int, scenario: str, rate: float, rounds: int, app_tree: Path = REPO) -> Run:
    """F1/F2 latencies of the app from `app_tree` against a fresh simulated cluster."""
    sim, kubeconfig = start_sim(nodes, scenario, rate)
    env = {**os.environ, "TERM": "xterm-256color", "PYTHONPATH": str(app_tree), "COLORTERM": "truecolor"}
    term = Terminal([sys.executable, "-m", "falcotui", "--kubeconfig", kubeconfig], env)
    try:
        if term.wait_for(f"logs ●{nodes}".encode(), 0, 300) is None:
            raise SystemExit(f"the app never showed {nodes} live log streams; it showed: {term.tail(600)}")
        time.sleep(2.0)
        t0, app0, sim0 = time.monotonic(), cpu_seconds(term.proc.pid), cpu_seconds(sim.pid)
        latencies = switch_latencies(term, rounds)
        wall = time.monotonic() - t0
        app_cpu = (cpu_seconds(term.proc.pid) - app0) / wall
        return Run(latencies, app_cpu, (cpu_seconds(sim.pid) - sim0) / wall)
    finally:
        status = term.close()
        sim.stdin.close()
        sim.wait(30)
        if status != 0:
            print(f"warning: falcotui exited with {status}", file=sys.stderr)


def measure_bare(rounds: int) -> Run:
    """The same switches in the bare Textual app below (the floor of a full-screen repaint)."""
    env = {**os.environ, "TERM": "xterm-256color", "COLORTERM": "truecolor"}
    term = Terminal([sys.executable, str(Path(__file__).resolve()), "--bare-app"], env)
    try:
        if term.wait_for("Fleet ·".encode(), 0, 60) is None:
            raise SystemExit(f"the bare app did not start; it showed: {term.tail(600)}")
        time.sleep(1.0)
        t0, cpu0 = time.monotonic(), cpu_seconds(term.proc.pid)
        latencies = switch_latencies(term, rounds)
        return Run(latencies, (cpu_seconds(term.proc.pid) - cpu0) / (time.monotonic() - t0), 0.0)
    finally:
        term.close()


def run_bare_app() -> None:
    """Two modes, each one bordered panel of 160-column lines with a few styles per line."""
    from rich.text import Text
    from textual.app import App
    from textual.screen import Screen
    from textual.widgets import Static

    def page(title: str) -> type[Screen]:
        class Page(Screen):
            def compose(self):
                lines = Text()
                for n in range(60):
                    lines.append(f"node-{n:03d}  ", "bold")
                    lines.append("Running 1/1  ", "green")
                    lines.append("0.45.0  0  ok 09:05  ", "")
                    lines.append(f"{n * 7 % 131:>5}  ", "cyan")
                    lines.append("▁▂▇█▆▃▁▁▂▃  Critical  log " * 3 + "\n", "red")
                panel = Static(lines)
                panel.styles.border = ("round", "blue")
                panel.border_title = f"{title} · bare Textual baseline"
                yield panel

        return Page

    class Bare(App):
        MODES = {"fleet": page("Fleet"), "alerts": page("Alerts")}
        DEFAULT_MODE = "fleet"
        BINDINGS = [("f1", "switch_mode('fleet')"), ("f2", "switch_mode('alerts')"), ("q", "quit")]

    Bare().run()


def report(label: str, runs: list[Run]) -> float:
    latencies = [x for run in runs for x in run.latencies]
    median, p90 = summary(latencies)
    app = statistics.mean(run.app_cpu for run in runs)
    sim = statistics.mean(run.sim_cpu for run in runs)
    cpu = f"app CPU {app:4.0%} of a core" + (f", cluster {sim:4.0%}" if sim else "")
    print(f"{label:<34} median {median * 1000:7.1f} ms   p90 {p90 * 1000:7.1f} ms   ({cpu})")
    return median


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--rate", type=float, default=20.0, help="storm alerts per second per node")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--against", type=Path, help="another checkout of falcotui to compare with")
    parser.add_argument("--bare-app", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_app:
        run_bare_app()
        return
    trees = [REPO] + ([args.against.resolve()] if args.against else [])
    runs: dict[tuple[Path, str], list[Run]] = {(t, s): [] for t in trees for s in ("quiet", "storm")}
    bare: list[Run] = []
    for scenario in ("quiet", "storm"):
        for _ in range(2 if args.against else 1):  # alternate to spread the machine's drift over all
            bare.append(measure_bare(args.rounds))
            for tree in trees:
                runs[tree, scenario].append(measure(args.nodes, scenario, args.rate, args.rounds, tree))
    print(f"F1/F2 key-to-screen, pty 160x45; {args.nodes} nodes; storm {args.rate:g} alerts/s per node")
    floor = report("bare Textual app (baseline)", bare)
    idle = report("falcotui, quiet cluster", runs[REPO, "quiet"])
    storm = report("falcotui, storm", runs[REPO, "storm"])
    print(f"falcotui / bare Textual: idle {idle / floor:.2f}x   storm {storm / floor:.2f}x")
    if args.against:
        other_idle = report("--against, quiet cluster", runs[trees[1], "quiet"])
        other_storm = report("--against, storm", runs[trees[1], "storm"])
        print(f"this tree / --against: idle {idle / other_idle:.2f}x   storm {storm / other_storm:.2f}x")


if __name__ == "__main__":
    main()
