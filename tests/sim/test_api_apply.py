"""Server-side apply over HTTP: ownership, removal of un-applied fields, shared ownership, dry run."""

from __future__ import annotations

import yaml

CM = "/api/v1/namespaces/default/configmaps/settings"
APPLY = "application/apply-patch+yaml"


def _apply(api_http, data: dict, manager: str, *, force: bool = False, dry: bool = False, labels=None):
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": data}
    if labels:
        body["metadata"]["labels"] = labels
    query = f"fieldManager={manager}" + ("&force=true" if force else "") + ("&dryRun=All" if dry else "")
    return api_http("PATCH", f"{CM}?{query}", yaml.safe_dump(body), ctype=APPLY)


def _owners(cm: dict) -> dict[str, set[str]]:
    out = {}
    for entry in cm["metadata"]["managedFields"]:
        out[entry["manager"]] = set(entry["fieldsV1"].get("f:data", {})) - {"."}
    return out


def test_apply_creates_with_201_and_records_the_manager(api_http):
    status, cm, _ = _apply(api_http, {"a": "1"}, "deployer")
    assert status == 201 and cm["data"] == {"a": "1"}
    entry = cm["metadata"]["managedFields"][0]
    assert (entry["manager"], entry["operation"], entry["fieldsType"]) == ("deployer", "Apply", "FieldsV1")
    assert entry["fieldsV1"]["f:data"] == {".": {}, "f:a": {}}
    status, again, _ = _apply(api_http, {"a": "1"}, "deployer")
    assert status == 200 and again["metadata"]["resourceVersion"] == cm["metadata"]["resourceVersion"]


def test_fields_dropped_from_the_applied_config_are_removed(api_http):
    _apply(api_http, {"a": "1", "b": "2"}, "deployer")
    status, cm, _ = _apply(api_http, {"a": "1"}, "deployer")
    assert status == 200 and cm["data"] == {"a": "1"}


def test_same_value_is_shared_ownership_and_survives_one_owner_leaving(api_http):
    _apply(api_http, {"a": "1", "b": "2"}, "deployer")
    status, cm, _ = _apply(api_http, {"b": "2"}, "auditor")  # same value: no conflict
    assert status == 200
    assert _owners(cm) == {"deployer": {"f:a", "f:b"}, "auditor": {"f:b"}}
    _, cm, _ = _apply(api_http, {"a": "1"}, "deployer")
    assert cm["data"] == {"a": "1", "b": "2"}  # auditor still owns b


def test_conflicting_value_lists_every_field_and_force_moves_ownership(api_http):
    _apply(api_http, {"a": "1", "b": "2"}, "deployer")
    status, err, _ = _apply(api_http, {"a": "x", "b": "y"}, "intruder")
    assert status == 409 and err["reason"] == "Conflict"
    assert err["message"] == 'Apply failed with 2 conflicts: conflicts with "deployer"\n- .data.a\n- .data.b'
    assert [c["field"] for c in err["details"]["causes"]] == [".data.a", ".data.b"]
    assert {c["reason"] for c in err["details"]["causes"]} == {"FieldManagerConflict"}
    status, cm, _ = _apply(api_http, {"a": "x"}, "intruder", force=True)
    assert status == 200 and cm["data"] == {"a": "x", "b": "2"}
    assert _owners(cm) == {"deployer": {"f:b"}, "intruder": {"f:a"}}


def test_update_operations_take_ownership_and_then_conflict_with_apply(api_http):
    _apply(api_http, {"a": "1"}, "deployer")
    status, _, _ = api_http("PATCH", f"{CM}?fieldManager=editor", {"data": {"a": "2"}},
                            ctype="application/merge-patch+json")  # fmt: skip
    assert status == 200
    status, err, _ = _apply(api_http, {"a": "3"}, "deployer")
    assert status == 409
    assert err["details"]["causes"][0]["message"].startswith('conflict with "editor" using v1 at ')


def test_dry_run_apply_reports_the_result_without_storing_it(api_http):
    _, created, _ = _apply(api_http, {"a": "1"}, "deployer")
    status, preview, _ = _apply(api_http, {"a": "2"}, "deployer", dry=True)
    assert status == 200 and preview["data"] == {"a": "2"}
    _, live, _ = api_http("GET", CM)
    assert live["data"] == {"a": "1"}
    assert live["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    ghost = yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ghost"}})
    path = "/api/v1/namespaces/default/configmaps/ghost?fieldManager=m&dryRun=All"
    status, _, _ = api_http("PATCH", path, ghost, ctype=APPLY)
    assert status == 201
    assert api_http("GET", "/api/v1/namespaces/default/configmaps/ghost")[0] == 404


def test_apply_needs_a_field_manager_and_matching_kind(api_http):
    body = yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}})
    status, err, _ = api_http("PATCH", CM, body, ctype=APPLY)
    assert status == 400 and "fieldManager" in err["message"]
    wrong = yaml.safe_dump({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "settings"}})
    status, err, _ = api_http("PATCH", f"{CM}?fieldManager=m", wrong, ctype=APPLY)
    assert status == 400 and err["kind"] == "Status"


def test_yaml_dates_stay_strings(api_http):
    body = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  since: 2026-01-01\n"
    status, err, _ = api_http("PATCH", f"{CM}?fieldManager=m", body, ctype=APPLY)
    assert status == 201, err
    assert err["data"] == {"since": "2026-01-01"}


def test_containers_dropped_from_the_applied_config_are_removed(api_http):
    def ds(*containers: str) -> str:
        return yaml.safe_dump({
            "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
            "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": {
                "metadata": {"labels": {"app": "agent"}},
                "spec": {"containers": [{"name": c, "image": f"{c}:1"} for c in containers]}}},
        })  # fmt: skip

    path = "/apis/apps/v1/namespaces/default/daemonsets/agent?fieldManager=deployer"
    status, _, _ = api_http("PATCH", path, ds("main", "side"), ctype=APPLY)
    assert status == 201
    status, second, _ = api_http("PATCH", path, ds("main"), ctype=APPLY)
    assert status == 200, second
    containers = second["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["main"]
    assert containers[0]["imagePullPolicy"] == "IfNotPresent"  # defaults survive
    assert second["metadata"]["generation"] == 2
