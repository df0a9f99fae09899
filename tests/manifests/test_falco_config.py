"""The falco.yaml model: which keys each Falco version accepts, and the problems the validator reports."""

from __future__ import annotations

import pytest

from falcotui.falco.config import UnsupportedFalcoVersion, minor_version, validate_falco_yaml

GOOD = {
    "config_files": ["/etc/falco/config.d"],
    "rules_files": ["/etc/falco/falco_rules.yaml", "/etc/falco/rules.d"],
    "engine": {"kind": "modern_ebpf", "modern_ebpf": {"buf_size_preset": 4}},
    "json_output": True,
    "stdout_output": {"enabled": True},
    "webserver": {"enabled": True, "listen_port": 8765, "k8s_healthz_endpoint": "/healthz"},
    "priority": "debug",
}
GRPC = {
    "grpc": {"enabled": True, "bind_address": "0.0.0.0:5060", "private_key": "/x"},
    "grpc_output": {"enabled": True},
}


def test_a_clean_document_has_no_problems() -> None:
    assert validate_falco_yaml(GOOD, "0.45.0") == []
    assert validate_falco_yaml(GOOD, "0.43.1") == []


def test_seed_guide_keys_do_not_exist() -> None:
    seed = {
        **GOOD,
        "outputs": [{"output": "json_output", "file": "/tmp/falco_output.json"}],
        "json_output_layout": [{"key": "timestamp", "value": "%(ts)"}],
        "keep_alive": {"enabled": True},
        "rules_files": ["/etc/falco/rules.d/*.yaml"],
    }
    problems = validate_falco_yaml(seed, "0.45.0")
    assert any("'outputs'" in p for p in problems)
    assert any("'json_output_layout'" in p for p in problems)
    assert any("'keep_alive'" in p for p in problems)
    assert any("glob" in p and "rules.d/*.yaml" in p for p in problems)


def test_grpc_exists_only_up_to_0_43() -> None:
    assert validate_falco_yaml({**GOOD, **GRPC}, "0.43.1") == []
    problems = validate_falco_yaml({**GOOD, **GRPC}, "0.45.0")
    assert sorted(problems) == sorted(
        [
            "unknown key 'grpc' (not a falco.yaml option in Falco 0.45)",
            "unknown key 'grpc_output' (not a falco.yaml option in Falco 0.45)",
        ]
    )
    legacy = {**GOOD, "engine": {"kind": "ebpf", "ebpf": {"probe": "/p"}}}
    assert validate_falco_yaml(legacy, "0.43.0") == []
    problems = validate_falco_yaml(legacy, "0.44.1")
    assert "unknown key 'engine.ebpf' (not a falco.yaml option in Falco 0.44)" in problems
    assert any("'engine.kind' is 'ebpf'" in p for p in problems)


def test_nested_keys_and_value_types() -> None:
    doc = {
        **GOOD,
        "webserver": {"enabled": "yes", "listen_port": 70000, "port": 8765},
        "json_output": "true",
        "stdout_output": {"enabled": True, "file": "/tmp/x"},
        "priority": "loud",
        "engine": {"modern_ebpf": {}},
        "program_output": {"enabled": False},
    }
    problems = validate_falco_yaml(doc, "0.45")
    for expected in (
        "unknown key 'webserver.port'",
        "'webserver.listen_port' must be a TCP port number",
        "'json_output' must be true or false",
        "unknown key 'stdout_output.file'",
        "'priority' is 'loud'",
        "'engine.kind' is required",
        "'program_output.program' is required",
    ):
        assert any(expected in p for p in problems), expected
    assert validate_falco_yaml(["not", "a", "mapping"], "0.45") == [
        "falco.yaml must be a mapping of options, got list"
    ]


def test_versions() -> None:
    assert minor_version("0.45.0") == "0.45"
    assert minor_version("v0.43.1") == "0.43"
    for bad in ("0.36.2", "latest", "", "1"):
        with pytest.raises(UnsupportedFalcoVersion):
            validate_falco_yaml(GOOD, bad)
