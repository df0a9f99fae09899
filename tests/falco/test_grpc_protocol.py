"""The committed gRPC stubs: Falco's wire names and field numbers, regenerable exactly, and conversions."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import subprocess
import sys

import pytest
from google.protobuf.descriptor import FieldDescriptor as F

from falcotui.falco.alerts import AlertParseError, Priority, alert_from_grpc, parse_json_alert
from falcotui.falco.grpc import outputs_pb2, schema_pb2, version_pb2
from falcotui.falco.grpc.convert import alert_to_response, version_response
from falcotui.ops.channels.grpc_client import GrpcTls, has_grpc_output

GRPC_DIR = "falcotui/falco/grpc"
PROTOS = ["schema.proto", "outputs.proto", "version.proto"]


def test_service_and_method_names_are_falcos():
    outputs = outputs_pb2.DESCRIPTOR.services_by_name["service"]
    assert outputs.full_name == "falco.outputs.service"
    sub, get = outputs.methods_by_name["sub"], outputs.methods_by_name["get"]
    assert (sub.client_streaming, sub.server_streaming) == (True, True)
    assert (get.client_streaming, get.server_streaming) == (False, True)
    assert (
        sub.input_type.full_name == "falco.outputs.request"
        and sub.output_type.full_name == "falco.outputs.response"
    )
    version = version_pb2.DESCRIPTOR.services_by_name["service"]
    assert version.full_name == "falco.version.service"
    v = version.methods_by_name["version"]
    assert (v.client_streaming, v.server_streaming) == (False, False)
    assert outputs_pb2.request.DESCRIPTOR.fields == [] and version_pb2.request.DESCRIPTOR.fields == []


def test_field_numbers_and_types_match_falcos_protocol():
    response = {f.name: (f.number, f.type) for f in outputs_pb2.response.DESCRIPTOR.fields}
    assert response == {
        "time": (1, F.TYPE_MESSAGE),
        "priority": (2, F.TYPE_ENUM),
        "source_deprecated": (3, F.TYPE_ENUM),
        "rule": (4, F.TYPE_STRING),
        "output": (5, F.TYPE_STRING),
        "output_fields": (6, F.TYPE_MESSAGE),
        "hostname": (7, F.TYPE_STRING),
        "tags": (8, F.TYPE_STRING),
        "source": (9, F.TYPE_STRING),
    }
    fields = outputs_pb2.response.DESCRIPTOR.fields_by_name
    assert fields["time"].message_type.full_name == "google.protobuf.Timestamp"
    assert fields["priority"].enum_type.full_name == "falco.schema.priority"
    assert fields["output_fields"].message_type.GetOptions().map_entry
    version_fields = [(f.number, f.name) for f in version_pb2.response.DESCRIPTOR.fields]
    assert sorted(version_fields) == list(
        enumerate(
            ["version", "major", "minor", "patch", "prerelease", "build", "engine_minor",
             "engine_fields_checksum", "engine_major", "engine_patch", "engine_version"],
            start=1,
        )
    )  # fmt: skip


def test_schema_enums_have_falcos_values_and_aliases():
    for p in Priority:
        for spelling in (p.name, p.name.lower(), p.label):
            assert schema_pb2.priority.Value(spelling) == int(p)
    assert [schema_pb2.source.Value(n) for n in ("SYSCALL", "K8S_AUDIT", "INTERNAL", "PLUGIN")] == [
        0,
        1,
        2,
        3,
    ]
    assert schema_pb2.source.Value("k8s_audit") == schema_pb2.source.Value("K8s_audit") == 1


def _why_stubs_cannot_be_regenerated_here() -> str | None:
    if importlib.util.find_spec("grpc_tools") is None:
        return "grpcio-tools (dev extra) is not installed"
    from falcotui.falco.grpc import outputs_pb2_grpc

    installed = importlib.metadata.version("grpcio-tools")
    if installed != outputs_pb2_grpc.GRPC_GENERATED_VERSION:
        return f"the stubs come from grpcio-tools {outputs_pb2_grpc.GRPC_GENERATED_VERSION}, not {installed}"
    return None


@pytest.mark.skipif(
    _why_stubs_cannot_be_regenerated_here() is not None, reason=str(_why_stubs_cannot_be_regenerated_here())
)
def test_committed_stubs_are_exactly_what_make_proto_generates(repo_root, tmp_path):
    protos = [f"{GRPC_DIR}/{p}" for p in PROTOS]
    out = ["--python_out", str(tmp_path), "--grpc_python_out", str(tmp_path), "--pyi_out", str(tmp_path)]
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", "-I.", *out, *protos], cwd=repo_root, check=True
    )
    generated = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert len(generated) == 9
    for rel in generated:
        assert (repo_root / rel).read_bytes() == (tmp_path / rel).read_bytes(), (
            f"{rel} is stale: run `make proto`"
        )
    assert (
        "from falcotui.falco.grpc import schema_pb2" in (repo_root / GRPC_DIR / "outputs_pb2.py").read_text()
    )


def test_alert_to_response_and_back(shared_data):
    lines = (shared_data / "falco_stdout_sample.log").read_bytes().splitlines()
    for line in (x for x in lines if x.startswith(b"{")):
        alert = parse_json_alert(line)
        wire = outputs_pb2.response.FromString(alert_to_response(alert).SerializeToString())
        back = alert_from_grpc(wire, node="n")
        assert (back.time_ns, back.rule, back.output, back.priority, back.source) == (
            alert.time_ns, alert.rule, alert.output, alert.priority, alert.source
        )  # fmt: skip
        assert back.channel == "grpc" and back.node == "n"
    na = parse_json_alert(
        b'{"rule":"r","priority":"Debug","time":"2026-11-26T10:00:00Z","output_fields":{"a":null,"b":true}}'
    )
    assert dict(alert_to_response(na).output_fields) == {"a": "<NA>", "b": "true"}


def test_responses_from_older_falcos_and_bad_responses():
    old = outputs_pb2.response(rule="r", priority=schema_pb2.Warning, source_deprecated=schema_pb2.K8S_AUDIT)
    assert alert_from_grpc(old).source == "k8s_audit"
    with pytest.raises(AlertParseError, match="unknown priority number 12"):
        alert_from_grpc(outputs_pb2.response(rule="r", priority=12))
    with pytest.raises(AlertParseError, match="empty rule"):
        alert_from_grpc(outputs_pb2.response())


def test_version_response_splits_semver():
    r = version_response("0.43.1-rc2+abc", engine_version="0.58.3")
    assert (r.major, r.minor, r.patch, r.prerelease, r.build) == (0, 43, 1, "rc2", "abc")
    assert (r.engine_major, r.engine_minor, r.engine_patch) == (0, 58, 3)
    with pytest.raises(ValueError, match="not a semantic version"):
        version_response("latest")


@pytest.mark.parametrize(
    ("version", "has"),
    [
        ("0.43.1", True),
        ("0.36.2", True),
        ("0.44.0", False),
        ("v0.45.0", False),
        ("1.0.0", False),
        ("latest", None),
    ],
)
def test_which_falco_versions_have_grpc_output(version, has):
    assert has_grpc_output(version) is has


def test_tls_material_needs_cert_and_key_together():
    with pytest.raises(ValueError, match="needs its key"):
        GrpcTls(b"ca", client_crt=b"crt")
