"""Pure pieces of the simulated API: selectors, patches, field paths, ages."""

from __future__ import annotations

import pytest

from falcotui.sim.api.errors import StoreError
from falcotui.sim.api.fieldsets import path_string, paths_of
from falcotui.sim.api.patch import strategic_merge
from falcotui.sim.api.selectors import match_label_selector, parse_field_selector, parse_label_selector
from falcotui.sim.api.tables import human_duration


def _obj(labels: dict) -> dict:
    return {"metadata": {"labels": labels}}


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("app=falco", {"app": "falco"}, True),
        ("app==falco", {"app": "x"}, False),
        ("app!=falco", {}, True),
        ("env in (prod, staging)", {"env": "staging"}, True),
        ("env notin (prod)", {}, True),
        ("env notin (prod)", {"env": "prod"}, False),
        ("tier,!canary", {"tier": "a"}, True),
        ("tier,!canary", {"tier": "a", "canary": ""}, False),
        ("example.com/role=edge,env in (a,b)", {"example.com/role": "edge", "env": "b"}, True),
    ],
)
def test_label_selector_syntax(selector, labels, expected):
    pred = parse_label_selector(selector)
    assert pred is not None and pred(_obj(labels)) is expected


@pytest.mark.parametrize("bad", ["a in (", "=x", "a=b=c", "a in (x y)"])
def test_bad_label_selector_is_our_error(bad):
    with pytest.raises(StoreError) as err:
        parse_label_selector(bad)
    assert err.value.code == 400


def test_field_selector_on_events_and_unknown_fields():
    pred = parse_field_selector("involvedObject.kind=Pod,involvedObject.name=falco-x", "events")
    assert pred({"involvedObject": {"kind": "Pod", "name": "falco-x"}, "metadata": {}})
    assert not pred({"involvedObject": {"kind": "Node", "name": "falco-x"}, "metadata": {}})
    with pytest.raises(StoreError, match=r"field label not supported: status\.phase"):
        parse_field_selector("status.phase=Running", "configmaps")


def test_label_selector_objects():
    sel = {"matchLabels": {"app": "falco"}, "matchExpressions": [{"key": "env", "operator": "NotIn",
                                                                  "values": ["dev"]}]}  # fmt: skip
    assert match_label_selector(sel, {"app": "falco", "env": "prod"})
    assert not match_label_selector(sel, {"app": "falco", "env": "dev"})
    assert match_label_selector({}, {})


def test_strategic_merge_directives_kubectl_sends():
    live = {
        "spec": {
            "containers": [{"name": "a", "image": "x:1", "args": ["-v"]}, {"name": "b", "image": "y:1"}],
            "finalizers": ["one"],
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
        }
    }
    patch = {
        "spec": {
            "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
            "containers": [{"name": "a", "args": ["-q"]}],
            "finalizers": ["two"],
            "strategy": {"$retainKeys": ["type"], "type": "OnDelete"},
        }
    }
    out = strategic_merge(live, patch)
    spec = out["spec"]
    assert [c["name"] for c in spec["containers"]] == ["b", "a"]
    assert spec["containers"][1] == {
        "name": "a",
        "image": "x:1",
        "args": ["-q"],
    }  # args: replaced, not merged
    assert spec["finalizers"] == ["one", "two"]
    assert spec["strategy"] == {"type": "OnDelete"}
    assert live["spec"]["containers"][0]["args"] == ["-v"]  # the original is untouched
    replaced = strategic_merge(
        live, {"spec": {"containers": [{"name": "c", "image": "z"}, {"$patch": "replace"}]}}
    )
    assert replaced["spec"]["containers"] == [{"name": "c", "image": "z"}]


def test_field_paths_for_associative_lists():
    obj = {"spec": {"containers": [{"name": "falco", "image": "f", "ports": [{"containerPort": 8765}]}]}}
    paths = paths_of(obj)
    image = ("f:spec", "f:containers", 'k:{"name":"falco"}', "f:image")
    assert image in paths
    assert path_string(image) == '.spec.containers[name="falco"].image'
    port = (
        "f:spec",
        "f:containers",
        'k:{"name":"falco"}',
        "f:ports",
        'k:{"containerPort":8765,"protocol":"TCP"}',
        ".",
    )
    assert port in paths
    assert path_string(port) == '.spec.containers[name="falco"].ports[containerPort=8765,protocol="TCP"]'


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(5, "5s"), (119, "119s"), (150, "2m30s"), (600, "10m"), (3 * 3600 + 60, "3h1m"), (30 * 3600, "30h"),
     (3 * 86400 + 3600, "3d1h"), (40 * 86400, "40d"), (-5, "<invalid>")],
)  # fmt: skip
def test_human_duration_matches_kubectl(seconds, text):
    assert human_duration(seconds) == text
