"""Shared by the benches: a simulated cluster in its own process, steered over stdin, and the CPU and RSS
of process trees read from /proc (the bench's own work is never counted).

The cluster process prints its kubeconfig once Falco runs on every node, then takes one command a line:
`scenario NAME` (switch every Falco to it from now on), `emitted` (prints how many alerts the Falcos have
printed so far), `stop`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

SIM_SCRIPT = """
import sys, time
tree, nodes, scenario, rate, per_minute, pool = sys.argv[1:7]
sys.path.insert(0, tree)
from falcotui.sim.falco import alerts_gen as falco_alerts_gen
if pool != "default":
    falco_alerts_gen.LINE_POOL = int(pool)
from falcotui.cli.demo import FAST_TIMINGS, DemoCluster
demo = DemoCluster(nodes=int(nodes), scenario=scenario, storm_rate=float(rate), seed=11,
                   per_minute=None if per_minute == "default" else float(per_minute),
                   timings=dict(FAST_TIMINGS), tainted_node=False).start()
runtime = demo.runtime
deadline = time.monotonic() + 900
while time.monotonic() < deadline:
    try:  # thousands of nodes starting keep the cluster's loop too busy to answer at times
        if demo.cluster.call(runtime.running, timeout=120) >= int(nodes):
            break
    except TimeoutError:
        pass
    time.sleep(0.5)
print(demo.kubeconfig, flush=True)
for line in sys.stdin:
    cmd = line.split()
    if not cmd or cmd[0] == "stop":
        break
    if cmd[0] == "scenario":
        demo.set_scenario(cmd[1])
        print("ok", flush=True)
    elif cmd[0] == "emitted":
        # a storm over 1,000 nodes on a loaded machine keeps the loop busy past call()'s 30 s default
        print(demo.cluster.call(runtime.alerts_emitted, timeout=600), flush=True)
demo.stop()
"""


class SimProcess:
    """`falcotui`'s simulated cluster with Falco deployed on `nodes` nodes, in a process of its own.

    `pool` sets `falco_alerts_gen.LINE_POOL` there (0: every alert rendered in full, as before the pool);
    `per_minute` the quiet scenario's alerts per node and minute; `tree` the checkout whose simulator runs;
    `nice`: run it that much nicer than the bench (`nice -n`), as the remote machines it stands in for would
    not take CPU from the program under test.
    """

    def __init__(
        self,
        nodes: int,
        scenario: str = "quiet",
        rate: float = 100.0,
        *,
        per_minute: float | None = None,
        pool: int | None = None,
        tree: Path = REPO,
        nice: int = 0,
    ) -> None:
        minute = "default" if per_minute is None else str(per_minute)
        argv = [str(tree), str(nodes), scenario, str(rate), minute, "default" if pool is None else str(pool)]
        self.proc = subprocess.Popen(
            [*(["nice", "-n", str(nice)] if nice else []), sys.executable, "-c", SIM_SCRIPT, *argv],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(tree)},
        )
        assert self.proc.stdout is not None and self.proc.stdin is not None
        self.kubeconfig = self.proc.stdout.readline().strip()
        if not self.kubeconfig:
            self.proc.kill()
            raise SystemExit("the simulated cluster did not start")
        self.pid = self.proc.pid

    def _ask(self, line: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def scenario(self, name: str) -> None:
        self._ask(f"scenario {name}")

    def emitted(self) -> int:
        return int(self._ask("emitted"))

    def cpu(self) -> float:
        return tree_cpu(self.pid)

    def stop(self) -> None:
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write("stop\n")
            self.proc.stdin.close()
            self.proc.wait(60)
        except (BrokenPipeError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> SimProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def app_python(tree: Path) -> list[str]:
    """`python -m falcotui` of a checkout: its own venv's Python where it has one (an editable install
    finds its own tree whatever PYTHONPATH says), else this one."""
    own = tree / ".venv" / "bin" / "python"
    return [str(own) if own.exists() else sys.executable, "-m", "falcotui"]


def app_env(tree: Path, **extra: str) -> dict:
    """Popen keyword arguments that run `app_python(tree)` on that checkout's code (cwd first on the path)."""
    return {"cwd": str(tree), "env": {**os.environ, "PYTHONPATH": str(tree), **extra}}


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def descendants(pid: int) -> list[int]:
    """`pid` and every live process below it."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat(int(entry))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, ()))
    return out


def cpu(pid: int) -> float:
    """User + system CPU seconds of one process (all its threads, and children it has waited for)."""
    fields = _stat(pid)
    if fields is None:
        return 0.0
    return sum(int(fields[k]) for k in (11, 12, 13, 14)) / CLK_TCK


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and all its live descendants."""
    return sum(cpu(p) for p in descendants(pid))


def rss_mib(pid: int) -> float:
    """Resident set size of one process in MiB (0 once it is gone)."""
    try:
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return pages * PAGE / 2**20


def tree_rss(pid: int) -> dict[int, float]:
    """RSS in MiB of a process and each live descendant, by pid."""
    return {p: rss_mib(p) for p in descendants(pid)}


def wait_until(predicate, timeout: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())
