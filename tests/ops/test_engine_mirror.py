"""The UI's fleet mirror says which rows changed since a screen last looked, so a tick redraws only those."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fleet_objects import node

from falcotui.ops.engine import Health
from falcotui.ops.engine_batch import AlertCounts, StoreCounts, TickBatch
from falcotui.ops.engine_mirror import FleetMirror
from falcotui.ops.fleet.model import FleetState

HEALTH = Health(
    server="https://k8s.example:6443", context="prod", namespace="falco", api_reachable=True, api_error="",
    read_only=False, synced=True, log_streams=3, log_pods=3, grpc_streams=0, grpc_pods=0, lag_s=None,
    alerts=0, duplicates=0, relists=0, reconnects=0,
)  # fmt: skip


def batch(rows: dict) -> TickBatch:
    return TickBatch(HEALTH, set(), AlertCounts(), [], [], StoreCounts(), rows=rows)


def test_changed_since_names_the_rows_that_changed_came_or_went() -> None:
    fleet = FleetState(namespace="falco")
    fleet.replace("nodes", [node(n) for n in ("a", "b", "c")])
    a, b, c = (fleet.row(n) for n in "abc")
    mirror = FleetMirror("falco")
    version, changed = mirror.changed_since(-1)
    assert changed == set()
    mirror.apply(batch({"a": a, "b": b, "c": c}))
    first, changed = mirror.changed_since(version)
    assert changed == {"a", "b", "c"}
    mirror.apply(batch({}))  # a tick with no row changes: nothing to redraw
    assert mirror.changed_since(first) == (first, set())
    fleet.apply("nodes", "modified", node("b", ready="False", reason="NodeStatusUnknown"))
    mirror.apply(batch({"b": fleet.row("b"), "c": None}))
    second, changed = mirror.changed_since(first)
    assert changed == {"b", "c"} and "c" not in mirror.nodes
    assert mirror.nodes["a"] is a  # an unchanged row stays the same object (screens compare by identity)
    assert mirror.changed_since(second) == (second, set())
    assert mirror.changed_since(version)[1] == {"a", "b", "c"}


def test_a_version_older_than_what_the_mirror_remembers_says_unknown() -> None:
    fleet = FleetState(namespace="falco")
    mirror = FleetMirror("falco")
    names = [f"n{i}" for i in range(100)]
    fleet.replace("nodes", [node(n) for n in names])
    mirror.apply(batch({n: fleet.row(n) for n in names}))
    old, _ = mirror.changed_since(-1)
    mirror.apply(batch(dict.fromkeys(names[:90])))  # 90 nodes gone
    current, changed = mirror.changed_since(old - 1)  # the entries of nodes gone are forgotten now
    assert changed is not None and set(names[:90]) <= changed
    assert mirror.changed_since(old - 1) == (current, None)  # …so an older version cannot be answered
    assert mirror.changed_since(current) == (current, set())
