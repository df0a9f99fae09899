"""Falco's load warnings, one test (at least) per code, each checking code, message, item and position.

Expected texts and behaviour follow Falco's loader (rule_loader_reader/collector/compiler, libsinsp's
filter compiler); positions are the 1-based line/column of the spot the message points at.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loader_helpers import RULE, at, load, one, pos

from falcotui.falco.rules.fields import FieldCatalog, FieldInfo
from falcotui.falco.rules.loader import load_rules

# -- warnings ---------------------------------------------------------------------------------------------


def test_unknown_source_is_skipped() -> None:
    res, (_text,) = load(RULE + "  source: aws_cloudtrail\n")
    msg = one(res, "LOAD_UNKNOWN_SOURCE")
    assert (msg.text, msg.item_name, at(msg)) == ("Unknown source aws_cloudtrail, skipping", "r", (1, 3))
    assert res.successful and res.rules == []


def test_unsafe_na_check_on_k8s_audit_fields() -> None:
    k8s = FieldCatalog([FieldInfo("ka.user.name", "ka", "CHARBUF", "none", False, False)])
    res, (text,) = load(
        """
        - rule: r
          desc: d
          condition: ka.user.name = "<NA>"
          output: user %ka.user.name
          priority: INFO
          source: k8s_audit
        """,
        sources={"k8s_audit": k8s},
    )
    msg = one(res, "LOAD_UNSAFE_NA_CHECK")
    assert (msg.item_name, at(msg)) == ("r", pos(text, "ka.user.name ="))
    assert msg.text == "Unsafe <NA> comparison in condition"
    assert res.successful and [r.source for r in res.rules] == ["k8s_audit"]


def test_no_evttype_follows_every_path() -> None:
    def warns(condition: str) -> bool:
        res, _ = load(RULE.replace("evt.type = execve and proc.name = bash", condition))
        return any(m.code == "LOAD_NO_EVTTYPE" for m in res.warnings)

    assert warns("proc.name = bash")
    assert warns("evt.type = execve or proc.name = bash")
    assert warns("evt.type != execve")
    assert warns("not evt.type in (open, openat)")
    assert not warns("evt.type = execve and not proc.name = bash")
    assert not warns("(evt.type = open or evt.type in (openat, openat2)) and proc.name = x")
    assert not warns("not (evt.type != execve)")
    res, (_text,) = load(RULE.replace("evt.type = execve and ", ""))
    msg = one(res, "LOAD_NO_EVTTYPE")
    assert (msg.item_name, at(msg)) == ("r", (1, 3))
    res, _ = load(RULE.replace("evt.type = execve and ", "") + "  warn_evttypes: false\n")
    assert res.messages == []


def test_unknown_filter_when_skipping_unknown_fields() -> None:
    res, (text,) = load(
        RULE.replace("proc.name = bash", "proc.nobody = bash") + "  skip-if-unknown-filter: true\n"
    )
    msg = one(res, "LOAD_UNKNOWN_FILTER")
    assert msg.text == "filter_check called with nonexistent field proc.nobody"
    assert at(msg) == pos(text, "proc.nobody")
    assert res.successful and res.rules == []


def test_unused_macro_and_unused_list() -> None:
    res, (_text,) = load("- macro: spare\n  condition: proc.name = x\n- list: extra\n  items: [a]\n" + RULE)
    macro = one(res, "LOAD_UNUSED_MACRO")
    assert (macro.text, macro.item_name, at(macro)) == (
        "Macro not referred to by any other rule/macro",
        "spare",
        (1, 3),
    )
    lst = one(res, "LOAD_UNUSED_LIST")
    assert (lst.text, lst.item_name, at(lst)) == (
        "List not referred to by any other rule/macro",
        "extra",
        (3, 3),
    )


def test_lists_are_used_through_other_lists_and_substituted_with_quotes() -> None:
    res, _ = load(
        """
        - list: inner
          items: [a, "b c"]
        - list: outer
          items: [inner, d]
        - rule: r
          desc: d
          condition: evt.type = execve and proc.name in (outer) and fd.name pmatch (inner)
          output: o
          priority: INFO
        """
    )
    assert res.successful and res.messages == []
    assert res.lists["outer"] == ["a", "b c", "d"]
    assert 'proc.name in ( a, "b c", d )' in res.rules[0].condition_text


def test_unknown_item() -> None:
    res, (_text,) = load("- thing: x\n" + RULE)
    msg = one(res, "LOAD_UNKNOWN_ITEM")
    assert (msg.text, msg.item_type, at(msg)) == ("Unknown top level item", "rules content item", (1, 3))


def test_deprecated_append_and_enabled_only() -> None:
    res, (_, _text) = load(RULE, "- rule: r\n  condition: and fd.num > 0\n  append: true\n")
    msg = one(res, "LOAD_DEPRECATED_ITEM")
    assert msg.text.startswith("'append' key is deprecated.") and at(msg) == (1, 3) and msg.file == "f1.yaml"
    assert res.successful and res.rules[0].condition_text.endswith("and fd.num > 0")
    res, _ = load(RULE, "- rule: r\n  enabled: false\n")
    msg = one(res, "LOAD_DEPRECATED_ITEM")
    assert msg.text.startswith("The standalone 'enabled' key usage is deprecated.")
    assert res.rules[0].enabled is False


def test_append_no_values_and_exception_name_not_unique() -> None:
    base = RULE + "  exceptions:\n    - name: e\n      fields: [proc.pname]\n      values: [[sshd]]\n"
    res, (_, text) = load(
        base, "- rule: r\n  exceptions:\n    - name: e\n  override:\n    exceptions: append\n"
    )
    msg = one(res, "LOAD_APPEND_NO_VALUES")
    assert (msg.text, msg.item_name, at(msg)) == (
        "Overriding/appending exception with no values",
        "e",
        (3, 7),
    )
    res, (text,) = load(
        RULE + "  exceptions:\n    - name: e\n      fields: proc.pname\n      values: [a]\n"
        "    - name: e\n      fields: proc.pname\n      values: [b]\n"
    )
    msg = one(res, "LOAD_EXCEPTION_NAME_NOT_UNIQUE")
    assert msg.text == "Multiple definitions of exception 'e' in the same rule"
    assert at(msg) == pos(text, "name: e", nth=1)


def test_invalid_macro_and_list_names() -> None:
    res, (_text,) = load(
        "- macro: 9lives\n  condition: proc.name = x\n- list: 'a list'\n  items: [x]\n" + RULE
    )
    macro = one(res, "LOAD_INVALID_MACRO_NAME")
    assert macro.text.startswith("Macro has an invalid name.") and at(macro) == (1, 3)
    lst = one(res, "LOAD_INVALID_LIST_NAME")
    assert lst.text.startswith("List has an invalid name.") and at(lst) == (3, 3)


def test_compile_condition_warnings_from_libsinsp_compiler() -> None:
    res, (text,) = load(RULE.replace("proc.name = bash", "proc.name = proc.pname"))
    msg = one(res, "LOAD_COMPILE_CONDITION")
    assert msg.text == "'proc.pname' may be a valid field misused as a const string value"
    assert at(msg) == pos(text, "proc.pname")
    # libsinsp's AST does not keep quotes, so a quoted field name is flagged too; val() is the fix.
    res, _ = load(RULE.replace("proc.name = bash", 'proc.name in (sh, "proc.pname")'))
    assert one(res, "LOAD_COMPILE_CONDITION").text.startswith("'proc.pname' may be a valid field")
    res, _ = load(RULE.replace("proc.name = bash", "proc.name = val(proc.pname)"))
    assert res.messages == []
    res, (text,) = load(RULE.replace("proc.name = bash", "proc.cmdline regex '.*curl'"))
    msg = one(res, "LOAD_COMPILE_CONDITION")
    assert msg.text == (
        "regex check with '.*curl' may be optimized with simpler operators such as "
        "'=', 'contains', 'startswith', 'endswith'"
    )
    assert at(msg) == pos(text, "'.*curl'")
    res, _ = load(RULE.replace("proc.name = bash", "proc.cmdline regex 'curl.*-[ko]'"))
    assert res.messages == []
    res, _ = load(RULE.replace("proc.name = bash", "proc.name = 'tolower(proc.pname)'"))
    assert one(res, "LOAD_COMPILE_CONDITION").text == (
        "'tolower(proc.pname)' may be a valid field transformer misused as a const string value"
    )


def test_compile_condition_bcontains_needs_hex() -> None:
    res, (text,) = load(RULE.replace("proc.name = bash", "evt.buffer bcontains 'not hex'"))
    msg = one(res, "LOAD_ERR_COMPILE_CONDITION")
    assert msg.text == "filter error: bcontains and bstartswith operator support hex strings only"
    assert at(msg) == pos(text, "'not hex'")
    res, _ = load(RULE.replace("proc.name = bash", "evt.buffer bcontains 6c73"))
    assert res.messages == []


def test_unknown_key() -> None:
    res, (text,) = load(RULE + "  descr: typo\n")
    msg = one(res, "LOAD_UNKNOWN_KEY")
    # Falco 0.44 warn_unknown_keys: the rule's context, its own wording
    assert (msg.item_name, at(msg)) == ("r", pos(text, "rule: r"))
    assert msg.text == "Unknown key 'descr'. The key will be ignored."
    assert res.successful and len(res.rules) == 1


def test_required_plugin_versions() -> None:
    res, (text,) = load(
        """
        - required_plugin_versions:
            - name: container
              version: 0.4.0
              alternatives:
                - name: k8smeta
                  version: 0.2.0
        """
    )
    assert res.successful and res.required_plugin_versions == [[("container", "0.4.0"), ("k8smeta", "0.2.0")]]
    res, (text,) = load("- required_plugin_versions:\n    - name: container\n      version: latest\n")
    msg = one(res, "LOAD_ERR_VALIDATE")
    assert msg.text == "Invalid required version 'latest' for plugin 'container'"
    assert (msg.item_type, msg.item_name, at(msg)) == (
        "required plugin versions entry",
        "container",
        pos(text, "name"),
    )
    res, (text,) = load("- required_plugin_versions: container\n")
    msg = one(res, "LOAD_ERR_YAML_VALIDATE")
    assert (msg.text, at(msg)) == (
        "Value of required_plugin_versions must be a sequence",
        pos(text, "container"),
    )


def test_positions_in_plain_multiline_scalars_and_crlf_files() -> None:
    res, (text,) = load(
        """
        - rule: r
          desc: d
          condition: evt.type = execve and
            proc.name = bash and
              fd.nme = x
          output: o
          priority: INFO
        """
    )
    assert at(one(res, "LOAD_ERR_COMPILE_CONDITION")) == pos(text, "fd.nme")
    crlf = RULE.replace("proc.name = bash", "proc.nme = bash").replace("\n", "\r\n")
    res = load_rules([("crlf.yaml", crlf)])
    msg = one(res, "LOAD_ERR_COMPILE_CONDITION")
    assert (msg.line, msg.column) == (3, RULE.splitlines()[2].index("proc.name") + 1)
