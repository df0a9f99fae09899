"""The shipped custom rules load cleanly on top of Falco's default rules; the seed guide's rules do not."""

from __future__ import annotations

import pytest

from falcotui.falco.rules.loader import load_rules

# The seed guide's three rules, conditions verbatim.
SEED_RULES = """
- rule: Unexpected outbound network connection
  desc: An unexpected outbound network connection was detected.
  condition: outbound and net
  output: Unexpected outbound connection from %container.name (%container.image) to %fd.sip:%fd.sport
  priority: warning
  tags: [network, outbound]
- rule: Write to sensitive directories
  desc: A process tried to write to a sensitive directory.
  condition: syscall="open" and fd.flags contains "O_WRONLY" and fd.name startswith "/etc/kubernetes/" or fd.name startswith "/run/containerd/" or fd.name startswith "/var/lib/kubelet/"
  output: Write to sensitive directory %fd.name by %container.name (%container.image)
  priority: error
  tags: [filesystem, security]
- rule: Suspicious shell in container
  desc: A shell process was detected running in a container.
  condition: container and proc.name = "sh" or proc.name = "bash" or proc.name = "zsh"
  output: Suspicious shell '%proc.name' executed in container '%container.name' (%container.image)
  priority: notice
  tags: [container, security]
"""  # noqa: E501


@pytest.fixture(scope="module")
def default_rules(shared_data) -> str:
    return (shared_data / "falco_rules.yaml").read_text()


def _load(default_rules: str, name: str, text: str):
    result = load_rules([("falco_rules.yaml", default_rules), (name, text)])
    (mine,) = [f for f in result.files if f.name == name]
    lints = [m for m in result.lints if m.file == name]
    return result, mine, lints


def test_shipped_custom_rules_have_no_errors_or_warnings(default_rules, default_docs, k8s) -> None:
    custom = k8s.find(default_docs, "ConfigMap", "falco-rules")["data"]["custom-rules.yaml"]
    result, mine, lints = _load(default_rules, "custom-rules.yaml", custom)
    assert [m.text for m in mine.errors] == []
    assert [m.text for m in mine.warnings] == []
    assert [m.text for m in lints] == []
    loaded = {r.name: r for r in result.rules if r.file == "custom-rules.yaml"}
    assert {name: r.priority for name, r in loaded.items()} == {
        "Unexpected outbound connection from container": "Warning",
        "Write below Kubernetes or container runtime state directory": "Error",
        "Shell started in container": "Notice",
    }
    for rule in loaded.values():
        assert rule.desc and rule.output and rule.tags


def test_the_seed_guide_rules_fail_the_same_check(default_rules) -> None:
    _, mine, lints = _load(default_rules, "seed-rules.yaml", SEED_RULES)
    errors = " | ".join(m.text for m in mine.errors)
    assert "fd.flags" in errors
    assert "'net'" in errors
    assert "syscall" in errors
    # The shell rule loads, but means "(container and sh) or any bash or any zsh", on every syscall.
    shell = "Suspicious shell in container"
    assert any(m.item_name == shell for m in mine.warnings)
    assert {m.code for m in lints if m.item_name == shell} >= {"FALCOTUI_MIXED_AND_OR"}
