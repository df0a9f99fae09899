"""A simulated API server of another Kubernetes version: /version says so and its schema is that version's,
so a field it does not know yet (`appArmorProfile` before 1.30) is refused - by strict decoding on create,
by server-side apply's typed conversion always - for our client and the real kubectl 1.32 alike; the
pre-1.30 AppArmor annotation is accepted."""

from __future__ import annotations

import json

import yaml

from falcotui.ops.deploy import manifests

DS_PATH = "/apis/apps/v1/namespaces/falco/daemonsets/falco"
APPARMOR_PATH = "spec.template.spec.containers[0].securityContext.appArmorProfile"


def _daemonset(**render_options) -> dict:
    docs = manifests.render(**render_options)
    return next(d for d in docs if d["kind"] == "DaemonSet")


def _write(tmp_path, name: str, docs: list[dict]):
    path = tmp_path / name
    path.write_text(manifests.to_yaml(docs))
    return path


def test_version_is_reported_as_configured(make_sim_cluster, api_http):
    old = make_sim_cluster(server_version="v1.29.10")
    status, body, _ = api_http.__class__(old)("GET", "/version")
    assert status == 200
    assert (body["major"], body["minor"], body["gitVersion"]) == ("1", "29", "v1.29.10")
    status, body, _ = api_http("GET", "/version")
    assert body["gitVersion"] == "v1.32.4"


def test_strict_apply_of_app_armor_field_is_refused_before_1_30_only(make_sim_cluster, api_http):
    for version, refused in (("v1.29.10", True), ("v1.30.0", False)):
        http = api_http.__class__(make_sim_cluster(server_version=version))
        http("POST", "/api/v1/namespaces", {"metadata": {"name": "falco"}})
        ds = _daemonset()
        status, body, _ = http("POST", "/apis/apps/v1/namespaces/falco/daemonsets?fieldValidation=Strict", ds)
        if refused:
            assert status == 400, body
            assert body["reason"] == "BadRequest"
            assert f'unknown field "{APPARMOR_PATH}"' in body["message"]
        else:
            assert status == 201, body
    # Without Strict (the API's default, Warn) the field is dropped with a warning: what runs differs.
    http = api_http.__class__(make_sim_cluster(server_version="v1.29.10"))
    http("POST", "/api/v1/namespaces", {"metadata": {"name": "falco"}})
    status, body, headers = http("POST", "/apis/apps/v1/namespaces/falco/daemonsets", _daemonset())
    assert status == 201
    assert "appArmorProfile" not in body["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    assert APPARMOR_PATH in headers.get("warning", "")


SMD_ERROR = (
    "failed to create typed patch object (falco/falco; apps/v1, Kind=DaemonSet): "
    '.spec.template.spec.containers[name="falco"].securityContext.appArmorProfile: '
    "field not declared in schema"
)


def test_server_side_apply_of_app_armor_field_is_refused_before_1_30_whatever_field_validation(
    make_sim_cluster, api_http
):
    http = api_http.__class__(make_sim_cluster(server_version="v1.29.10"))
    http("POST", "/api/v1/namespaces", {"metadata": {"name": "falco"}})
    for query in ("", "&fieldValidation=Ignore", "&fieldValidation=Strict"):
        status, body, _ = http(
            "PATCH", f"{DS_PATH}?fieldManager=t{query}", _daemonset(), ctype="application/apply-patch+yaml"
        )
        assert (status, body["message"]) == (500, SMD_ERROR), query
    annotated = _daemonset(kube_version=(1, 29))
    status, body, _ = http(
        "PATCH", f"{DS_PATH}?fieldManager=t", annotated, ctype="application/apply-patch+yaml"
    )
    assert status == 201, body


def test_kubectl_server_side_apply_against_1_29(make_sim_cluster, kubectl, tmp_path):
    old = make_sim_cluster(server_version="v1.29.10")
    cfg = old.kubeconfig_path
    field_render = _write(tmp_path, "field.yaml", manifests.render())
    proc = kubectl("apply", "--server-side", "-f", str(field_render), kubeconfig=cfg)
    assert proc.returncode != 0
    assert SMD_ERROR in proc.stderr
    annotated = _write(tmp_path, "annotation.yaml", manifests.render(kube_version=(1, 29)))
    kubectl("apply", "--server-side", "-f", str(annotated), kubeconfig=cfg, check=True)
    got = kubectl("get", "ds", "falco", "-n", "falco", "-o", "json", kubeconfig=cfg, check=True)
    ds = json.loads(got.stdout)
    template = ds["spec"]["template"]
    annotation = template["metadata"]["annotations"]["container.apparmor.security.beta.kubernetes.io/falco"]
    assert annotation == "unconfined"
    assert "appArmorProfile" not in template["spec"]["containers"][0]["securityContext"]
    assert (
        yaml.safe_load(kubectl("version", "-o", "yaml", kubeconfig=cfg).stdout)["serverVersion"]["gitVersion"]
        == "v1.29.10"
    )
