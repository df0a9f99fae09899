"""The validator per target Falco version: upstream's own parser and loader tests, and every 0.44+ form
accepted by 0.44/0.45 and refused by 0.43 with the message Falco 0.43 gives."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from falcotui.falco.rules.ast import BinaryCheck, FieldValue, Transformer, TransformerCall, ValueList
from falcotui.falco.rules.condition import parse_condition
from falcotui.falco.rules.condition_lex import ConditionSyntaxError
from falcotui.falco.rules.condition_print import to_text
from falcotui.falco.rules.dialect import (
    DEFAULT_DIALECT,
    MODIFIABLE_OPERATORS,
    MODIFIERS,
    PINNED_FALCO_VERSION,
    dialect_for,
    strictest,
)
from falcotui.falco.rules.loader import load_rules

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loader_helpers import RULE, load, one

HERE = Path(__file__).resolve().parent
LIBS_CASES = json.loads((HERE / "libs_filter_parser_cases.json").read_text(encoding="utf-8"))
ENGINE_CASES = json.loads((HERE / "falco_engine_loader_cases.json").read_text(encoding="utf-8"))
# libs tag -> the Falco release built on it (falco cmake/modules/falcosecurity-libs.cmake at that tag)
LIBS_FALCO = {"0.23.2": "0.43.1", "0.25.4": "0.44.1"}
F43, F44, F45 = dialect_for("0.43.1"), dialect_for("0.44.1"), dialect_for("0.45.0")


def parses(text: str, dialect) -> bool:
    try:
        parse_condition(text, dialect=dialect)
    except ConditionSyntaxError:
        return False
    return True


def _libs_cases(kind: str):
    for tag, falco in LIBS_FALCO.items():
        for text, line in LIBS_CASES[tag][kind]:
            yield pytest.param(falco, text, id=f"libs{tag}:{line}")


@pytest.mark.parametrize(("falco", "text"), list(_libs_cases("accept")))
def test_libs_parser_accepts(falco: str, text: str) -> None:
    """libs' test_accept also tries the text padded with blanks, then with newlines and tabs for blanks."""
    padded = f" {text} "
    for variant in (text, padded, padded.replace(" ", "\n"), padded.replace(" ", "\t")):
        assert parses(variant, dialect_for(falco)), variant


@pytest.mark.parametrize(("falco", "text"), list(_libs_cases("reject")))
def test_libs_parser_rejects(falco: str, text: str) -> None:
    assert not parses(text, dialect_for(falco))


def _engine_cases():
    for version, data in ENGINE_CASES.items():
        if version.startswith("_"):
            continue
        for case in data["cases"]:
            yield pytest.param(version, case, id=f"falco{version}:{case['name']}")


@pytest.mark.parametrize(("version", "case"), list(_engine_cases()))
def test_falco_engine_loader_cases(version: str, case: dict) -> None:
    res = load_rules([("rules.yaml", case["rules"])], falco_version=version, lints=False)
    errors = [m.text for m in res.errors]
    warnings = [m.text for m in res.warnings]
    assert res.successful is case["loads"], (errors, warnings)
    for wanted in case["errors"]:
        assert any(wanted in e for e in errors), (wanted, errors)
    for wanted in case["warnings"]:
        assert any(wanted in w for w in warnings), (wanted, warnings)
    for unwanted in case["no_warnings"]:
        assert not any(unwanted in w for w in warnings), (unwanted, warnings)
    if case["has_warnings"] is not None:
        assert bool(warnings) is case["has_warnings"], warnings


# -- every new form: accepted by 0.44+, refused by 0.43 with libs 0.23's parse error -----------------

MODIFIER_FORMS = [
    f"proc.name {op} {mod} (a, 'b c')" for op in sorted(MODIFIABLE_OPERATORS) for mod in MODIFIERS
] + [f"proc.name {op} {mod} my_list" for op in ("=", "startswith") for mod in MODIFIERS]


@pytest.mark.parametrize("text", MODIFIER_FORMS)
def test_modifier_forms(text: str) -> None:
    op, mod = text.split()[1:3]
    for dialect in (F44, F45):
        tree = parse_condition(text, dialect=dialect)
        assert isinstance(tree, BinaryCheck) and tree.op == f"{op} {mod}"
        assert (tree.base_op, tree.modifier) == (op, mod)
        assert to_text(parse_condition(to_text(tree), dialect=dialect)) == to_text(tree)
    with pytest.raises(ConditionSyntaxError) as err:
        parse_condition(text, dialect=F43)
    # libs 0.23 reads the modifier as the string value, then stops at what follows it.
    assert err.value.message == f"unexpected token after '{mod}', expecting 'or', 'and'"
    assert err.value.offset == text.index(mod) + len(mod) + 1


@pytest.mark.parametrize(
    ("text", "offset", "message"),
    [
        ("tolower(proc.name) startswith oneof (a, b)", 36, "unexpected token after 'oneof'"),
        ("len(proc.args) = anyof (a)", 23, "unexpected token after 'anyof'"),
        ("join(proc.env, ';') contains x", 4, "unexpected token after 'join', expecting 'or', 'and'"),
        ("concat(fd.rip, ':') = x", 6, "unexpected token after 'concat', expecting 'or', 'and'"),
        ("getopt(proc.args, 'p') = x", 6, "unexpected token after 'getopt', expecting 'or', 'and'"),
        (
            "proc.name = tolower(concat(proc.pname, 'x'))",
            20,
            "expected a field or a nested valid transformer: 'val'",
        ),
        ("tolower(proc.aname)[1] = x", 19, "expected a valid check operator"),
        ("proc.name = val(proc.aname)[2]", 27, "unexpected token after ')', expecting 'or', 'and'"),
        ("proc.name = tolower(proc.aname)[2]", 31, "unexpected token after ')', expecting 'or', 'and'"),
    ],
)
def test_transformer_forms(text: str, offset: int, message: str) -> None:
    for dialect in (F44, F45):
        tree = parse_condition(text, dialect=dialect)
        assert to_text(parse_condition(to_text(tree), dialect=dialect)) == to_text(tree)
    with pytest.raises(ConditionSyntaxError) as err:
        parse_condition(text, dialect=F43)
    assert (err.value.offset, err.value.message[: len(message)]) == (offset, message)


def test_transformer_field_args_land_in_the_tree() -> None:
    tree = parse_condition("tolower(proc.aname)[1] = val(proc.aname)[2]", dialect=F45)
    assert isinstance(tree, BinaryCheck) and isinstance(tree.field, Transformer) and tree.field.arg == "1"
    assert isinstance(tree.value, FieldValue) and tree.value.arg == "2"
    call = parse_condition('join(proc.env, ";")["a b"] exists', dialect=F45)
    assert isinstance(call.field, TransformerCall) and call.field.arg == "a b"
    assert to_text(call) == 'join(proc.env, ";")["a b"] exists'


def test_libs_023_transformer_errors() -> None:
    """libs 0.23 takes one field or one nested transformer, and says so."""
    with pytest.raises(ConditionSyntaxError) as err:
        parse_condition("tolower() = a", dialect=F43)
    choices = "'val', 'tolower', 'toupper', 'b64', 'basename', 'len'"
    assert err.value.message == f"expected a field or a nested valid transformer: {choices}"
    with pytest.raises(ConditionSyntaxError) as err:
        parse_condition("tolower() = a", dialect=F45)
    assert err.value.message.startswith("expected field transformer argument")
    assert parses("tolower(toupper(proc.name)) = a and toupper(b64(fd.name)) exists", F43)


def test_word_operator_without_blank_backtracks_from_libs_025() -> None:
    with pytest.raises(ConditionSyntaxError) as old:
        parse_condition("proc.name containsbash", dialect=F43)
    with pytest.raises(ConditionSyntaxError) as new:
        parse_condition("proc.name containsbash", dialect=F45)
    assert (old.value.offset, new.value.offset) == (18, 10)


# -- the loader: conditions, exceptions, versions --------------------------------------------------

MODIFIER_RULE = RULE.replace("proc.name = bash", "proc.name startswith oneof (ba, zs)")


def test_modifier_condition_loads_from_044_and_is_refused_by_043() -> None:
    for version in ("0.44.0", "0.44.1", "0.45.0"):
        res, _ = load(MODIFIER_RULE, falco_version=version)
        assert res.successful and res.messages == [], res.messages
    res, (text,) = load(MODIFIER_RULE, falco_version="0.43.1")
    msg = one(res, "LOAD_ERR_COMPILE_CONDITION")
    assert msg.text == "unexpected token after 'oneof', expecting 'or', 'and'"
    assert (msg.line, msg.column) == (3, text.splitlines()[2].index("(ba") + 1)


def test_modifier_with_a_list_takes_the_lists_items() -> None:
    """Falco's resolve_list pastes a list's items where its name stands, without parentheses (rule_loader_
    compiler.cpp), so `anyof (shells)` works and a bare `anyof shells` of a two-item list does not, as
    with `in shells`."""
    lists = "- list: shells\n  items: [ba, zs]\n"
    res, _ = load(lists + RULE.replace("proc.name = bash", "proc.name startswith anyof (shells)"))
    assert res.successful and res.messages == []
    check = res.rule("r").condition.children[1]
    assert isinstance(check, BinaryCheck) and isinstance(check.value, ValueList)
    assert (check.op, [v.text for v in check.value.items]) == ("startswith anyof", ["ba", "zs"])
    res, _ = load(lists + RULE.replace("proc.name = bash", "proc.name startswith anyof shells"))
    assert one(res, "LOAD_ERR_COMPILE_CONDITION").text == "unexpected token after 'ba', expecting 'or', 'and'"


NOT_FOR = "operator not supported for"
WITH_MODIFIER = "with modifier not supported for ip address and network filters"
HEX_ONLY = "bcontains and bstartswith operator support hex strings only"


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("proc.pid startswith oneof (1)", f"filter error: 'startswith' {NOT_FOR} numeric filters"),
        ("fd.sip contains anyof (127.0.0.1)", f"filter error: 'contains' {WITH_MODIFIER}"),
        ("evt.buffer bcontains oneof (6c73, xyz)", f"filter error: {HEX_ONLY}"),
    ],
)
def test_modifier_compile_errors(condition: str, message: str) -> None:
    res, _ = load(RULE.replace("proc.name = bash", condition))
    assert one(res, "LOAD_ERR_COMPILE_CONDITION").text == message


def test_modifier_values_draw_libs_value_warnings() -> None:
    res, _ = load(RULE.replace("proc.name = bash", "proc.name regex oneof (bash, 'a.*b')"))
    assert one(res, "LOAD_COMPILE_CONDITION").text.startswith("regex check with 'bash' may be optimized")


EXC_RULE = (
    RULE
    + "  exceptions:\n    - name: e\n      fields: {fields}\n      comps: {comps}\n      values: {values}\n"
)


def test_exception_compound_comps_per_version() -> None:
    text = EXC_RULE.format(fields="[proc.pname]", comps="[startswith oneof]", values="[[[sshd, sudo]]]")
    for version in ("0.44.1", "0.45.0"):
        res, _ = load(text, falco_version=version)
        assert res.successful and res.messages == [], res.messages
        assert "not proc.pname startswith oneof (sshd, sudo)" in to_text(res.rule("r").condition)
    res, _ = load(text, falco_version="0.43.1")
    assert one(res, "LOAD_ERR_VALIDATE").text == "'startswith oneof' is not a supported comparison operator"


def test_exception_single_field_compound_comp_per_version() -> None:
    text = EXC_RULE.format(fields="proc.pname", comps="endswith anyof", values="[sshd, sudo]")
    res, _ = load(text, falco_version="0.45.0")
    assert res.successful and res.messages == []
    assert "not proc.pname endswith anyof (sshd, sudo)" in to_text(res.rule("r").condition)
    res, _ = load(text, falco_version="0.43.1")
    assert one(res, "LOAD_ERR_VALIDATE").text == (
        "When fields is a single value, comps must be one of (in, pmatch, intersects)"
    )
    res, _ = load(
        EXC_RULE.format(fields="proc.pname", comps="in oneof", values="[a]"), falco_version="0.45.0"
    )
    assert one(res, "LOAD_ERR_VALIDATE").text.endswith("or a modifier operator (e.g. startswith oneof)")


@pytest.mark.parametrize("version", ["0.43.1", "0.44.1", "0.45.0"])
def test_exception_transformed_fields_in_every_version(version: str) -> None:
    """falco_source::is_valid_lhs_field compiles `<field> exists` when the field has a `(`: the same
    code in 0.43.1 and 0.44.1, so transformed exception fields load everywhere."""
    for fields in ("[tolower(proc.name)]", '["toupper( proc.pname)"]'):
        res, _ = load(EXC_RULE.format(fields=fields, comps="[=]", values="[[bash]]"), falco_version=version)
        assert res.successful and res.messages == [], res.messages
    res, _ = load(
        EXC_RULE.format(fields="[tolower(proc.nme)]", comps="[=]", values="[[x]]"), falco_version=version
    )
    assert one(res, "LOAD_ERR_VALIDATE").text == "'tolower(proc.nme)' is not a supported filter field"


def test_never_true_rules_warn_until_falco_045() -> None:
    rules = "- macro: never_true\n  condition: (evt.num=0)\n" + RULE.replace(
        "evt.type = execve and proc.name = bash", "never_true"
    )
    for version in ("0.43.1", "0.44.1"):
        res, _ = load(rules, falco_version=version)
        assert one(res, "LOAD_NO_EVTTYPE").text.startswith("Rule matches too many evt.type values")
    res, _ = load(rules, falco_version="0.45.0")
    assert res.messages == []
    contradiction = RULE.replace("proc.name = bash", "evt.type = open")
    assert one(load(contradiction, falco_version="0.44.1")[0], "LOAD_NO_EVTTYPE")
    assert load(contradiction, falco_version="0.45.0")[0].messages == []


def test_unknown_keys_warn_from_044() -> None:
    assert one(load(RULE + "  descr: x\n", falco_version="0.44.0")[0], "LOAD_UNKNOWN_KEY")
    assert load(RULE + "  descr: x\n", falco_version="0.43.1")[0].messages == []


def test_append_across_sources_needs_matching_or_no_source() -> None:
    base = RULE.replace("priority: WARNING", "priority: WARNING\n  source: syscall")
    cond = "- rule: r\n  condition: and proc.pname = x\n  override:\n    condition: append\n"
    for tail, ok in (
        (cond + "  source: k8s_audit\n", False),
        (cond, True),
        ("- rule: r\n  tags: [t]\n  override:\n    tags: append\n  source: k8s_audit\n", True),
        ("- rule: r\n  condition: and proc.pname = x\n  append: true\n  source: syscall\n", True),
    ):
        res, _ = load(base + tail)
        assert res.successful is ok
        if not ok:
            assert one(res, "LOAD_ERR_VALIDATE").text == "Rule has been re-defined with a different source"


# -- choosing the target ---------------------------------------------------------------------------


def test_pinned_version_is_the_manifests_image_tag() -> None:
    from falcotui.ops.deploy.manifests import DEFAULT_IMAGE_TAG, GRPC_IMAGE_TAG

    assert PINNED_FALCO_VERSION == DEFAULT_IMAGE_TAG and DEFAULT_DIALECT.text == DEFAULT_IMAGE_TAG
    assert not dialect_for(GRPC_IMAGE_TAG).modifiers


def test_strictest_of_mixed_versions_says_so() -> None:
    dialect, note = strictest(["0.45.0", "0.43.1", "0.45.0", "unknown"])
    assert dialect.text == "0.43.1" and not dialect.modifiers
    assert "mixed Falco versions (0.43.1, 0.45.0)" in note and "0.43.1, the strictest" in note
    assert strictest(["0.45.0", "0.45.0"]) == (dialect_for("0.45.0"), "")
    assert strictest([]) == (DEFAULT_DIALECT, "")
    assert dialect_for("0.44").falco_version == (0, 44, 0)
    assert (F43.libs_version, F44.libs_version) == ("0.23.2", "0.25.4")
    assert (F43.engine_text, F44.engine_text, F45.engine_text) == ("0.58.0", "0.62.0", "0.63.0")


def test_precedence_lints_still_see_modifier_checks() -> None:
    cond = "evt.type = execve and proc.name startswith oneof (ba, zs) or tolower(proc.pname) = anyof (sshd)"
    res, _ = load(RULE.replace("evt.type = execve and proc.name = bash", cond))
    assert one(res, "FALCOTUI_MIXED_AND_OR")
    guard = one(res, "FALCOTUI_GUARD_ESCAPE")
    assert "'tolower(proc.pname) = anyof (sshd)' matches even when 'evt.type = execve' is false" in guard.text
    res, _ = load(RULE.replace("evt.type = execve and proc.name = bash", cond), falco_version="0.43.1")
    assert one(res, "FALCOTUI_MIXED_AND_OR")  # the text lint works even where the condition does not parse
    assert one(res, "LOAD_ERR_COMPILE_CONDITION")


# -- `falcotui rules lint --falco-version` ------------------------------------------------------------


def test_lint_cli_targets_the_pinned_falco_unless_told(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from falcotui.cli import main

    path = tmp_path / "modifiers.yaml"
    path.write_text(MODIFIER_RULE)
    assert main(["rules", "lint", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"checked as Falco {PINNED_FALCO_VERSION}'s loader" in out and "0 errors, 0 warnings" in out
    assert main(["rules", "lint", "--falco-version", "0.43", str(path)]) == 1
    out = capsys.readouterr().out
    assert "error LOAD_ERR_COMPILE_CONDITION: unexpected token after 'oneof', expecting 'or', 'and'" in out
    assert "checked as Falco 0.43.0's loader (libs 0.23.1, rules engine 0.58.0)" in out
    assert (
        main(["rules", "lint", "--falco-version", "0.44.1", "--condition", "proc.name glob anyof (a*)"]) == 0
    )
    assert (
        main(["rules", "lint", "--falco-version", "0.43.1", "--condition", "proc.name glob anyof (a*)"]) == 1
    )
    capsys.readouterr()
    assert main(["rules", "lint", "--json", "--falco-version", "0.44.1", str(path)]) == 0
    target = json.loads(capsys.readouterr().out)["falcotui_target"]
    assert target == {"falco": "0.44.1", "libs": "0.25.4", "engine": "0.62.0"}
    assert main(["rules", "lint", "--falco-version", "latest", str(path)]) == 2
    assert "Falco version 'latest' is not x.y or x.y.z" in capsys.readouterr().err


@pytest.mark.parametrize("version", ["0.43", "0.44.1", "0.45.0"])
def test_default_rules_lint_clean_for_every_version(
    version: str, shared_data: Path, capsys: pytest.CaptureFixture
) -> None:
    from falcotui.cli import main

    assert main(["rules", "lint", "--falco-version", version, str(shared_data / "falco_rules.yaml")]) == 0
    assert capsys.readouterr().out.rstrip().endswith("0 errors, 0 warnings, 0 falcotui lints in 1 file")


def test_deprecated_field_warning_sits_where_each_falco_puts_it() -> None:
    """Falco 0.44 runs the warning resolver at the condition text (compile_condition: `context(pos,
    condition, cond_ctx)`), 0.43 at the rule's `condition:` value, whose folded scalar starts at `>`."""
    rules = (
        "- macro: spawned_process\n  condition: evt.type in (execve, execveat) and evt.dir = <\n"
        "- rule: r\n  desc: d\n  condition: >\n    spawned_process and proc.name = bash\n"
        "  output: o\n  priority: INFO\n"
    )
    for version, line in (("0.44.1", 6), ("0.45.0", 6), ("0.43.1", 5)):
        res, _ = load(rules, falco_version=version)
        msg = one(res, "LOAD_DEPRECATED_ITEM")
        assert "evt.dir" in msg.text and msg.item_name == "r" and msg.line == line, (version, msg)
