"""The rules loader on real rules: Falco's default ruleset, the seed guide's rules, the shipped manifests."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml

from falcotui.falco.rules import ast as A
from falcotui.falco.rules.checks import walk
from falcotui.falco.rules.loader import LoadResult, load_rules
from falcotui.falco.rules.results import Message


def seed_rules_text(shared_data: Path) -> str:
    """The `rules:` section of the seed guide's ConfigMap as written there, with the YAML indentation
    the guide's formatting lost put back (`- rule:` at column 0, its keys indented by two)."""
    guide = shared_data.parent / "seed" / "falco-daemonset-guide.txt"
    lines = guide.read_text(encoding="utf-8").splitlines()
    start = lines.index("rules:") + 1
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("Apply this ConfigMap"))
    return "\n".join(line if line.startswith("- ") else "  " + line for line in lines[start:end]) + "\n"


def by_code(result: LoadResult, code: str) -> list[Message]:
    return [m for m in [*result.errors, *result.warnings, *result.lints] if m.code == code]


@pytest.fixture(scope="module")
def default_rules(shared_data: Path) -> str:
    return (shared_data / "falco_rules.yaml").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def defaults(default_rules: str) -> LoadResult:
    return load_rules([("falco_rules.yaml", default_rules)])


def test_default_rules_load_with_no_errors_warnings_or_lints(defaults: LoadResult) -> None:
    assert defaults.successful
    assert [(m.code, m.line, m.text) for m in defaults.messages] == []
    assert defaults.required_engine_version == "0.57.0"
    assert defaults.required_plugin_versions == [[("container", "0.4.0")]]


def test_every_default_macro_and_list_resolves(defaults: LoadResult, default_rules: str) -> None:
    items = yaml.safe_load(default_rules)
    macro_names = {i["macro"] for i in items if "macro" in i}
    list_names = {i["list"] for i in items if "list" in i}
    rule_names = [i["rule"] for i in items if "rule" in i]
    assert len(macro_names) == 87 and len(list_names) == 49 and len(rule_names) == 25
    assert set(defaults.macros) == macro_names
    assert set(defaults.lists) == list_names
    assert [r.name for r in defaults.rules] == rule_names
    for rule in defaults.rules:
        nodes = list(walk(rule.condition))
        # Macros are expanded: no macro reference is left, and no list name survives as a value.
        assert not any(isinstance(n, A.Identifier) for n in nodes), rule.name
        values = {
            v.text
            for n in nodes
            if isinstance(n, A.BinaryCheck) and isinstance(n.value, A.ValueList)
            for v in n.value.items
        }
        assert not values & list_names, rule.name


def test_resolved_rule_carries_what_the_simulator_needs(defaults: LoadResult) -> None:
    rule = defaults.rule("Terminal shell in container")
    assert rule is not None
    assert (rule.priority, rule.priority_level, rule.source, rule.enabled) == ("Notice", 5, "syscall", True)
    assert "shell" in rule.tags and list(rule.tags) == sorted(rule.tags)
    assert rule.output.startswith("A shell was spawned in a container")
    assert rule.file == "falco_rules.yaml" and rule.line == 713
    # `shell_procs` is a macro over the `shell_binaries` list, substituted item by item.
    checks = [n for n in walk(rule.condition) if isinstance(n, A.BinaryCheck) and n.field.name == "proc.name"]
    assert any(isinstance(c.value, A.ValueList) and "bash" in {v.text for v in c.value.items} for c in checks)


def test_seed_guide_rules_are_rejected_for_the_right_reasons(shared_data: Path, default_rules: str) -> None:
    seed = seed_rules_text(shared_data)
    result = load_rules([("falco_rules.yaml", default_rules), ("seed.yaml", seed)])
    assert not result.successful
    assert [f.successful for f in result.files] == [True, False]
    lines = seed.splitlines()

    def col_of(line: int, needle: str) -> int:
        return lines[line - 1].index(needle) + 1

    errors = {(m.item_name, m.code, m.line, m.column): m.text for m in result.errors}
    # Rule 1: `net` is not a macro (`outbound` is one, from the default rules).
    assert errors[("Unexpected outbound network connection", "LOAD_ERR_VALIDATE", 3, col_of(3, "net"))] == (
        "Undefined macro 'net' used in filter."
    )
    # Rule 2: `syscall` is no field (a dotless name is a macro reference, then `=` cannot follow), and
    # `fd.flags` is not a field either.
    syscall = errors[
        ("Write to sensitive directories", "LOAD_ERR_COMPILE_CONDITION", 9, col_of(9, "syscall") + 7)
    ]
    assert "'syscall'" in syscall
    flags = errors[("Write to sensitive directories", "LOAD_ERR_COMPILE_CONDITION", 9, col_of(9, "fd.flags"))]
    assert flags == "filter_check called with nonexistent field fd.flags"
    assert len(result.errors) == 3
    # The precedence lint fires on both `A and B or C` conditions, at their first `or`.
    mixed = {(m.item_name, m.line, m.column) for m in by_code(result, "FALCOTUI_MIXED_AND_OR")}
    assert mixed == {
        ("Write to sensitive directories", 9, col_of(9, " or ") + 1),
        ("Suspicious shell in container", 15, col_of(15, " or ") + 1),
    }
    (guard,) = by_code(result, "FALCOTUI_GUARD_ESCAPE")
    assert (guard.item_name, guard.line, guard.column) == (
        "Suspicious shell in container",
        15,
        col_of(15, "container"),
    )
    assert "'container'" in guard.text and not guard.falco


MANIFEST = Path(__file__).resolve().parents[2] / "manifests" / "31-falco-rules.yaml"


@pytest.mark.skipif(not MANIFEST.exists(), reason="manifests/31-falco-rules.yaml not written yet")
def test_manifest_custom_rules_load_clean_on_top_of_the_defaults(default_rules: str) -> None:
    docs = [d for d in yaml.safe_load_all(MANIFEST.read_text(encoding="utf-8")) if d]
    (cm,) = [d for d in docs if d.get("kind") == "ConfigMap" and d["metadata"]["name"] == "falco-rules"]
    custom = cm["data"]["custom-rules.yaml"]
    result = load_rules([("falco_rules.yaml", default_rules), ("custom-rules.yaml", custom)])
    assert [(m.code, m.file, m.line, m.text) for m in result.messages] == []
    custom_rules = [r for r in result.rules if r.file == "custom-rules.yaml"]
    assert custom_rules, "the ConfigMap defines rules of its own"


def test_custom_rules_load_on_top_of_defaults_and_override_them(default_rules: str) -> None:
    custom = textwrap.dedent(
        """
        - list: shell_binaries
          items: [fish]
          override:
            items: append
        - macro: user_known_system_user_login
          condition: proc.pname = my_tool
          override:
            condition: replace
        - rule: Terminal shell in container
          priority: critical
          tags: [mine]
          override:
            priority: replace
            tags: append
        """
    )
    result = load_rules([("falco_rules.yaml", default_rules), ("custom.yaml", custom)])
    assert result.successful and result.messages == []
    rule = result.rule("Terminal shell in container")
    assert rule is not None and rule.priority == "Critical" and "mine" in rule.tags
    assert "fish" in result.lists["shell_binaries"]


def test_json_has_falco_validation_shape(shared_data: Path, default_rules: str) -> None:
    seed = seed_rules_text(shared_data)
    result = load_rules([("falco_rules.yaml", default_rules), ("seed.yaml", seed)])
    doc = json.loads(json.dumps(result.to_falco_json()))
    assert [r["name"] for r in doc["falco_load_results"]] == ["falco_rules.yaml", "seed.yaml"]
    first, second = doc["falco_load_results"]
    assert first == {"name": "falco_rules.yaml", "successful": True, "errors": [], "warnings": []}
    assert second["successful"] is False
    err = second["errors"][0]
    assert set(err) == {"context", "code", "codedesc", "message"}
    assert err["code"] == "LOAD_ERR_VALIDATE" and err["message"] == "Undefined macro 'net' used in filter."
    assert err["codedesc"] == "Error validating rule/macro/list/exception objects"
    locs = err["context"]["locations"]
    assert [loc["item_type"] for loc in locs] == ["rules content", "rule", "condition expression"]
    assert locs[1]["item_name"] == "Unexpected outbound network connection"
    # Positions are 0-based, like the yaml-cpp marks Falco prints.
    assert locs[2]["position"]["line"] == 2 and locs[2]["position"]["column"] == 26
    assert err["context"]["snippet"] == "  condition: outbound and net\n                          ^\n"
    warn = second["warnings"][0]
    assert warn["code"] == "LOAD_NO_EVTTYPE" and warn["codedesc"].startswith(
        "A rule condition matches too many"
    )
    assert {lint["code"] for lint in doc["falcotui_lints"]} == {
        "FALCOTUI_MIXED_AND_OR",
        "FALCOTUI_GUARD_ESCAPE",
    }


def test_multi_document_files_and_appended_conditions_keep_their_own_positions() -> None:
    first = textwrap.dedent(
        """\
        - rule: r
          desc: d
          condition: evt.type = execve
          output: o
          priority: INFO
        ---
        - list: empty
          items: []
        - macro: m
          condition: proc.name in (x, empty) or proc.name in (empty, y)
        """
    )
    second = textwrap.dedent(
        """\
        - rule: r
          condition: >
            and m and
            proc.nme = x
          override:
            condition: append
        """
    )
    result = load_rules([("a.yaml", first), ("b.yaml", second)])
    (err,) = result.errors
    # The bad field is in the part appended by b.yaml, so that is where the error points.
    assert (err.code, err.file, err.line, err.column) == ("LOAD_ERR_COMPILE_CONDITION", "b.yaml", 4, 5)
    assert [f.successful for f in result.files] == [True, False]
    # An empty list leaves no dangling comma behind (Falco removes one next to it).
    assert result.compiled is not None
    assert result.compiled.macros["m"].composed.text == "proc.name in (x  ) or proc.name in (   y)"


def test_fields_inside_multi_argument_transformers_are_checked() -> None:
    text = textwrap.dedent(
        """\
        - rule: r
          desc: d
          condition: evt.type = connect and concat(fd.rip, ":", fd.rprt) = "1.2.3.4:80"
          output: o
          priority: INFO
        """
    )
    (err,) = load_rules([("f.yaml", text)]).errors
    assert err.text == "filter_check called with nonexistent field fd.rprt"
    assert (err.line, err.column) == (3, text.splitlines()[2].index("fd.rprt") + 1)
