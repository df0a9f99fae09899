"""The engine in a child process against the simulated cluster, over the real link: it builds its own
clients from the picklable spec, ticks bring fleet rows and counts (only changed rows after the first),
a killed child reports how it died, and a child whose UI process died exits by itself."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from falcotui.cli.demo import FAST_TIMINGS, DemoCluster
from falcotui.kube.client import Timeouts
from falcotui.ops.engine import EngineOptions
from falcotui.ops.engine_client import EngineClient
from falcotui.ops.engine_link import LinkClosed
from falcotui.ops.engine_placement import ChildPlacement
from falcotui.ops.engine_spawn import WORKER_NICE
from falcotui.ops.engine_worker import ConnectOptions, EngineSpec
from falcotui.ops.rules.reload_state import PushMark, ReloadState


@pytest.fixture
def demo() -> Iterator[DemoCluster]:
    cluster = DemoCluster(nodes=3, scenario="incident", seed=3, timings=dict(FAST_TIMINGS))
    cluster.start(deploy=True)
    yield cluster
    cluster.stop()


def spec_for(demo: DemoCluster) -> EngineSpec:
    return EngineSpec(
        ConnectOptions(str(demo.kubeconfig), None, Timeouts(connect=2.0, read=10.0)),
        "falco",
        options=EngineOptions(tail_lines=None, probe_interval=0.3, delete_grace=0.5),
    )


async def test_a_child_engine_ticks_rows_once_and_counts(demo: DemoCluster) -> None:
    child = ChildPlacement(spec_for(demo))
    link = await child.open()
    try:
        assert child.pid != os.getpid() and child.started_s is not None
        await link.call("engine", "start", 20.0)
        rows: dict = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            batch = await link.call("engine", "tick", ())
            rows.update(batch.rows)
            if batch.store.kept >= 20 and len(rows) >= 4 and all(r is not None for r in rows.values()):
                break
            await asyncio.sleep(0.05)
        assert len(rows) == 4 and batch.health.synced  # 3 workers + the tainted GPU node
        assert batch.daemonset is None or batch.daemonset[0] is not None
        # right after, a tick ships only rows that changed: not the whole fleet again
        again = await link.call("engine", "tick", ())
        assert len(again.rows) < len(rows) or all(rows[n] != r for n, r in again.rows.items())
        assert child.failure() == ""
    finally:
        await child.close()
    assert child.proc is not None and child.proc.poll() is not None


async def test_a_killed_child_says_how_it_died(demo: DemoCluster) -> None:
    child = ChildPlacement(spec_for(demo))
    link = await child.open()
    try:
        await link.call("engine", "start", 20.0)
        os.kill(child.pid, signal.SIGKILL)
        with pytest.raises(LinkClosed):
            for _ in range(200):
                await link.call("engine", "tick", ())
                await asyncio.sleep(0.02)
        assert child.failure().startswith("the engine process killed by signal 9")
    finally:
        await child.close()


def test_the_child_exits_when_its_ui_process_dies(demo: DemoCluster, tmp_path: Path) -> None:
    script = tmp_path / "ui.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import asyncio, sys
            from falcotui.ops.engine_placement import ChildPlacement
            from falcotui.ops.engine_worker import ConnectOptions, EngineSpec

            async def main():
                child = ChildPlacement(EngineSpec(ConnectOptions({str(demo.kubeconfig)!r}), "falco"))
                link = await child.open()
                await link.call("engine", "start", 20.0)
                print(child.pid, flush=True)
                await asyncio.sleep(3600)

            asyncio.run(main())
            """
        )
    )
    ui = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        worker_pid = int(ui.stdout.readline())
        os.kill(ui.pid, signal.SIGKILL)  # no goodbye: only the socket's EOF tells the child
        ui.wait(10)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _alive(worker_pid):
            time.sleep(0.05)
        assert not _alive(worker_pid), "the engine process outlived its UI"
    finally:
        if ui.poll() is None:
            ui.kill()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


async def test_a_push_is_marked_and_judged_in_the_child_engine(demo: DemoCluster) -> None:
    """A rules push from the UI side: where each pod's log stands comes from the child's followers (a
    blocking call from the push's worker thread), the mark goes with the next tick, and the rows the child
    sends carry each node's state of that push."""
    client = EngineClient(ChildPlacement(spec_for(demo)), demo.clients(), "falco")
    await client.start()
    try:
        pods: set[str] = set()
        marks: dict = {}
        deadline = time.monotonic() + 30
        while (len(pods) < 3 or set(marks) != pods) and time.monotonic() < deadline:
            await client.tick()
            pods = {r.pod.name for r in client.fleet.nodes.values() if r.pod is not None}
            marks = await asyncio.to_thread(client.log_marks)  # as RulesService.push calls it
        assert set(marks) == pods and len(pods) == 3
        push = PushMark(time.time_ns(), marks, None, 60.0)
        client.mark_reload_pending(push)
        await client.tick()
        states = {r.name: r.reload for r in client.reload_rows() if r.pod is not None}
        assert {s.state for s in states.values()} == {ReloadState.PENDING}
        assert {s.push_ns for s in states.values()} == {push.since_ns}
    finally:
        await client.stop()


async def test_the_child_yields_to_the_ui_once_its_engine_started(demo: DemoCluster) -> None:
    """At the UI's priority while it starts (the first rows wait for it), nicer once started
    (ops/engine_spawn.py: keys go first when the UI and a storm's ingest share a core)."""
    client = EngineClient(ChildPlacement(spec_for(demo)), demo.clients(), "falco")
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    try:
        await client.open()
        child = client.placement
        assert isinstance(child, ChildPlacement) and child.proc is not None
        assert os.getpriority(os.PRIO_PROCESS, child.proc.pid) == ours
        await client.start()
        threads = [int(tid) for tid in os.listdir(f"/proc/{child.proc.pid}/task")]
        assert len(threads) > 1  # the engine's threads too: Linux keeps a nice value per thread
        assert {os.getpriority(os.PRIO_PROCESS, tid) for tid in threads} == {min(19, ours + WORKER_NICE)}
    finally:
        await client.stop()
