"""Key-to-screen latency of the real `falcotui` on a pseudo-terminal: quiet, in a storm, at 1,000 quiet nodes.

What a user at the keyboard sees: the app runs as its own process on a pty (160x45, xterm-256color)
against a simulated cluster in a third process (bench/simproc.py); the bench writes the F1/F2 escape
sequences to the pty and times how long until the other screen's title arrives on the terminal's output.
Three phases, one invocation: NODES quiet nodes; NODES nodes storming at RATE alerts/s in all (the issue:
20k alerts/s from 50 nodes; the storm starts once the app follows every node, and the rate the simulator
reached is printed); QUIET_NODES quiet nodes (the issue: 1,000). The goal is p95 < 100 ms in each.
After the keys, the RSS of the app's process and of each process it started (the engine's worker) is read
from /proc, each and summed, with the CPU the app's process tree and the cluster used meanwhile.

Niced: the simulated cluster runs SIM_NICE steps nicer than the bench (it stands in for other machines: the
Falco pods and the API server do not share the operator's CPU; on a 2-core machine at nice 0 it took a
third of the CPU in a storm from the app under test), and the app's engine worker runs WORKER_NICE
nicer than the app's UI once its engine has started (ops/engine_spawn.py: the app's choice, not the
bench's). The app's UI process and the bare Textual baseline run at the bench's own priority. The
output's second line says so.
Quiet phases of thousands of nodes (`--quiet-nodes 5000`, with `--nodes 0` alone) wait up to 15 min for
the cluster and every log stream to be live.

    .venv/bin/python bench/bench_ui_latency.py [--nodes 50] [--rate 20000] [--quiet-nodes 1000]
                                               [--rounds 20] [--against DIR]

The baseline measured in the same run is a bare Textual app (built into this script) switching between
two screens full of styled text, the same size, with Textual's own `switch_mode`: a full repaint after
Textual's fixed 50 ms hold on paints (App.delay_update), which falcotui's F1-F4 do without (ui/app.py).
`--against DIR` also runs the app from another checkout (e.g. `git worktree add /tmp/old HEAD~3`, with its
own `make install`), right after this one in each phase on the same clusters' settings, and prints this
tree's p95 as a ratio of it.
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
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from simproc import REPO, SimProcess, app_env, app_python, rss_mib, tree_cpu, tree_rss

SIM_NICE = 10  # the simulated cluster's nice value above the bench's (see the module docstring)
START_S = 900.0  # how long the app may take to show every node's log stream live (5,000 nodes: minutes)


def summary(values: list[float]) -> tuple[float, float, float]:
    """(median, p90, p95)"""
    ordered = sorted(values)
    n = len(ordered) - 1
    return statistics.median(ordered), ordered[round(0.9 * n)], ordered[round(0.95 * n)]


KEYS = {"f1": b"\x1bOP", "f2": b"\x1bOQ"}
_ESCAPES = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[PX^_].*?\x1b\\|\x1b\][^\x07]*\x07|\x1b[@-Z\\-_]")


class Terminal:
    """A pty running one program; collects what it writes, with the escape sequences removed."""

    def __init__(
        self, argv: list[str], env: dict[str, str], size: tuple[int, int] = (160, 45), cwd: str | None = None
    ) -> None:
        self.master, slave = os.openpty()
        cols, rows = size
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd,
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


KEY_TIMEOUT = 30.0


def switch_latencies(term: Terminal, rounds: int) -> list[float]:
    """Alternate F2/F1 and time each until the other screen's title is on the terminal. A key whose screen
    does not come within KEY_TIMEOUT counts as KEY_TIMEOUT (a lower bound) and ends the run: which screen
    shows after that is anyone's guess, so later keys could not be timed."""
    out: list[float] = []
    for i in range(rounds * 2):
        key, needle = ("f2", "Alerts ·") if i % 2 == 0 else ("f1", "Fleet ·")
        since = term.mark()
        t0 = time.monotonic()
        term.send(KEYS[key])
        seen = term.wait_for(needle.encode(), since, KEY_TIMEOUT)
        if seen is None:
            print(f"warning: {key} did not show {needle!r} within {KEY_TIMEOUT:g} s", file=sys.stderr)
            out.append(KEY_TIMEOUT)
            break
        out.append(seen - t0)
        time.sleep(0.3)
    return out


class Run:
    """One measured run: latencies, the CPU share the app (its process tree) and the cluster used
    meanwhile, and the RSS (MiB) of the app's process and of each process below it."""

    def __init__(
        self,
        latencies: list[float],
        app_cpu: float,
        sim_cpu: float,
        rss: list[float] | None = None,
        start: dict[str, float] | None = None,
    ) -> None:
        self.latencies, self.app_cpu, self.sim_cpu = latencies, app_cpu, sim_cpu
        self.rss = rss or []
        self.start = start or {}  # seconds from the app's process start to what the screen showed


class Storm(Protocol):
    """A storm from outside the simulated cluster (bench_nats.py: Falcosidekick publishing to NATS)."""

    def start(self) -> None: ...
    def emitted(self) -> int: ...
    def stop(self) -> None: ...


def measure(
    nodes: int,
    scenario: str,
    rate: float,
    rounds: int,
    app_tree: Path = REPO,
    *,
    app_args: Sequence[str] = (),
    shows: Sequence[str] = (),
    storm: Storm | None = None,
) -> Run:
    """F1/F2 latencies of the app from `app_tree` against a fresh simulated cluster (`rate`: all nodes').
    `app_args` go to falcotui too; `shows`: more header text to wait for before the keys; `storm`: the
    storm comes from there (the cluster's own Falcos stay quiet, at 0 alerts a minute)."""
    # a storm starts once the app follows every node (the app's start is the 1,000-node phase's business)
    quiet = scenario == "storm" or storm is not None
    with SimProcess(nodes, "quiet", rate / nodes, per_minute=0 if quiet else None, nice=SIM_NICE) as sim:
        extra = {"TERM": "xterm-256color", "COLORTERM": "truecolor"}
        spawned = time.monotonic()
        argv = [*app_python(app_tree), "--kubeconfig", sim.kubeconfig, *app_args]
        term = Terminal(argv, **app_env(app_tree, **extra))
        try:
            # from the process's start, as a user sees it: the fleet's first node row, every stream live
            row = term.wait_for(b"sim-node-", 0, START_S)
            live = term.wait_for(f"logs ●{nodes}".encode(), 0, START_S - (time.monotonic() - spawned))
            if live is None:
                raise SystemExit(
                    f"the app never showed {nodes} live log streams; it showed: {term.tail(600)}"
                )
            start = {"first node row": (row or live) - spawned, "all streams live": live - spawned}
            for text in shows:
                if term.wait_for(text.encode(), 0, 120) is None:
                    raise SystemExit(f"the app never showed {text!r}; it showed: {term.tail(600)}")
            emitted = sim.emitted if storm is None else storm.emitted
            if storm is not None:
                storm.start()
            elif scenario == "storm":
                sim.scenario("storm")
            time.sleep(3.0)
            pid = term.proc.pid
            t0, app0, sim0, e0 = time.monotonic(), tree_cpu(pid), sim.cpu(), emitted()
            latencies = switch_latencies(term, rounds)
            wall = time.monotonic() - t0
            app_cpu = (tree_cpu(pid) - app0) / wall
            sim_cpu = (sim.cpu() - sim0) / wall
            start["alerts/s emitted during the keys"] = (emitted() - e0) / wall
            rss = tree_rss(pid)
            return Run(latencies, app_cpu, sim_cpu, [rss.pop(pid, 0.0), *rss.values()], start)
        finally:
            if storm is not None:
                storm.stop()
            status = term.close()
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
        t0, cpu0 = time.monotonic(), tree_cpu(term.proc.pid)
        latencies = switch_latencies(term, rounds)
        cpu = (tree_cpu(term.proc.pid) - cpu0) / (time.monotonic() - t0)
        return Run(latencies, cpu, 0.0, [rss_mib(term.proc.pid)])
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
    """Prints one line; returns the p95 (s)."""
    latencies = [x for run in runs for x in run.latencies]
    median, p90, p95 = summary(latencies)
    app = statistics.mean(run.app_cpu for run in runs)
    sim = statistics.mean(run.sim_cpu for run in runs)
    cpu = f"CPU app {app:4.0%}" + (f", cluster {sim:4.0%}" if sim else "")
    rss = max((run.rss for run in runs), key=sum)
    parts = " + ".join(f"{r:.0f}" for r in rss)
    mem = f"RSS {sum(rss):.0f} MiB" + (f" (UI + worker: {parts})" if len(rss) > 1 else "")
    ms = f"median {median * 1000:6.1f}  p90 {p90 * 1000:6.1f}  p95 {p95 * 1000:6.1f} ms"
    if KEY_TIMEOUT in latencies:
        timed_out = latencies.count(KEY_TIMEOUT)
        ms += f" ({timed_out} key(s) timed out at {KEY_TIMEOUT:g} s, {len(latencies) - timed_out} timed)"
    print(f"{label:<30} {ms}   {cpu}   {mem}", flush=True)
    if runs[0].start:
        rate = statistics.mean(r.start.pop("alerts/s emitted during the keys", 0.0) for r in runs)
        marks = ", ".join(f"{k} {max(r.start[k] for r in runs):.1f} s" for k in runs[0].start)
        print(f"{'':30} from the process's start: {marks}; {rate:,.0f} alerts/s emitted during the keys")
    return p95


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, default=50, help="0 skips the quiet and storm phases at NODES")
    parser.add_argument("--rate", type=float, default=20_000, help="storm alerts per second, all nodes")
    parser.add_argument("--quiet-nodes", type=int, default=1000, help="0 skips the large quiet cluster")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--against", type=Path, help="another checkout of falcotui to compare with")
    parser.add_argument("--app-tree", type=Path, default=REPO, help="the falcotui checkout to run")
    parser.add_argument("--bare-app", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_app:
        run_bare_app()
        return
    ours = args.app_tree.resolve()
    trees = [ours] + ([args.against.resolve()] if args.against else [])
    phases = [("quiet", args.nodes), ("storm", args.nodes)] if args.nodes else []
    if args.quiet_nodes:
        phases.append(("quiet", args.quiet_nodes))
    print(f"app tree {ours}" + (f", --against {trees[1]}" if args.against else ""))
    load = os.getloadavg()[0]
    storm = f"storm {args.rate:,.0f} alerts/s over {args.nodes} nodes; " if args.nodes else ""
    print(f"F1/F2 key-to-screen, pty 160x45, {args.rounds * 2} keys a run; {storm}goal p95 < 100 ms; "
          f"load average {load:.1f}", flush=True)  # fmt: skip
    print(
        f"niced: the simulated cluster +{SIM_NICE}; the app's engine worker runs nicer than its UI by the "
        "app's own choice; the app's UI and the bare baseline at the bench's priority",
        flush=True,
    )
    floor = report("bare Textual app (baseline)", [measure_bare(args.rounds)])
    for scenario, nodes in phases:  # each printed as it is measured: a later phase may fail
        p95s = []
        for tree in trees:
            name = "falcotui" if tree == ours else "--against"
            p95s.append(report(f"{name}, {nodes} nodes {scenario}",
                               [measure(nodes, scenario, args.rate, args.rounds, tree)]))  # fmt: skip
            print(f"{'':30} p95 / bare Textual p95: {p95s[-1] / floor:.2f}x", flush=True)
        if args.against:
            print(
                f"this tree / --against p95, {nodes} nodes {scenario}: {p95s[0] / p95s[1]:.2f}x", flush=True
            )
    print(f"load average {os.getloadavg()[0]:.1f} at the end", flush=True)


if __name__ == "__main__":
    main()
