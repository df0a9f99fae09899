"""The UI's fleet mirror says which rows changed since a screen last looked, so a tick redraws only those."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fleet_objects import node

from falcotui.falco.alerts import Priority
from falcotui.ops.engine import Health
from falcotui.ops.engine_batch import AlertCounts, StoreCounts, TickBatch
from falcotui.ops.engine_mirror import FleetMirror
from falcotui.ops.fleet.model import FleetState
from falcotui.ops.fleet.status import live_part, steady_part

HEALTH = Health(
    server="https://k8s.example:6443", context="prod", namespace="falco", api_reachable=True, api_error="",
    read_only=False, synced=True, log_streams=3, log_pods=3, grpc_streams=0, grpc_pods=0, lag_s=None,
    alerts=0, duplicates=0, relists=0, reconnects=0,
)  # fmt: skip


def batch(rows: dict, live: dict | None = None) -> TickBatch:
    return TickBatch(HEALTH, set(), AlertCounts(), [], [], StoreCounts(), rows=rows, live=live or {})


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


def test_a_live_part_alone_is_laid_over_the_row_the_mirror_holds() -> None:
    """Most changes of a quiet fleet's rows are their rate and sparkline: the worker sends that part alone
    (TickBatch.live) and the mirror builds the new row from the one it holds."""
    fleet = FleetState(namespace="falco")
    fleet.replace("nodes", [node(n) for n in ("a", "b")])
    a, b = fleet.row("a"), fleet.row("b")
    mirror = FleetMirror("falco")
    mirror.apply(batch({"a": a, "b": b}))
    version, _ = mirror.changed_since(-1)
    busier = replace(a, alerts_per_min=7, series=(0,) * 9 + (7,), worst=Priority.WARNING, channels=("log",))
    assert steady_part(busier) == steady_part(a) and live_part(busier) != live_part(a)
    mirror.apply(batch({}, {"a": live_part(busier)}))
    assert mirror.row("a") == busier and mirror.row("a") is not a  # a new object: screens see the change
    assert mirror.changed_since(version)[1] == {"a"} and mirror.row("b") is b
    fleet.apply("nodes", "modified", node("a", ready="False", reason="NodeStatusUnknown"))
    assert steady_part(fleet.row("a")) != steady_part(a)  # a Kubernetes change goes as the whole row


def test_the_falco_versions_are_kept_as_rows_come_and_go() -> None:
    """The header's Falco version(s) read from the mirror without a walk over every row."""
    fleet = FleetState(namespace="falco")
    fleet.replace("nodes", [node(n) for n in ("a", "b", "c")])
    a, b, c = (fleet.row(n) for n in "abc")
    mirror = FleetMirror("falco")
    mirror.apply(batch({"a": replace(a, version="0.41.3"), "b": replace(b, version="0.42.1"), "c": c}))
    assert mirror.versions() == {"0.41.3", "0.42.1"}
    mirror.apply(batch({"a": replace(a, version="0.42.1"), "c": replace(c, version="0.42.1")}))
    assert mirror.versions() == {"0.42.1"}
    mirror.apply(batch({"a": None, "b": None}, {"c": live_part(replace(c, alerts_per_min=3))}))
    assert mirror.versions() == {"0.42.1"} and mirror.row("c").version == "0.42.1"
    mirror.apply(batch({"c": None}))
    assert mirror.versions() == set() and fleet.versions() == set()  # FleetState: no Falco log read
