"""kubectl apply (server-side and client-side), replace, delete against the simulated API server."""

from __future__ import annotations

import json

import yaml

KINDS = "namespaces,serviceaccounts,configmaps,daemonsets,clusterroles"


def _versions(kubectl) -> dict[str, str]:
    out = kubectl("get", KINDS, "-A", "-o", "json", check=True).stdout
    return {
        f"{o['kind']}/{o['metadata'].get('namespace', '')}/{o['metadata']['name']}": o["metadata"][
            "resourceVersion"
        ]
        for o in json.loads(out)["items"]
    }


def _dry_run_visible(kubectl) -> dict[str, dict]:
    """Per object, everything a (dry-run) apply could write: every top-level field but `status` (spec,
    data, rules, ...) and metadata's generation, labels, annotations and managedFields. Not resourceVersion:
    the simulated DaemonSet controller and kubelets keep writing status while pods start, which moves it."""
    out = kubectl("get", KINDS, "-A", "-o", "json", "--show-managed-fields", check=True).stdout
    state = {}
    for o in json.loads(out)["items"]:
        meta = o["metadata"]
        key = f"{o['kind']}/{meta.get('namespace', '')}/{meta['name']}"
        body = {k: v for k, v in o.items() if k not in ("metadata", "status")}
        kept = ("generation", "labels", "annotations", "managedFields")
        state[key] = {**body, "metadata": {k: meta.get(k) for k in kept}}
    return state


def _ds(kubectl) -> dict:
    return json.loads(kubectl("get", "ds", "falco", "-n", "falco", "-o", "json", check=True).stdout)


def _image(ds: dict) -> str:
    return ds["spec"]["template"]["spec"]["containers"][0]["image"]


def _ds_with_image(manifests_dir, tmp_path, image: str):
    text = (manifests_dir / "40-daemonset.yaml").read_text().replace("falcosecurity/falco:0.45.0", image)
    path = tmp_path / "ds.yaml"
    path.write_text(text)
    return path


def test_server_side_apply_creates_everything_and_reapply_changes_nothing(kubectl, manifests_dir):
    out = kubectl("apply", "--server-side", "-f", str(manifests_dir), check=True).stdout
    for line in ("namespace/falco serverside-applied", "configmap/falco-rules serverside-applied",
                 "daemonset.apps/falco serverside-applied"):  # fmt: skip
        assert line in out
    # the DaemonSet controller writes status while pods start; let the rollout settle so only an
    # apply could change a resourceVersion between the two reads
    kubectl("rollout", "status", "ds/falco", "-n", "falco", "--timeout=120s", check=True)
    first = _versions(kubectl)
    assert "DaemonSet/falco/falco" in first and "ConfigMap/falco/falco-config" in first
    kubectl("apply", "--server-side", "-f", str(manifests_dir), check=True)
    assert _versions(kubectl) == first


def test_other_manager_conflicts_and_force_takes_ownership(kubectl, manifests_dir, tmp_path):
    kubectl("apply", "--server-side", "-f", str(manifests_dir), check=True)
    path = _ds_with_image(manifests_dir, tmp_path, "falcosecurity/falco:0.44.1")
    proc = kubectl("apply", "--server-side", "--field-manager=ops-bot", "-f", str(path))
    assert proc.returncode == 1
    field = '.spec.template.spec.containers[name="falco"].image'
    assert f'Apply failed with 1 conflict: conflict with "kubectl": {field}' in proc.stderr
    assert "--force-conflicts" in proc.stderr
    assert _image(_ds(kubectl)) == "falcosecurity/falco:0.45.0"

    kubectl(
        "apply", "--server-side", "--field-manager=ops-bot", "--force-conflicts", "-f", str(path), check=True
    )
    ds = _ds(kubectl)
    assert _image(ds) == "falcosecurity/falco:0.44.1"
    assert ds["metadata"]["generation"] == 2
    managed = json.loads(
        kubectl("get", "ds", "falco", "-n", "falco", "-o", "json", "--show-managed-fields", check=True).stdout
    )["metadata"]["managedFields"]
    owners = {m["manager"]: json.dumps(m["fieldsV1"]) for m in managed}
    assert '"f:image"' in owners["ops-bot"] and '"f:image"' not in owners["kubectl"]


def test_dry_run_server_changes_nothing(kubectl, manifests_dir, tmp_path):
    proc = kubectl(
        "apply", "--server-side", "--dry-run=server", "-f", str(manifests_dir / "00-namespace.yaml")
    )
    assert proc.returncode == 0 and "(server dry run)" in proc.stdout
    assert kubectl("get", "ns", "falco").returncode == 1
    kubectl("apply", "--server-side", "-f", str(manifests_dir), check=True)
    before = _dry_run_visible(kubectl)
    assert before["DaemonSet/falco/falco"]["metadata"]["managedFields"]
    path = _ds_with_image(manifests_dir, tmp_path, "falcosecurity/falco:0.44.0")
    flags = ["--server-side", "--force-conflicts", "--dry-run=server", "--field-manager=x"]
    kubectl("apply", *flags, "-f", str(path), check=True)
    assert _dry_run_visible(kubectl) == before
    assert _image(_ds(kubectl)) == "falcosecurity/falco:0.45.0"


def test_client_side_apply_three_way_merge(kubectl, tmp_path):
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "demo", "namespace": "default"},
          "data": {"a": "1", "b": "2"}}  # fmt: skip
    path = tmp_path / "cm.yaml"
    path.write_text(yaml.safe_dump(cm))
    assert "configmap/demo created" in kubectl("apply", "-f", str(path), check=True).stdout
    kubectl("label", "cm", "demo", "-n", "default", "team=sec", check=True)  # a change made elsewhere
    cm["data"] = {"a": "1", "c": "3"}
    path.write_text(yaml.safe_dump(cm))
    assert "configmap/demo configured" in kubectl("apply", "-f", str(path), check=True).stdout
    live = json.loads(kubectl("get", "cm", "demo", "-n", "default", "-o", "json", check=True).stdout)
    assert live["data"] == {"a": "1", "c": "3"}  # b removed: it was in the last applied configuration
    assert live["metadata"]["labels"] == {"team": "sec"}  # kept: apply never owned it
    last = json.loads(live["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
    assert last["data"] == {"a": "1", "c": "3"}


def test_client_side_apply_patches_containers_by_name(kubectl, manifests_dir, tmp_path):
    kubectl("apply", "-f", str(manifests_dir), check=True)
    path = _ds_with_image(manifests_dir, tmp_path, "falcosecurity/falco:0.44.1")
    assert "daemonset.apps/falco configured" in kubectl("apply", "-f", str(path), check=True).stdout
    ds = _ds(kubectl)
    containers = ds["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["falco"]
    assert containers[0]["image"] == "falcosecurity/falco:0.44.1"
    assert containers[0]["env"]  # the rest of the container survived the patch
    assert ds["metadata"]["generation"] == 2


def test_replace_with_stale_resource_version_is_a_conflict(kubectl, manifests_dir, tmp_path):
    kubectl("apply", "--server-side", "-f", str(manifests_dir), check=True)
    stale = kubectl("get", "cm", "falco-rules", "-n", "falco", "-o", "yaml", check=True).stdout
    kubectl("annotate", "cm", "falco-rules", "-n", "falco", "edited-by=someone-else", check=True)
    path = tmp_path / "cm.yaml"
    path.write_text(stale)
    proc = kubectl("replace", "-f", str(path))
    assert proc.returncode == 1
    assert (
        'Error from server (Conflict): error when replacing "'
        + str(path)
        + '": Operation cannot be fulfilled on '
        'configmaps "falco-rules": the object has been modified; please apply your changes to the latest '
        "version and try again"
    ) in proc.stderr
    fresh = kubectl("get", "cm", "falco-rules", "-n", "falco", "-o", "yaml", check=True).stdout
    path.write_text(fresh)
    assert "configmap/falco-rules replaced" in kubectl("replace", "-f", str(path), check=True).stdout


def test_delete_removes_everything_including_daemonset_pods(kubectl, manifests_dir):
    kubectl("apply", "--server-side", "-f", str(manifests_dir), check=True)
    kubectl("rollout", "status", "ds/falco", "-n", "falco", "--timeout=30s", check=True)
    assert len(kubectl("get", "pods", "-n", "falco", "-o", "name", check=True).stdout.split()) == 3
    out = kubectl("delete", "-f", str(manifests_dir), check=True).stdout
    assert 'daemonset.apps "falco" deleted' in out and 'namespace "falco" deleted' in out
    assert kubectl("get", "ns", "falco").returncode == 1
    assert kubectl("get", "pods", "-A", "-o", "name", check=True).stdout.strip() == ""
    assert kubectl("get", "clusterroles", "-o", "name", check=True).stdout.strip() == ""
