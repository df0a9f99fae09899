"""REST verbs with real semantics over HTTP: patches, selectors, validation errors, subresources, paging."""

from __future__ import annotations

import pytest

CMS = "/api/v1/namespaces/default/configmaps"
DSS = "/apis/apps/v1/namespaces/default/daemonsets"
SMP = "application/strategic-merge-patch+json"


def _ds(name: str = "agent", labels: dict | None = None) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {"name": "main", "image": "busybox:1.36", "env": [{"name": "A", "value": "1"}]},
                        {"name": "side", "image": "busybox:1.36"},
                    ],
                    "volumes": [
                        {"name": "etc", "hostPath": {"path": "/etc"}},
                        {"name": "proc", "hostPath": {"path": "/proc"}},
                    ],
                },
            },
        },
    }


def test_strategic_merge_patch_merges_containers_and_volumes_by_name(api_http):
    status, created, _ = api_http("POST", DSS, _ds())
    assert status == 201 and created["metadata"]["generation"] == 1
    patch = {"spec": {"template": {"spec": {
        "containers": [{"name": "main", "image": "busybox:1.37", "env": [{"name": "B", "value": "2"}]}],
        "volumes": [{"name": "etc", "$patch": "delete"}],
    }}}}  # fmt: skip
    status, ds, _ = api_http("PATCH", f"{DSS}/agent", patch, ctype=SMP)
    assert status == 200, ds
    spec = ds["spec"]["template"]["spec"]
    assert [(c["name"], c["image"]) for c in spec["containers"]] == [
        ("main", "busybox:1.37"),
        ("side", "busybox:1.36"),
    ]
    assert spec["containers"][0]["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    assert [v["name"] for v in spec["volumes"]] == ["proc"]
    assert ds["metadata"]["generation"] == 2


def test_merge_patch_null_removes_a_key_and_metadata_only_change_keeps_generation(api_http):
    api_http("POST", DSS, _ds(labels={"a": "1", "b": "2"}))
    status, ds, _ = api_http("PATCH", f"{DSS}/agent", {"metadata": {"labels": {"a": None}}},
                             ctype="application/merge-patch+json")  # fmt: skip
    assert status == 200 and ds["metadata"]["labels"] == {"b": "2"}
    assert ds["metadata"]["generation"] == 1


def test_json_patch_and_failed_test_operation(api_http):
    api_http("POST", CMS, {"metadata": {"name": "j"}, "data": {"a": "1"}})
    ops = [{"op": "add", "path": "/data/b", "value": "2"}, {"op": "replace", "path": "/data/a", "value": "9"}]
    status, cm, _ = api_http("PATCH", f"{CMS}/j", ops, ctype="application/json-patch+json")
    assert status == 200 and cm["data"] == {"a": "9", "b": "2"}
    status, err, _ = api_http("PATCH", f"{CMS}/j", [{"op": "test", "path": "/data/a", "value": "1"}],
                              ctype="application/json-patch+json")  # fmt: skip
    assert status == 422 and err["kind"] == "Status"


def test_patch_with_stale_resource_version_is_a_conflict(api_http):
    _, cm, _ = api_http("POST", CMS, {"metadata": {"name": "p"}, "data": {"a": "1"}})
    api_http("PATCH", f"{CMS}/p", {"data": {"a": "2"}}, ctype="application/merge-patch+json")
    stale = {"metadata": {"resourceVersion": cm["metadata"]["resourceVersion"]}, "data": {"a": "3"}}
    status, err, _ = api_http("PATCH", f"{CMS}/p", stale, ctype="application/merge-patch+json")
    assert status == 409 and err["reason"] == "Conflict"


def test_errors_are_status_objects_with_the_right_codes(api_http):
    status, err, _ = api_http("GET", f"{CMS}/missing")
    assert (status, err["reason"], err["message"]) == (404, "NotFound", 'configmaps "missing" not found')
    assert err["details"] == {"name": "missing", "group": "", "kind": "configmaps"}
    api_http("POST", CMS, {"metadata": {"name": "dup"}})
    status, err, _ = api_http("POST", CMS, {"metadata": {"name": "dup"}})
    assert (status, err["reason"]) == (409, "AlreadyExists")
    status, err, _ = api_http("POST", "/api/v1/namespaces/nope/configmaps", {"metadata": {"name": "x"}})
    assert (status, err["message"]) == (404, 'namespaces "nope" not found')
    bad = _ds()
    bad["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    status, err, _ = api_http("POST", DSS, bad)
    assert status == 422 and err["reason"] == "Invalid"
    assert err["details"]["causes"][0]["field"] == "spec.template.metadata.labels"
    status, err, _ = api_http("POST", CMS, "{not json")
    assert (status, err["reason"]) == (400, "BadRequest")
    status, err, _ = api_http("PATCH", f"{CMS}/dup", {}, ctype="text/plain")
    assert (status, err["reason"]) == (415, "UnsupportedMediaType")
    status, err, _ = api_http("GET", "/api/v1/widgets")
    assert (status, err["kind"]) == (404, "Status")
    status, err, _ = api_http("POST", CMS, {"metadata": {"name": "Bad_Name"}})
    assert status == 422 and "RFC 1123" in err["message"]


def test_label_and_field_selectors_on_list(api_http):
    for name, labels in (("a", {"tier": "web"}), ("b", {"tier": "db", "skip": "1"}), ("c", {"tier": "db"})):
        api_http("POST", CMS, {"metadata": {"name": name, "labels": labels}})

    def names(query: str) -> list[str]:
        status, body, _ = api_http("GET", f"{CMS}?{query}")
        assert status == 200, body
        return [o["metadata"]["name"] for o in body["items"]]

    assert names("labelSelector=tier%20in%20(db,web),!skip") == ["a", "c"]
    assert names("labelSelector=tier!%3Dweb") == ["b", "c"]
    assert names("labelSelector=tier%20notin%20(web)") == ["b", "c"]
    assert names("labelSelector=skip") == ["b"]
    assert names("fieldSelector=metadata.name%3Dc") == ["c"]
    assert names("fieldSelector=metadata.name!%3Dc,metadata.namespace%3Ddefault") == ["a", "b"]
    status, err, _ = api_http("GET", f"{CMS}?fieldSelector=spec.nodeName%3Dx")
    assert (status, err["message"]) == (400, "field label not supported: spec.nodeName")
    status, err, _ = api_http("GET", f"{CMS}?labelSelector=a%20in%20(")
    assert status == 400 and err["reason"] == "BadRequest"


def test_pods_by_node_and_phase(api_http, kubectl, manifests_dir):
    kubectl("apply", "--server-side", "-f", str(manifests_dir), check=True)
    kubectl("rollout", "status", "ds/falco", "-n", "falco", "--timeout=30s", check=True)
    _, body, _ = api_http(
        "GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dsim-node-02,status.phase%3DRunning"
    )
    assert [p["spec"]["nodeName"] for p in body["items"]] == ["sim-node-02"]


def test_list_pagination_with_limit_and_continue(api_http):
    for i in range(5):
        api_http("POST", CMS, {"metadata": {"name": f"page-{i}"}})
    seen, query = [], "limit=2"
    while True:
        _, body, _ = api_http("GET", f"{CMS}?{query}")
        seen += [o["metadata"]["name"] for o in body["items"]]
        token = body["metadata"].get("continue")
        if not token:
            break
        query = f"limit=2&continue={token}"
    assert seen == [f"page-{i}" for i in range(5)]


def _put_retrying(api_http, path: str, get_path: str, change) -> dict:
    """PUT a changed copy of the live object, retrying on 409 as clients do (the controller writes too)."""
    for _ in range(20):
        _, obj, _ = api_http("GET", get_path)
        change(obj)
        status, out, _ = api_http("PUT", path, obj)
        if status != 409:
            assert status == 200, out
            return out
    raise AssertionError("the object kept changing")


def test_status_subresource_and_main_resource_are_separate(api_http):
    api_http("POST", DSS, _ds())

    def bogus_status(obj: dict) -> None:
        obj["status"]["numberMisscheduled"] = 42

    out = _put_retrying(api_http, f"{DSS}/agent", f"{DSS}/agent", bogus_status)
    assert out["status"]["numberMisscheduled"] == 0  # the main resource ignores status

    def status_and_spec(obj: dict) -> None:
        obj["status"]["numberMisscheduled"] = 42
        obj["spec"]["template"]["spec"]["containers"][0]["image"] = "changed:1"  # ignored by /status

    out = _put_retrying(api_http, f"{DSS}/agent/status", f"{DSS}/agent", status_and_spec)
    assert out["status"]["numberMisscheduled"] == 42
    assert out["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox:1.36"
    assert out["metadata"]["generation"] == 1


def test_namespace_deletion_terminates_then_removes_contents(api_http, sim_cluster):
    import time

    api_http("POST", "/api/v1/namespaces", {"metadata": {"name": "tmp"}})
    api_http("POST", "/api/v1/namespaces/tmp/configmaps", {"metadata": {"name": "x"}})
    status, ns, _ = api_http("DELETE", "/api/v1/namespaces/tmp")
    assert status == 200 and ns["status"]["phase"] == "Terminating"
    status, err, _ = api_http("POST", "/api/v1/namespaces/tmp/configmaps", {"metadata": {"name": "y"}})
    assert status == 403 and "being terminated" in err["message"]
    deadline = time.monotonic() + 30
    while api_http("GET", "/api/v1/namespaces/tmp")[0] != 404 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert api_http("GET", "/api/v1/namespaces/tmp/configmaps/x")[0] == 404


def test_delete_collection_by_label(api_http):
    for name, team in (("d1", "a"), ("d2", "a"), ("d3", "b")):
        api_http("POST", CMS, {"metadata": {"name": name, "labels": {"team": team}}})
    status, body, _ = api_http("DELETE", f"{CMS}?labelSelector=team%3Da")
    assert status == 200 and sorted(o["metadata"]["name"] for o in body["items"]) == ["d1", "d2"]
    _, left, _ = api_http("GET", CMS)
    assert [o["metadata"]["name"] for o in left["items"]] == ["d3"]


@pytest.mark.parametrize("path", ["/api", "/apis"])
def test_aggregated_discovery_when_asked(api_http, path):
    v2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    accept = f"{v2},{v2.replace('v=v2', 'v=v2beta1')},application/json"
    status, body, headers = api_http("GET", path, accept=accept)
    assert status == 200 and body["kind"] == "APIGroupDiscoveryList"
    assert headers["content-type"] == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    resources = {r["resource"]: r for item in body["items"] for v in item["versions"] for r in v["resources"]}
    if path == "/api":
        pods = resources["pods"]
        assert pods["shortNames"] == ["po"] and pods["scope"] == "Namespaced"
        assert {s["subresource"] for s in pods["subresources"]} == {"status", "log", "exec", "portforward"}
    else:
        assert resources["daemonsets"]["shortNames"] == ["ds"]
    status, legacy, _ = api_http("GET", path)
    assert legacy["kind"] in ("APIVersions", "APIGroupList")


def test_kubectl_api_resources_lists_short_names_and_subresource_free_kinds(kubectl):
    out = kubectl("api-resources", "--no-headers", check=True).stdout
    rows = {line.split()[0]: line.split() for line in out.splitlines()}
    assert rows["pods"][1:] == ["po", "v1", "true", "Pod"]
    assert rows["daemonsets"][1:] == ["ds", "apps/v1", "true", "DaemonSet"]
    assert rows["nodes"][1:] == ["no", "v1", "false", "Node"]
    assert rows["selfsubjectaccessreviews"][1:] == [
        "authorization.k8s.io/v1",
        "false",
        "SelfSubjectAccessReview",
    ]


def test_table_response_for_pods(api_http, kubectl, manifests_dir):
    kubectl("apply", "--server-side", "-f", str(manifests_dir), check=True)
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    status, table, _ = api_http("GET", "/api/v1/namespaces/falco/pods", accept=accept)
    assert status == 200 and table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    columns = ["Name", "Ready", "Status", "Restarts", "Age", "IP", "Node", "Nominated Node"]
    columns.append("Readiness Gates")
    assert [c["name"] for c in table["columnDefinitions"]] == columns
    for row in table["rows"]:
        assert row["object"]["kind"] == "PartialObjectMetadata"
        assert row["cells"][0] == row["object"]["metadata"]["name"]


def test_field_validation_strict_rejects_and_warn_drops_unknown_fields(api_http):
    body = {"metadata": {"name": "typo"}, "datta": {"a": "b"}}
    status, err, _ = api_http("POST", f"{CMS}?fieldValidation=Strict", body)
    assert (status, err["message"]) == (400, 'strict decoding error: unknown field "datta"')
    status, cm, headers = api_http("POST", CMS, body)
    assert status == 201 and "datta" not in cm
    assert headers["warning"] == '299 - "unknown field \\"datta\\""'
    ds = _ds()
    ds["spec"]["template"]["spec"]["containers"][0]["imagee"] = "x"
    status, err, _ = api_http("POST", f"{DSS}?fieldValidation=Strict", ds)
    assert status == 400
    assert err["message"] == 'strict decoding error: unknown field "spec.template.spec.containers[0].imagee"'


def test_resource_version_match_needs_a_resource_version(api_http):
    status, err, _ = api_http("GET", f"{CMS}?resourceVersionMatch=NotOlderThan")
    assert (
        status == 422
        and "resourceVersionMatch is forbidden unless resourceVersion is provided" in err["message"]
    )
    status, body, _ = api_http("GET", f"{CMS}?resourceVersionMatch=NotOlderThan&resourceVersion=0")
    assert status == 200 and body["kind"] == "ConfigMapList"


def _bad_ds(change) -> dict:
    ds = _ds()
    change(ds)
    return ds


JSON = "application/json"
BAD_TOLERATIONS = _bad_ds(lambda d: d["spec"]["template"]["spec"].update(tolerations=True))
BAD_STRATEGY = _bad_ds(lambda d: d["spec"].update(updateStrategy="RollingUpdate"))
BAD_LABELS = _bad_ds(lambda d: d["spec"]["template"]["metadata"].update(labels=5))
BAD_APPLY = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"labels":{"a":1}}}'
ROLES = "/apis/rbac.authorization.k8s.io/v1/clusterroles"


@pytest.mark.parametrize(
    ("method", "path", "body", "ctype", "code"),
    [
        ("DELETE", f"{CMS}/x", "a=b", JSON, 400),
        ("DELETE", f"{DSS}/agent/status", None, JSON, 405),
        ("POST", DSS, BAD_TOLERATIONS, JSON, 422),
        ("POST", DSS, BAD_STRATEGY, JSON, 422),
        ("POST", DSS, BAD_LABELS, JSON, 422),
        ("PATCH", f"{DSS}/agent", {"metadata": 5}, "application/merge-patch+json", 400),
        ("PATCH", f"{DSS}/agent", {"spec": {"template": {"spec": {"containers": "x"}}}}, SMP, 422),
        ("PATCH", f"{CMS}/x?fieldManager=m", BAD_APPLY, "application/apply-patch+yaml", 400),
        ("POST", ROLES, {"metadata": {"name": "r"}, "rules": [{"verbs": "get"}]}, JSON, 422),
    ],
)
def test_malformed_requests_get_a_client_error_status_never_a_500(api_http, method, path, body, ctype, code):
    api_http("POST", DSS, _ds())
    api_http("POST", CMS, {"metadata": {"name": "x"}})
    status, err, _ = api_http(method, path, body, ctype=ctype)
    assert status == code, err
    assert err["kind"] == "Status" and err["code"] == code and err["message"]
