"""Falco's load errors, one test (at least) per code, each checking code, message, item and position.

Expected texts and behaviour follow Falco's loader (rule_loader_reader/collector/compiler, libsinsp's
filter compiler); positions are the 1-based line/column of the spot the message points at.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loader_helpers import RULE, at, load, one, pos

from falcotui.falco.rules.loader import LoadResult

# -- errors -----------------------------------------------------------------------------------------------


def test_yaml_parse_error_points_at_the_problem() -> None:
    res, (text,) = load("- rule: r\n  desc: a: b\n")
    msg = one(res, "LOAD_ERR_YAML_PARSE")
    assert at(msg) == pos(text, ": b") and msg.item_type == "rules content"
    assert msg.text.startswith("yaml: error at line 2, column 10:")
    assert not res.successful


def test_yaml_validate_not_an_array_and_not_a_map_item() -> None:
    res, _ = load("key: value\n")
    msg = one(res, "LOAD_ERR_YAML_VALIDATE")
    assert (msg.text, at(msg)) == ("Rules content is not yaml array of objects", (1, 1))
    res, (text,) = load("- just a string\n")
    msg = one(res, "LOAD_ERR_YAML_VALIDATE")
    assert msg.text == "Unexpected element type. Each element should be a yaml associative array."
    assert at(msg) == pos(text, "just") and msg.item_type == "rules content item"


def test_yaml_validate_missing_required_rule_key() -> None:
    res, (text,) = load(RULE.replace("  output: shell %proc.name\n", ""))
    msg = one(res, "LOAD_ERR_YAML_VALIDATE")
    assert msg.text == "Item has no mapping for key 'output'"
    assert (msg.item_type, msg.item_name, at(msg)) == ("rule", "r", pos(text, "rule: r"))


def test_yaml_validate_invalid_priority_and_case_insensitive_priorities() -> None:
    res, (text,) = load(RULE.replace("WARNING", "loud"))
    msg = one(res, "LOAD_ERR_YAML_VALIDATE")
    assert (msg.text, at(msg)) == ("Invalid priority", pos(text, "loud"))
    for spelling, expected in [
        ("info", "Informational"),
        ("INFORMATIONAL", "Informational"),
        ("eRRor", "Error"),
    ]:
        res, _ = load(RULE.replace("WARNING", spelling))
        assert res.successful and res.rules[0].priority == expected


def test_yaml_validate_override_rules() -> None:
    base = RULE
    res, (_, text) = load(base, "- rule: r\n  priority: ERROR\n  override:\n    priority: append\n")
    msg = one(res, "LOAD_ERR_YAML_VALIDATE")
    assert msg.text == "Key 'priority' cannot be appended to, use 'replace' instead"
    assert at(msg) == pos(text, "priority: append")
    res, (_, text) = load(base, "- rule: r\n  output: x\n  override:\n    output: swap\n")
    msg = one(res, "LOAD_ERR_YAML_VALIDATE")
    assert (
        msg.text == "Invalid override operation for key 'output': 'swap'. Allowed values are: append replace "
    )
    assert at(msg) == pos(text, "swap")
    res, (_, text) = load(base, "- rule: r\n  desc: more\n  tags: [x]\n  override:\n    desc: append\n")
    msg = one(res, "LOAD_ERR_YAML_VALIDATE")
    assert msg.text == "Unexpected key 'tags': no corresponding entry under 'override' is defined."
    assert at(msg) == pos(text, "[x]")
    res, (_, text) = load(base, "- rule: r\n  override:\n    desc: append\n")
    msg = one(res, "LOAD_ERR_YAML_VALIDATE")
    assert msg.text == "An append override for 'desc' was specified but 'desc' is not defined"
    assert at(msg) == pos(text, "rule: r")
    res, (_, text) = load(
        base, "- rule: r\n  condition: and fd.num > 0\n  append: true\n  override:\n    condition: append\n"
    )
    msg = one(res, "LOAD_ERR_YAML_VALIDATE")
    assert msg.text.startswith("Keys 'override' and 'append: true' cannot be used together.")


def test_yaml_validate_exceptions_structure() -> None:
    res, (text,) = load(RULE + "  exceptions: nope\n")
    msg = one(res, "LOAD_ERR_YAML_VALIDATE")
    assert (msg.text, at(msg)) == ("Rule exceptions must be a sequence", pos(text, "nope"))
    res, (text,) = load(RULE + "  exceptions:\n    - name: e\n      fields: [proc.name]\n      values: x\n")
    msg = one(res, "LOAD_ERR_YAML_VALIDATE")
    assert (msg.text, at(msg)) == ("Rule exception values must be a sequence", pos(text, "x\n", shift=0))


def test_compile_condition_syntax_error_in_folded_block_scalar() -> None:
    res, (text,) = load(
        """
        - rule: r
          desc: d
          condition: >-
            evt.type = execve and
            proc.name in (bash, sh and
            fd.num > 0
          output: o
          priority: INFO
        """
    )
    msg = one(res, "LOAD_ERR_COMPILE_CONDITION")
    assert (msg.item_type, msg.item_name) == ("rule", "r")
    assert at(msg) == pos(text, "sh and", shift=3)
    assert msg.context[-1].item_type == "condition expression"


def test_compile_condition_positions_in_literal_and_quoted_scalars() -> None:
    literal, (text,) = load(
        """
        - rule: r
          desc: d
          condition: |
            evt.type = execve
              and proc.nmae = bash
          output: o
          priority: INFO
        """
    )
    msg = one(literal, "LOAD_ERR_COMPILE_CONDITION")
    assert msg.text.startswith("filter_check called with nonexistent field proc.nmae")
    assert at(msg) == pos(text, "proc.nmae")
    quoted, (text,) = load(
        """
        - rule: r
          desc: d
          condition: "evt.type = execve and proc.name = \\"a\\tb\\" and
            fd.nme = x"
          output: o
          priority: INFO
        """
    )
    msg = one(quoted, "LOAD_ERR_COMPILE_CONDITION")
    assert at(msg) == pos(text, "fd.nme")
    single, (text,) = load(
        """
        - rule: r
          desc: d
          condition: 'evt.type = execve and proc.name = ''it'' and fd.nme = x'
          output: o
          priority: INFO
        """
    )
    assert at(one(single, "LOAD_ERR_COMPILE_CONDITION")) == pos(text, "fd.nme")


def test_compile_condition_unknown_field_inside_a_macro_points_into_the_macro() -> None:
    res, (text,) = load(
        """
        - macro: shells
          condition: proc.nam in (bash, sh)
        - rule: r
          desc: d
          condition: evt.type = execve and shells
          output: o
          priority: INFO
        """
    )
    msg = one(res, "LOAD_ERR_COMPILE_CONDITION")
    assert (msg.item_type, msg.item_name) == ("rule", "r")
    assert at(msg) == pos(text, "proc.nam")


def test_compile_output_unknown_field() -> None:
    res, (text,) = load(RULE.replace("shell %proc.name", "shell %proc.name by %user.nme"))
    msg = one(res, "LOAD_ERR_COMPILE_OUTPUT")
    assert (msg.item_name, at(msg)) == ("r", pos(text, "%user.nme"))
    assert "user.nme" in msg.text
    assert res.rules == []


def test_validate_undefined_macro_and_macro_visibility() -> None:
    res, (text,) = load(
        """
        - macro: a
          condition: b and proc.name = x
        - macro: b
          condition: evt.type = execve
        - rule: r
          desc: d
          condition: a
          output: o
          priority: INFO
        """
    )
    # A macro only sees macros defined before it: `b` comes after `a`.
    msg = one(res, "LOAD_ERR_VALIDATE")
    assert msg.text == "Undefined macro 'b' used in filter."
    assert (msg.item_type, msg.item_name, at(msg)) == ("macro", "a", pos(text, "b and"))
    # Rules see every macro, whatever the order.
    res, _ = load(
        """
        - rule: r
          desc: d
          condition: later and proc.name = x
          output: o
          priority: INFO
        - macro: later
          condition: evt.type = execve
        """
    )
    assert res.successful and res.messages == []


def test_validate_macro_reference_loop() -> None:
    res, (text,) = load(
        """
        - macro: a
          condition: evt.type = execve
        - macro: b
          condition: a
        - macro: a
          condition: b
        - rule: r
          desc: d
          condition: a
          output: o
          priority: INFO
        """
    )
    loops = [m for m in res.errors if m.code == "LOAD_ERR_VALIDATE"]
    assert loops and loops[0].text == "reference loop in macro 'a'"
    assert (loops[0].item_type, loops[0].item_name) == ("macro", "a")
    assert at(loops[0]) == pos(text, "condition: a", shift=11)


def test_validate_required_engine_version() -> None:
    res, _ = load("- required_engine_version: 0.99.0\n", engine_version="0.62.0")
    msg = one(res, "LOAD_ERR_VALIDATE")
    assert msg.text == "Rules require engine version 0.99.0, but engine version is 0.62.0"
    assert (msg.item_type, at(msg)) == ("required_engine_version", (1, 3))
    res, _ = load("- required_engine_version: 57\n", engine_version="0.62.0")
    assert res.successful and res.required_engine_version == "0.57.0"
    res, _ = load("- required_engine_version: 63\n", engine_version="0.62.0")
    assert one(res, "LOAD_ERR_VALIDATE").text.startswith("Rules require engine version 0.63.0")
    res, (_text,) = load("- required_engine_version: latest\n")
    msg = one(res, "LOAD_ERR_YAML_VALIDATE")
    assert msg.text.startswith("Unable to parse engine version 'latest' as a semver string.")


def test_validate_append_to_missing_items() -> None:
    res, (_text,) = load("- list: nothing\n  items: [a]\n  override:\n    items: append\n")
    msg = one(res, "LOAD_ERR_VALIDATE")
    assert (
        msg.text == "List uses 'append' or 'override.items: append' but no list by that name already exists"
    )
    assert (msg.item_type, msg.item_name, at(msg)) == ("list", "nothing", (1, 3))
    res, _ = load("- rule: ghost\n  condition: and x\n  override:\n    condition: append\n")
    assert one(res, "LOAD_ERR_VALIDATE").text.startswith("Rule uses 'append'")
    res, _ = load("- rule: ghost\n  enabled: false\n")
    assert (
        one(res, "LOAD_ERR_VALIDATE").text == "Rule has 'enabled' key but no rule by that name already exists"
    )


def test_validate_exception_shapes() -> None:
    def exc(body: str) -> tuple[LoadResult, str]:
        res, (text,) = load(RULE + "  exceptions:\n" + textwrap.indent(textwrap.dedent(body), "    "))
        return res, text

    res, text = exc("- name: e\n  fields: [proc.name, fd.name]\n  comps: [=]\n  values: [[a, b]]\n")
    msg = one(res, "LOAD_ERR_VALIDATE")
    assert (msg.text, msg.item_type, msg.item_name) == (
        "Fields and comps lists must have equal length",
        "exception",
        "e",
    )
    assert at(msg) == pos(text, "name: e")
    res, _ = exc("- name: e\n  fields: [proc.name]\n  comps: [like]\n  values: [[a]]\n")
    assert one(res, "LOAD_ERR_VALIDATE").text == "'like' is not a supported comparison operator"
    res, _ = exc("- name: e\n  fields: proc.name\n  comps: =\n  values: [a]\n")
    assert one(res, "LOAD_ERR_VALIDATE").text == (
        "When fields is a single value, comps must be one of (in, pmatch, intersects) "
        "or a modifier operator (e.g. startswith oneof)"
    )
    res, _ = exc("- name: e\n  fields: [proc.nme]\n  values: [[a]]\n")
    assert one(res, "LOAD_ERR_VALIDATE").text == "'proc.nme' is not a supported filter field"
    res, _ = exc("- name: e\n  fields: [proc.name, fd.name]\n  values: [[a]]\n")
    assert one(res, "LOAD_ERR_VALIDATE").text == "Fields and values lists must have equal length"
    # The single-field form: `fields: f` with `in` (the default) and a list of values.
    res, _ = exc('- name: e\n  fields: proc.pname\n  values: [sshd, "my tool"]\n')
    assert res.successful and res.messages == []
    assert 'not (proc.pname in (sshd, "my tool"))' in res.rules[0].condition_text


def test_exceptions_an_override_replaces_get_the_same_checks_and_default_comps() -> None:
    replace = "- rule: r\n  exceptions:\n    - name: e\n{0}  override:\n    exceptions: replace\n"
    res, _ = load(RULE, replace.format("      fields: [proc.pname, fd.name]\n      values: [[a, b]]\n"))
    assert res.successful and res.messages == []
    condition = " ".join(res.rules[0].condition_text.split())
    assert condition.endswith("and not (( proc.pname = a and fd.name = b))")  # the default comps: =
    uneven = "      fields: [proc.pname, fd.name]\n      comps: [=]\n      values: [[a, b]]\n"
    res, (_, text) = load(RULE, replace.format(uneven))
    msg = one(res, "LOAD_ERR_VALIDATE")
    assert (msg.text, msg.file) == ("Fields and comps lists must have equal length", "f1.yaml")
    assert at(msg) == pos(text, "name: e") and not res.successful


def test_a_bad_macro_shared_by_rules_is_reported_once() -> None:
    rule = "- rule: {0}\n  desc: d\n  condition: evt.type = execve and bad\n  output: o\n  priority: INFO\n"
    res, (text,) = load("- macro: bad\n  condition: proc.nam = x\n" + rule.format("r1") + rule.format("r2"))
    msg = one(res, "LOAD_ERR_COMPILE_CONDITION")
    assert (msg.item_name, at(msg)) == ("r1", pos(text, "proc.nam"))
    assert res.rules == []


def test_compile_condition_operator_not_supported_for_the_field_type() -> None:
    res, (text,) = load(RULE.replace("proc.name = bash", "fd.num contains 5"))
    msg = one(res, "LOAD_ERR_COMPILE_CONDITION")
    assert msg.text == "filter error: 'contains' operator not supported for numeric filters"
    assert at(msg) == pos(text, "fd.num")
    res, _ = load(RULE.replace("proc.name = bash", "fd.rip startswith 10."))
    assert one(res, "LOAD_ERR_COMPILE_CONDITION").text == (
        "filter error: 'startswith' operator not supported for ip address and network filters"
    )
    res, _ = load(
        RULE.replace("proc.name = bash", "fd.num > 2 and fd.rip in (10.0.0.1) and proc.name glob 'b*'")
    )
    assert res.messages == []
