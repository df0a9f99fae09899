"""Apply helpers that need no server: diffs without server noise, conflict reports, manifest loading."""

from __future__ import annotations

from pathlib import Path

import pytest

from falcotui.kube.apply import (
    ApplyConflictError,
    ApplyError,
    load_manifests,
    parse_conflicts,
    sort_for_apply,
    yaml_diff,
)
from falcotui.kube.exec import ExecError, parse_exec_status, websocket_failure


def test_diff_ignores_server_noise_and_shows_real_changes() -> None:
    live = {
        "kind": "ConfigMap",
        "metadata": {"name": "x", "resourceVersion": "7", "uid": "u", "managedFields": [{"manager": "m"}],
                     "creationTimestamp": "2026-11-26T00:00:00Z", "generation": 1},
        "data": {"a": "1"},
    }  # fmt: skip
    same = {**live, "metadata": {**live["metadata"], "resourceVersion": "9", "managedFields": []}}
    assert yaml_diff(live, same, "ConfigMap x") == ""
    changed = {**same, "data": {"a": "2"}}
    diff = yaml_diff(live, changed, "ConfigMap x")
    assert "-  a: '1'" in diff and "+  a: '2'" in diff
    assert "resourceVersion" not in diff and "managedFields" not in diff


def test_conflict_report_names_field_and_manager() -> None:
    status = {
        "details": {
            "causes": [
                {
                    "reason": "FieldManagerConflict",
                    "message": 'conflict with "kubectl-edit" using apps/v1',
                    "field": '.spec.template.spec.containers[name="falco"].image',
                }
            ]
        }
    }
    err = ApplyConflictError("DaemonSet falco/falco", parse_conflicts(status), "Apply failed with 1 conflict")
    text = str(err)
    assert text.startswith("DaemonSet falco/falco: 1 field owned by another manager:")
    assert ".spec.template.spec.containers[name=\"falco\"].image  (owned by 'kubectl-edit')" in text
    assert "force" in text


def test_repository_manifests_load_in_dependency_order(repo_root: Path) -> None:
    texts = [p.read_text() for p in sorted((repo_root / "manifests").glob("*.yaml"))]
    objs = sort_for_apply(load_manifests(texts))
    kinds = [o["kind"] for o in objs]
    assert kinds[0] == "Namespace" and kinds[-1] == "DaemonSet"
    assert all(o.get("metadata", {}).get("name") for o in objs)


def test_bad_manifest_yaml_is_our_error() -> None:
    with pytest.raises(ApplyError, match="invalid manifest YAML"):
        load_manifests(["kind: [oops\n"])
    with pytest.raises(ApplyError, match="not a mapping"):
        load_manifests(["- a\n- b\n"])


def test_exec_status_channel() -> None:
    assert parse_exec_status('{"metadata":{},"status":"Success"}') == 0
    failure = (
        '{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code",'
        '"reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"2"}]}}'
    )
    assert parse_exec_status(failure) == 2
    with pytest.raises(ExecError, match="executable file not found"):
        parse_exec_status('{"status":"Failure","message":"exec: \\"nope\\": executable file not found"}')
    with pytest.raises(ExecError, match="without a status"):
        parse_exec_status("")


def test_websocket_handshake_failure_becomes_the_servers_message() -> None:
    raw = (
        "Handshake status 404 Not Found -+-+- {'content-type': 'application/json'} -+-+- "
        '{"kind":"Status","status":"Failure","message":"pods \\"x\\" not found","code":404}'
    )
    assert websocket_failure(raw) == (404, 'pods "x" not found')
    assert websocket_failure("Connection refused") == (None, "Connection refused")
