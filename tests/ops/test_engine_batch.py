"""The worker's tick batches at scale: a row whose rate alone moved goes as its live part, and the fleet-wide
figures (which walk every node) are worked out after a change at most every WIDE_MIN_S — never left stale."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fleet_objects import node

from falcotui.kube.client import Timeouts, load_clients
from falcotui.ops.engine import Engine
from falcotui.ops.engine_batch import FULL_REFRESH_S, WIDE_MIN_S, TickBatcher


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def unstarted_engine(tmp_path: Path) -> Engine:
    """An engine never started (its clients point at a closed port); its fleet is fed directly."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u, namespace: falco}}]\n"
    )
    return Engine(load_clients(str(kubeconfig), None, timeouts=Timeouts(connect=0.5, read=0.5)), "falco")


def test_fleet_wide_figures_after_a_change_come_within_wide_min_s(tmp_path: Path) -> None:
    engine = unstarted_engine(tmp_path)
    clock = Clock()
    batcher = TickBatcher(engine, monotonic=clock)
    engine.fleet.replace("nodes", [node(f"n{i}") for i in range(5)])
    first = batcher.batch()
    assert first.summary is not None and first.summary.nodes == 5 and len(first.rows) == 5

    clock.now += 0.05  # a node goes NotReady: its row at once, the summary's count once WIDE_MIN_S is up
    engine.fleet.apply("nodes", "modified", node("n3", ready="False", reason="NodeStatusUnknown"))
    soon = batcher.batch()
    assert set(soon.rows) == {"n3"} and soon.summary is None
    clock.now += 0.05
    assert batcher.batch().summary is None  # no change this tick, but the one before is still due
    clock.now += WIDE_MIN_S
    due = batcher.batch()
    assert due.summary is not None and due.summary.nodes_not_ready == 1

    clock.now += WIDE_MIN_S  # nothing changed since: the next pass is the once-a-second one
    assert batcher.batch().summary is None
    clock.now += FULL_REFRESH_S
    assert batcher.batch().summary is None  # recomputed, equal to what was sent: not sent again


def test_a_row_whose_live_part_alone_changed_goes_as_that_part(tmp_path: Path) -> None:
    engine = unstarted_engine(tmp_path)
    batcher = TickBatcher(engine, monotonic=Clock())
    engine.fleet.replace("nodes", [node("n1"), node("n2")])
    assert set(batcher.batch().rows) == {"n1", "n2"}
    engine.hub.set_channel("n1", "log", True, pod="falco-n1")  # its log followed: the CHANNELS cell
    engine.fleet.apply("nodes", "modified", node("n2", unschedulable=True))  # cordoned: the steady part
    batch = batcher.batch()
    assert set(batch.live) == {"n1"} and batch.live["n1"][3] == ("log",)
    assert set(batch.rows) == {"n2"} and batch.rows["n2"].cordoned
