"""Watch streams over a real socket: resume, 410 Expired, bookmarks, selectors, timeouts, fault hooks."""

from __future__ import annotations

import http.client
import json
import time
from urllib.parse import urlencode, urlsplit

import pytest

from falcotui.sim.cluster import SimCluster

CM_PATH = "/api/v1/namespaces/default/configmaps"


def _conn(cluster: SimCluster, timeout: float = 10) -> http.client.HTTPConnection:
    u = urlsplit(cluster.url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)


def request(cluster: SimCluster, method: str, path: str, body: dict | None = None,
            ctype: str = "application/json") -> tuple[int, dict]:  # fmt: skip
    conn = _conn(cluster)
    conn.request(method, path, body=json.dumps(body) if body is not None else None,
                 headers={"Content-Type": ctype})  # fmt: skip
    resp = conn.getresponse()
    data = json.loads(resp.read() or b"{}")
    conn.close()
    return resp.status, data


def make_cm(cluster: SimCluster, name: str, labels: dict | None = None) -> dict:
    status, obj = request(cluster, "POST", CM_PATH, {"metadata": {"name": name, "labels": labels or {}},
                                                     "data": {"k": "v"}})  # fmt: skip
    assert status == 201, obj
    return obj


def watch(cluster: SimCluster, path: str, max_events: int = 100, timeout: float = 10, **params) -> list[dict]:
    """Read events until the server ends the stream or `max_events` arrived."""
    conn = _conn(cluster, timeout)
    conn.request("GET", f"{path}?{urlencode({'watch': 'true', **params})}")
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.getheader("Transfer-Encoding") == "chunked"
    events = []
    while len(events) < max_events:
        line = resp.readline()
        if not line:
            break
        events.append(json.loads(line))
    conn.close()
    return events


def list_rv(cluster: SimCluster, path: str = CM_PATH) -> str:
    status, body = request(cluster, "GET", path)
    assert status == 200
    return body["metadata"]["resourceVersion"]


def test_watch_resumes_from_resource_version_in_order(sim_cluster):
    rv = list_rv(sim_cluster)
    make_cm(sim_cluster, "one")
    status, _ = request(
        sim_cluster, "PATCH", f"{CM_PATH}/one", {"data": {"k": "w"}}, "application/merge-patch+json"
    )
    assert status == 200
    request(sim_cluster, "DELETE", f"{CM_PATH}/one")
    events = watch(sim_cluster, CM_PATH, max_events=3, resourceVersion=rv)
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    assert events[1]["object"]["data"] == {"k": "w"}
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert rvs == sorted(rvs) and rvs[0] > int(rv)


def test_watch_without_resource_version_starts_with_current_state(sim_cluster):
    make_cm(sim_cluster, "a")
    make_cm(sim_cluster, "b")
    events = watch(sim_cluster, CM_PATH, max_events=2, timeoutSeconds=5)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "a"), ("ADDED", "b")]


def test_watch_from_expired_resource_version_gets_410_error_event(sim_cluster):
    rv = list_rv(sim_cluster)
    make_cm(sim_cluster, "x")
    sim_cluster.expire_history()
    events = watch(sim_cluster, CM_PATH, resourceVersion=rv)
    assert len(events) == 1
    assert events[0]["type"] == "ERROR"
    status = events[0]["object"]
    assert (status["kind"], status["code"], status["reason"]) == ("Status", 410, "Expired")
    assert status["message"].startswith(f"too old resource version: {rv}")


def test_history_window_expires_old_resource_versions(make_sim_cluster):
    cluster = make_sim_cluster(nodes=1, watch_history=50)
    rv = list_rv(cluster)
    for i in range(60):
        make_cm(cluster, f"cm-{i}")
    events = watch(cluster, CM_PATH, resourceVersion=rv)
    assert events[0]["type"] == "ERROR" and events[0]["object"]["code"] == 410
    recent = list_rv(cluster)
    make_cm(cluster, "late")
    ok = watch(cluster, CM_PATH, max_events=1, resourceVersion=recent)
    assert ok[0]["type"] == "ADDED" and ok[0]["object"]["metadata"]["name"] == "late"


def test_bookmarks_arrive_only_when_asked(make_sim_cluster):
    cluster = make_sim_cluster(nodes=1, bookmark_interval=0.1)
    rv = list_rv(cluster)
    with_bm = watch(cluster, CM_PATH, resourceVersion=rv, allowWatchBookmarks="true", timeoutSeconds=1)
    bookmarks = [e for e in with_bm if e["type"] == "BOOKMARK"]
    assert len(bookmarks) >= 2
    assert bookmarks[0]["object"]["kind"] == "ConfigMap"
    assert int(bookmarks[0]["object"]["metadata"]["resourceVersion"]) >= int(rv)
    without = watch(cluster, CM_PATH, resourceVersion=rv, timeoutSeconds=1)
    assert without == []


def test_timeout_seconds_ends_the_stream(sim_cluster):
    # `watch` returns only when the server ends the stream: a stream left open hits the 30 s socket timeout
    # and raises instead (no timed assert: a busy machine may be slow, never early)
    events = watch(sim_cluster, CM_PATH, timeout=30, resourceVersion=list_rv(sim_cluster), timeoutSeconds=1)
    assert events == []


def test_label_selector_watch_reports_objects_leaving_the_set_as_deleted(sim_cluster):
    make_cm(sim_cluster, "sel", labels={"tier": "sec"})
    rv = list_rv(sim_cluster)
    make_cm(sim_cluster, "other", labels={"tier": "web"})
    request(sim_cluster, "PATCH", f"{CM_PATH}/sel", {"metadata": {"labels": {"tier": "web"}}},
            "application/merge-patch+json")  # fmt: skip
    events = watch(sim_cluster, CM_PATH, max_events=1, resourceVersion=rv, labelSelector="tier in (sec)")
    assert events[0]["type"] == "DELETED" and events[0]["object"]["metadata"]["name"] == "sel"


def test_field_selector_watch_on_pods_by_node(sim_cluster, kubectl, manifests_dir):
    kubectl("apply", "--server-side", "-f", str(manifests_dir), check=True)
    kubectl("rollout", "status", "ds/falco", "-n", "falco", "--timeout=30s", check=True)
    events = watch(sim_cluster, "/api/v1/pods", max_events=1, timeoutSeconds=3,
                   fieldSelector="spec.nodeName=sim-node-01")  # fmt: skip
    assert len(events) == 1 and events[0]["object"]["spec"]["nodeName"] == "sim-node-01"


def test_close_watches_ends_open_streams(sim_cluster):
    import threading

    result: list[list[dict]] = []
    rv = list_rv(sim_cluster)
    t = threading.Thread(target=lambda: result.append(watch(sim_cluster, CM_PATH, resourceVersion=rv)))
    t.start()
    deadline = time.monotonic() + 30
    while sim_cluster.call(lambda: sim_cluster.server.watches.active) == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sim_cluster.close_watches() == 1
    t.join(30)
    assert not t.is_alive() and result == [[]]


def test_restart_api_server_keeps_port_and_objects(sim_cluster):
    make_cm(sim_cluster, "survivor")
    url = sim_cluster.url
    sim_cluster.restart_api_server()
    assert sim_cluster.url == url
    status, obj = request(sim_cluster, "GET", f"{CM_PATH}/survivor")
    assert status == 200 and obj["data"] == {"k": "v"}


@pytest.mark.parametrize("rv", ["abc", "-"])
def test_invalid_resource_version_is_a_bad_request(sim_cluster, rv):
    conn = _conn(sim_cluster)
    conn.request("GET", f"{CM_PATH}?watch=true&resourceVersion={rv}")
    resp = conn.getresponse()
    body = json.loads(resp.read())
    assert resp.status == 400 and body["kind"] == "Status" and body["reason"] == "BadRequest"
