"""Server-side apply by one manager converges: after any history of applies, the object is what the last
applied configuration alone would create (fields dropped along the way are gone, nothing is left over)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from falcotui.sim.api.apply import server_side_apply
from falcotui.sim.api.resources import RESOURCES
from falcotui.sim.api.store import Store

NAMES = st.sampled_from(["main", "side", "init", "probe"])
ENV = st.dictionaries(st.sampled_from(["A", "B", "C"]), st.sampled_from(["1", "2"]), max_size=3)
CONTAINERS = st.dictionaries(NAMES, st.tuples(st.sampled_from(["x:1", "x:2"]), ENV), min_size=1, max_size=3)
LABELS = st.dictionaries(st.sampled_from(["team", "tier", "env"]), st.sampled_from(["a", "b"]), max_size=3)


def _config(containers: dict, labels: dict) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "agent", "labels": labels},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": {
                "metadata": {"labels": {"app": "agent"}},
                "spec": {
                    "containers": [
                        {"name": n, "image": img, "env": [{"name": k, "value": v} for k, v in env.items()]}
                        for n, (img, env) in containers.items()
                    ]
                },
            },
        },
    }


def _apply(store: Store, config: dict) -> dict:
    return server_side_apply(store, RESOURCES["daemonsets"], "default", "agent", config, manager="m",
                             force=False, dry_run=False)[1]  # fmt: skip


def _fresh_store() -> Store:
    store = Store(seed=0)
    store.create("namespaces", {"metadata": {"name": "default"}})
    return store


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(CONTAINERS, LABELS), min_size=1, max_size=4))
def test_repeated_applies_converge_to_the_last_configuration(history):
    store = _fresh_store()
    for containers, labels in history:
        live = _apply(store, _config(containers, labels))
    reference = _apply(_fresh_store(), _config(*history[-1]))
    assert live["spec"] == reference["spec"]
    assert live["metadata"].get("labels") in (reference["metadata"].get("labels"), None)
    if reference["metadata"].get("labels"):
        assert live["metadata"]["labels"] == reference["metadata"]["labels"]
    again = _apply(store, _config(*history[-1]))
    assert again["metadata"]["resourceVersion"] == live["metadata"]["resourceVersion"]
