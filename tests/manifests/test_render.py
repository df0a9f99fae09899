"""`render()` and `falcotui manifests render`: namespace and tag overrides, the gRPC profile, bad input."""

from __future__ import annotations

import base64
import datetime as dt
import stat

import pytest
import yaml

from falcotui.cli import main
from falcotui.falco.certs import GrpcCerts, generate_grpc_certs
from falcotui.falco.config import validate_falco_yaml
from falcotui.ops.deploy import manifests
from falcotui.ops.deploy.manifests import ManifestError


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["manifests", "render", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_default_render_is_the_shipped_files(default_docs) -> None:
    assert default_docs == manifests.load_base()


def test_rendered_yaml_round_trips_and_keeps_falco_yaml_verbatim(default_docs, manifest_dir, k8s) -> None:
    text = manifests.to_yaml(manifests.render())
    assert list(yaml.safe_load_all(text)) == default_docs
    shipped = yaml.safe_load((manifest_dir / "30-falco-config.yaml").read_text())["data"]["falco.yaml"]
    assert k8s.find(default_docs, "ConfigMap", "falco-config")["data"]["falco.yaml"] == shipped
    # Multi-line files stay readable literal blocks, comments included.
    assert "  falco.yaml: |\n    # Keep loading the image's drop-ins" in text
    assert text == manifests.to_yaml(manifests.render()), "the output must be stable from run to run"


def test_cli_prints_exactly_the_rendered_yaml(capsys) -> None:
    code, out, err = _cli(capsys)
    assert (code, err) == (0, "")
    assert out == manifests.to_yaml(manifests.render())


def test_namespace_override_reaches_every_object(capsys, k8s) -> None:
    code, out, _ = _cli(capsys, "--namespace", "security-tools", "--grpc")
    assert code == 0
    docs = list(yaml.safe_load_all(out))
    assert k8s.find(docs, "Namespace")["metadata"]["name"] == "security-tools"
    for doc in docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "security-tools", doc["kind"]
    assert "namespace: falco\n" not in out
    assert "name: falco\n" in out, "object names stay as they are"


def test_namespace_override_rewrites_binding_subjects() -> None:
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "b"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "r"},
        "subjects": [
            {"kind": "ServiceAccount", "name": "falco", "namespace": "falco"},
            {"kind": "User", "name": "u"},
        ],
    }
    manifests.set_namespace([binding], "sec")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "falco", "namespace": "sec"},
        {"kind": "User", "name": "u"},
    ]
    assert "namespace" not in binding["metadata"]


def test_image_tag_override(k8s) -> None:
    docs = manifests.render(image_tag="0.44.1")
    assert k8s.falco_container(docs)["image"] == "falcosecurity/falco:0.44.1"


DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize(
    ("given", "image"),
    [
        (f"0.45.0@{DIGEST}", f"falcosecurity/falco:0.45.0@{DIGEST}"),
        (DIGEST, f"falcosecurity/falco@{DIGEST}"),
        (f"@{DIGEST}", f"falcosecurity/falco@{DIGEST}"),
        (f"latest@{DIGEST}", f"falcosecurity/falco:latest@{DIGEST}"),  # the digest pins it
    ],
)
def test_digest_pinning_is_accepted(capsys, k8s, given, image) -> None:
    assert k8s.falco_container(manifests.render(image_tag=given))["image"] == image
    code, out, _ = _cli(capsys, "--image-tag", given)
    assert code == 0 and f"image: {image}" in out
    # the gRPC profile still checks the version the tag names
    with pytest.raises(ManifestError, match="no gRPC server"):
        manifests.render(image_tag=f"0.45.0@{DIGEST}", grpc=True)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--namespace", "Falco_NS"], "not a valid Kubernetes namespace"),
        (["--namespace", "a" * 64], "not a valid Kubernetes namespace"),
        (["--image-tag", "latest"], "refusing image tag 'latest'"),
        (["--image-tag", "0.45.0; rm -rf /"], "not a valid container image tag"),
        (["--image-tag", "0.45.0@sha256:abc"], "is not sha256: followed by 64 lowercase hex digits"),
        (["--image-tag", "0.45.0@md5:" + "a" * 32], "is not sha256:"),
        (["--image-tag", "@"], "names neither a tag nor a digest"),
        (["--grpc", "--image-tag", "0.45.0"], "no gRPC server"),
        (["--no-secret"], "--no-secret and --secrets-dir only apply with --grpc"),
        (["--secrets-dir", "x"], "--no-secret and --secrets-dir only apply with --grpc"),
    ],
)
def test_bad_options_give_a_clear_error(capsys, args, message) -> None:
    code, out, err = _cli(capsys, *args)
    assert code == 2
    assert out == ""
    assert err.startswith("falcotui: error: ") and message in err
    assert "Traceback" not in err


def test_render_raises_our_error_type() -> None:
    with pytest.raises(ManifestError):
        manifests.render(namespace="")


def test_grpc_profile_from_the_cli_prints_no_private_key(grpc_cli_output, grpc_docs, k8s) -> None:
    assert "PRIVATE KEY" not in grpc_cli_output and "LS0tLS1CRUdJTi" not in grpc_cli_output  # nor base64
    base = manifests.load_base()
    assert [d["kind"] for d in grpc_docs] == [d["kind"] for d in base], "the Secrets are never on stdout"
    container = k8s.falco_container(grpc_docs)
    assert container["image"] == "falcosecurity/falco:0.43.1"
    assert container["args"] == ["/usr/bin/falco", "-c", "/etc/falco-config/falco.yaml", "-U"]
    ports = {p["name"]: p for p in container["ports"]}
    assert ports["grpc"] == {"name": "grpc", "containerPort": 5060, "protocol": "TCP"}
    assert ports["health"]["containerPort"] == 8765

    config = k8s.falco_yaml(grpc_docs)
    assert validate_falco_yaml(config, "0.43.1") == []
    assert config["grpc"]["enabled"] is True
    assert config["grpc"]["bind_address"] == "0.0.0.0:5060"
    assert config["grpc_output"] == {"enabled": True}


def test_grpc_profile_secrets_server_and_client_apart(k8s) -> None:
    docs = manifests.render(grpc=True)
    kinds = [d["kind"] for d in docs]
    assert kinds[-3:] == ["Secret", "Secret", "DaemonSet"], "the Secrets just before the DaemonSet"
    server = k8s.find(docs, "Secret", "falco-grpc-server")
    client = k8s.find(docs, "Secret", "falco-grpc-client")
    assert server["type"] == client["type"] == "Opaque"
    assert set(server["data"]) == {"ca.crt", "server.crt", "server.key"}
    assert set(client["data"]) == {"ca.crt", "server.crt", "client.crt", "client.key"}
    # The TLS paths in falco.yaml are files of the server's Secret, where it is mounted; the client's
    # Secret is mounted nowhere.
    container = k8s.falco_container(docs)
    config = k8s.falco_yaml(docs)
    template = k8s.find(docs, "DaemonSet")["spec"]["template"]
    volumes = {v["name"]: v for v in template["spec"]["volumes"]}
    secret_volumes = [v["secret"]["secretName"] for v in volumes.values() if "secret" in v]
    assert secret_volumes == ["falco-grpc-server"]
    (mount,) = [m for m in container["volumeMounts"] if "secret" in volumes[m["name"]]]
    assert "subPath" not in mount and mount["readOnly"] is True
    assert mount["mountPath"] not in ("/etc/falco", "/etc/falco/")
    for key, file in (("private_key", "server.key"), ("cert_chain", "server.crt"), ("root_certs", "ca.crt")):
        assert config["grpc"][key] == f"{mount['mountPath']}/{file}"
    assert all(m["mountPath"] != "/etc/falco" and "subPath" not in m for m in container["volumeMounts"])
    certs = GrpcCerts.from_secret_data({**client["data"], **server["data"]})
    assert b"BEGIN CERTIFICATE" in certs.ca_crt
    assert b"PRIVATE KEY" in base64.b64decode(client["data"]["client.key"])
    # Their expiry is on the pod template: viewers can see it, and a rotation rolls the pods.
    stamp = template["metadata"]["annotations"][manifests.GRPC_CERTS_EXPIRE]
    assert stamp == manifests.expiry_stamp(certs)
    lifetime = certs.expires() - dt.datetime.now(dt.UTC)
    assert dt.timedelta(days=89) < lifetime <= dt.timedelta(days=90)


def test_grpc_profile_generates_fresh_certificates_each_time(k8s) -> None:
    first, again = manifests.render(grpc=True), manifests.render(grpc=True)
    assert (
        k8s.find(again, "Secret", "falco-grpc-server")["data"]["ca.crt"]
        != k8s.find(first, "Secret", "falco-grpc-server")["data"]["ca.crt"]
    )


def test_grpc_profile_with_given_certs_or_without_secret(k8s) -> None:
    certs = generate_grpc_certs(("falco.example", "10.0.0.7"))
    docs = manifests.render(grpc=True, certs=certs)
    assert k8s.find(docs, "Secret", "falco-grpc-server")["data"] == certs.to_secret_data(
        ("ca.crt", "server.crt", "server.key")
    )

    no_secret = manifests.render(grpc=True, include_secret=False)
    assert "Secret" not in [d["kind"] for d in no_secret]
    volumes = k8s.find(no_secret, "DaemonSet")["spec"]["template"]["spec"]["volumes"]
    assert {
        "name": "grpc-certs",
        "secret": {"secretName": "falco-grpc-server", "defaultMode": 0o400},
    } in volumes


def test_cli_no_secret(capsys) -> None:
    code, out, err = _cli(capsys, "--grpc", "--no-secret")
    assert code == 0 and err == ""
    kinds = [d["kind"] for d in yaml.safe_load_all(out)]
    assert "Secret" not in kinds and kinds[-1] == "DaemonSet"


def test_cli_writes_the_secrets_only_where_asked(capsys, tmp_path) -> None:
    code, out, err = _cli(capsys, "--grpc")
    assert code == 0 and "PRIVATE KEY" not in out and "kind: Secret" not in out
    assert "--secrets-dir" in err  # says where the Secrets went (nowhere) and how to get them
    target = tmp_path / "secrets"
    code, out, err = _cli(capsys, "--grpc", "--secrets-dir", str(target))
    assert code == 0 and "kind: Secret" not in out
    assert stat.S_IMODE(target.stat().st_mode) == 0o700
    files = sorted(target.iterdir())
    assert [f.name for f in files] == ["falco-grpc-client.yaml", "falco-grpc-server.yaml"]
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
        (secret,) = yaml.safe_load_all(f.read_text())
        assert secret["kind"] == "Secret" and secret["metadata"]["namespace"] == "falco"
    code, _, err = _cli(capsys, "--grpc", "--secrets-dir", str(target))  # never overwrites
    assert code == 1 and "File exists" in err


def test_base_profile_is_untouched_by_a_grpc_render(default_docs) -> None:
    manifests.render(grpc=True)
    assert manifests.render() == default_docs


def test_tolerate_all_replaces_the_tolerations(capsys, k8s) -> None:
    docs = manifests.render(tolerate_all=True)
    assert k8s.find(docs, "DaemonSet")["spec"]["template"]["spec"]["tolerations"] == [{"operator": "Exists"}]
    code, out, _ = _cli(capsys, "--tolerate-all")
    assert code == 0 and out == manifests.to_yaml(manifests.render(tolerate_all=True))
    assert manifests.render() == manifests.load_base(), "the default keeps the shipped tolerations"


def test_kube_version_below_1_30_moves_app_armor_to_the_annotation(capsys, k8s) -> None:
    for version in ((1, 30), (1, 32), None):
        ds = k8s.find(manifests.render(kube_version=version), "DaemonSet")
        assert ds["spec"]["template"]["spec"]["containers"][0]["securityContext"]["appArmorProfile"] == {
            "type": "Unconfined"
        }
        assert "annotations" not in ds["spec"]["template"]["metadata"]
    old = k8s.find(manifests.render(kube_version=(1, 29)), "DaemonSet")["spec"]["template"]
    assert "appArmorProfile" not in old["spec"]["containers"][0]["securityContext"]
    annotations = old["metadata"]["annotations"]
    assert annotations == {"container.apparmor.security.beta.kubernetes.io/falco": "unconfined"}
    code, out, _ = _cli(capsys, "--kube-version", "v1.28.3-eks-1234")
    assert code == 0 and out == manifests.to_yaml(manifests.render(kube_version=(1, 28)))


def test_kube_version_older_than_supported_is_refused(capsys) -> None:
    with pytest.raises(ManifestError, match=r"Kubernetes 1\.26 is older than falcotui supports \(1\.27"):
        manifests.render(kube_version=(1, 26))
    code, out, err = _cli(capsys, "--kube-version", "1.26")
    assert code == 2 and out == "" and "older than falcotui supports" in err
    code, out, err = _cli(capsys, "--kube-version", "latest")
    assert code == 2 and "is not a Kubernetes version" in err


def test_privileged_is_the_charts_security_context(capsys, k8s) -> None:
    # falcosecurity/charts pod-template.tpl: modern_ebpf without leastPrivileged -> privileged: true only
    for version in (None, (1, 29)):
        ds = k8s.find(manifests.render(privileged=True, kube_version=version), "DaemonSet")
        container = ds["spec"]["template"]["spec"]["containers"][0]
        assert container["securityContext"] == {"privileged": True}
        assert "annotations" not in ds["spec"]["template"]["metadata"]  # no AppArmor annotation either
    code, out, _ = _cli(capsys, "--privileged")
    assert code == 0 and out == manifests.to_yaml(manifests.render(privileged=True))
    base = k8s.find(manifests.render(), "DaemonSet")["spec"]["template"]["spec"]["containers"][0]
    assert base["securityContext"]["privileged"] is False
    assert base["securityContext"]["capabilities"]["add"] == ["BPF", "SYS_RESOURCE", "PERFMON", "SYS_PTRACE"]
