"""The shipped field catalog: it knows what Falco 0.44 knows and explains what it rejects."""

from __future__ import annotations

import json

import pytest
import yaml

from falcotui.falco.rules import gen_fields
from falcotui.falco.rules.ast import (
    And,
    BinaryCheck,
    FieldRef,
    FieldValue,
    Not,
    Or,
    Transformer,
    UnaryCheck,
    ValueList,
)
from falcotui.falco.rules.condition import parse_condition
from falcotui.falco.rules.fields import (
    FieldCatalog,
    FieldInfo,
    check_value,
    default_catalog,
    load_catalog,
    value_warnings,
)


def _fields_in(node):
    if isinstance(node, And | Or):
        for child in node.children:
            yield from _fields_in(child)
    elif isinstance(node, Not):
        yield from _fields_in(node.child)
    elif isinstance(node, UnaryCheck | BinaryCheck):
        yield node.field
        if isinstance(node, BinaryCheck) and isinstance(node.value, FieldValue):
            yield node.value.field


def test_shipped_catalog_is_generated_from_the_shared_field_list(shared_data):
    source = json.loads((shared_data / "falco_fields.json").read_text(encoding="utf-8"))
    rows = gen_fields.convert(source)
    assert gen_fields.OUTPUT.read_text(encoding="utf-8") == gen_fields.render(rows, _about())
    catalog = default_catalog()
    assert len(catalog) == len(source["fields"]) == 294
    assert {info.name for info in catalog} == {f["name"] for f in source["fields"]}


def _about():
    shipped = json.loads(gen_fields.OUTPUT.read_text(encoding="utf-8"))
    return shipped["about"]


def test_catalog_facts():
    catalog = default_catalog()
    assert catalog.lookup("proc.name") == FieldInfo("proc.name", "process", "CHARBUF", "none", False, False)
    assert catalog.lookup("fd.ip").filter_only
    assert catalog.lookup("evt.dir").deprecated
    assert catalog.lookup("evt.arg").arg == "required"
    assert catalog.lookup("proc.aname").arg == "allowed"
    assert catalog.lookup("container.mount.dest").arg == "required"  # container plugin: Idx or Key, Required
    assert catalog.names()[:2] == sorted(catalog.names())[:2]
    assert default_catalog() is catalog


def test_every_field_of_the_default_rules_is_known(shared_data):
    with open(shared_data / "falco_rules.yaml", encoding="utf-8") as handle:
        items = [item for item in yaml.safe_load(handle) if "condition" in item]
    catalog = default_catalog()
    seen = set()
    for item in items:
        for field in _fields_in(parse_condition(item["condition"])):
            assert catalog.check(field) is None, (item, field)
            seen.add(field.name)
    assert {"proc.aname", "evt.type", "fd.name", "container.id", "evt.rawres"} <= seen


@pytest.mark.parametrize(
    ("name", "arg", "problem"),
    [
        ("syscall", None, "filter_check called with nonexistent field syscall"),
        ("fd.flags", None, "filter_check called with nonexistent field fd.flags"),
        ("proc.nmae", None, "filter_check called with nonexistent field proc.nmae"),
        ("evt.arg", None, "filter_check called with nonexistent field evt.arg: evt.arg requires an argument"),
        ("proc.name", "1", "filter_check called with nonexistent field proc.name[1]: proc.name takes no arg"),
        ("proc.aname", "x", "filter_check called with nonexistent field proc.aname[x]: the argument of"),
        ("evt.arg.flags", "0", "filter_check called with nonexistent field evt.arg.flags[0]"),
        ("proc.name.x", None, "filter_check called with nonexistent field proc.name.x"),
        ("container.mount.dest", None, "filter_check called with nonexistent field container.mount.dest: "),
    ],
)
def test_rejected_fields_explain_themselves(name, arg, problem):
    message = default_catalog().check_name(name, arg)
    assert message is not None and message.startswith(problem)


@pytest.mark.parametrize(
    ("name", "arg"),
    [
        ("proc.aname", None),
        ("proc.aname", "2"),
        ("proc.env", "HOME"),
        ("evt.arg", "0"),
        ("evt.arg.flags", None),
        ("evt.rawarg.res", None),
        ("evt.type.is.open", None),
        ("thread.cgroup.cpuacct", None),
        ("container.mount.dest", "/proc*"),
        ("k8s.pod.label", "app"),
        ("fd.types", "0"),
    ],
)
def test_argument_forms_falco_accepts(name, arg):
    assert default_catalog().check_name(name, arg) is None


def test_check_looks_through_transformers_and_membership_uses_lookup():
    catalog = default_catalog()
    bad = Transformer(0, "tolower", Transformer(0, "b64", FieldRef(0, "proc.nmae")))
    assert catalog.check(bad) == "filter_check called with nonexistent field proc.nmae"
    assert catalog.check(Transformer(0, "len", FieldRef(0, "proc.args"))) is None
    call = parse_condition('concat(fd.rip, ":", join((fd.rport, fd.nmae), ",")) exists').field
    assert catalog.check(call) == "filter_check called with nonexistent field fd.nmae"
    assert "proc.aname[3]" in catalog and "evt.arg.flags" in catalog
    assert "syscall" not in catalog and 42 not in catalog


def test_filter_only_fields_cannot_be_displayed():
    catalog = default_catalog()
    assert catalog.check_name("fd.ip") is None
    assert catalog.check_output("fd.ip") == "fd.ip is filter only and cannot be used as a display field"
    assert catalog.check_output("evt.around", "1000") == (
        "evt.around[1000] is filter only and cannot be used as a display field"
    )


def test_a_catalog_from_other_facts():
    text = json.dumps(
        {
            "columns": ["name", "class", "type", "arg", "filter_only", "deprecated"],
            "fields": [["ka.verb", "k8s_audit", "CHARBUF", "none", False, False]],
        }
    )
    catalog = load_catalog(text)
    assert isinstance(catalog, FieldCatalog) and catalog.names() == ["ka.verb"]
    assert catalog.check_name("proc.name") == "filter_check called with nonexistent field proc.name"


def test_generator_rejects_what_is_not_a_field_list(tmp_path, capsys):
    with pytest.raises(gen_fields.FieldListError):
        gen_fields.convert({"fields": [{"name": "x"}]})
    with pytest.raises(gen_fields.FieldListError):
        gen_fields.convert([1, 2])
    broken = tmp_path / "fields.json"
    broken.write_text("{not json", encoding="utf-8")
    assert gen_fields.main([str(broken)]) == 1
    assert "gen_fields:" in capsys.readouterr().err
    assert gen_fields.main([]) == 2


def _checks(shared_data):
    with open(shared_data / "falco_rules.yaml", encoding="utf-8") as handle:
        docs = yaml.safe_load(handle)
    lists = {item["list"]: item["items"] for item in docs if "list" in item}
    for item in docs:
        if "condition" not in item:
            continue
        stack = [parse_condition(item["condition"])]
        while stack:
            node = stack.pop()
            if isinstance(node, And | Or):
                stack.extend(node.children)
            elif isinstance(node, Not):
                stack.append(node.child)
            elif isinstance(node, UnaryCheck | BinaryCheck):
                yield node, lists


def test_default_rules_pass_the_compile_time_operator_and_value_checks(shared_data):
    catalog = default_catalog()
    count = 0
    for node, lists in _checks(shared_data):
        count += 1
        assert catalog.check_operator(node.field, node.op) is None, node
        if isinstance(node, BinaryCheck) and not isinstance(node.value, FieldValue):
            values = node.value.items if isinstance(node.value, ValueList) else (node.value,)
            for value in values:
                for text in lists.get(value.text, [value.text]):
                    assert check_value(node.op, str(text)) is None
                    assert value_warnings(node.op, str(text), catalog) == [], (node, text)
    assert count == 246


@pytest.mark.parametrize(
    ("condition", "problem"),
    [
        ("fd.sport contains 80", "'contains' operator not supported for numeric filters"),
        ("fd.sip glob 10.*", "'glob' operator not supported for ip address and network filters"),
        ("container.privileged startswith t", "'startswith' operator not supported for numeric filters"),
        ("proc.name bcontains 6869", "'bcontains' operator not supported for string filters"),
        ("evt.buffer glob x", "'glob' operator not supported for buffer filters"),
        ("len(proc.args) startswith 1", "'startswith' operator not supported for numeric filters"),
        ("proc.pid regex '^1'", "'regex' operator not supported for numeric filters"),
        ("fd.sport in (80, 443)", None),
        ("evt.rawarg.res contains x", None),  # DYNAMIC: the type depends on the event
        ("tolower(proc.name) glob '*sh'", None),
        ("concat(fd.rip, ':', fd.rport) startswith 10.", None),
        ("fd.sport exists", None),
    ],
)
def test_operators_the_field_type_does_not_support(condition, problem):
    node = parse_condition(condition)
    expected = None if problem is None else f"filter error: {problem}"
    assert default_catalog().check_operator(node.field, node.op) == expected


def test_constant_values_falco_rejects_or_warns_about():
    catalog = default_catalog()
    assert check_value("bcontains", "6d6f") is None
    assert check_value("bstartswith", "7f454c4") == (
        "filter error: bcontains and bstartswith operator support hex strings only"
    )
    assert check_value("bcontains", "zz") is not None and check_value("contains", "zz") is None
    assert value_warnings("regex", ".*secret", catalog) == [
        "regex check with '.*secret' may be optimized with simpler operators such as "
        "'=', 'contains', 'startswith', 'endswith'"
    ]
    assert value_warnings("regex", "^a[0-9]+$", catalog) == []
    assert value_warnings("=", "proc.pname", catalog) == [
        "'proc.pname' may be a valid field misused as a const string value"
    ]
    assert value_warnings("=", " proc.aname[2]", catalog) == [
        "' proc.aname[2]' may be a valid field misused as a const string value"
    ]
    assert value_warnings("in", "tolower(proc.name)", catalog) == [
        "'tolower(proc.name)' may be a valid field transformer misused as a const string value"
    ]
    assert value_warnings("=", "/usr/bin/proc.name", catalog) == []
    assert value_warnings("=", "proc.nmae", catalog) == []
