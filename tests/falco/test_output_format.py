"""Output templates: tokens as Falco's formatter splits them, unknown fields found, alerts rendered."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from falcotui.falco.rules.fields import load_catalog
from falcotui.falco.rules.output_format import OutputToken, check_output, parse_output, render_output

NX = "filter_check called with nonexistent field "
BAD = "invalid formatting token "


def _default_rules(shared_data):
    with open(shared_data / "falco_rules.yaml", encoding="utf-8") as handle:
        return [item for item in yaml.safe_load(handle) if "rule" in item]


def test_every_default_rule_output_checks_clean(shared_data):
    rules = _default_rules(shared_data)
    assert len(rules) == 25
    for rule in rules:
        assert check_output(rule["output"]) == [], rule["rule"]
        tokens = parse_output(rule["output"])
        assert "".join(token.text for token in tokens) == rule["output"]
        assert any(token.field == "proc.cmdline" for token in tokens)


def test_tokens_keep_offsets_and_output_field_keys():
    text = "Shell (user=%user.name gparent=%proc.aname[2] flags=%evt.arg.flags) %tolower(proc.name)"
    tokens = parse_output(text)
    assert tokens == [
        OutputToken(0, "Shell (user="),
        OutputToken(12, "%user.name", "user.name", "user.name"),
        OutputToken(22, " gparent="),
        OutputToken(31, "%proc.aname[2]", "proc.aname[2]", "proc.aname", "2"),
        OutputToken(45, " flags="),
        OutputToken(52, "%evt.arg.flags", "evt.arg.flags", "evt.arg", "flags"),
        OutputToken(66, ") "),
        OutputToken(68, "%tolower(proc.name)", "tolower(proc.name)", "proc.name", None, ("tolower",)),
    ]
    assert all(text.startswith(token.text, token.offset) for token in tokens)


def test_field_is_the_longest_known_prefix():
    assert [t.text for t in parse_output("%proc.namex %proc.pname:%fd.sport")] == [
        "%proc.name",
        "x ",
        "%proc.pname",
        ":",
        "%fd.sport",
    ]
    assert [t.field for t in parse_output("%proc.name[1]") if t.is_field] == ["proc.name"]


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        ("file=%fd.nmae", [(5, "invalid formatting token fd.nmae")]),
        ("%syscall opened", [(0, "invalid formatting token syscall opened")]),
        ("disk 100% full", [(8, "invalid formatting token  full")]),
        ("", [(0, "empty formatting token")]),
        ("trailing %", [(9, "invalid formatting syntax: formatting cannot end with a %")]),
        ("width %12", [(6, "invalid formatting syntax: formatting cannot end with a number")]),
        ("ip=%fd.ip", [(3, "fd.ip is filter only and cannot be used as a display field")]),
        ("%evt.arg", [(0, NX + "evt.arg: evt.arg requires an argument, like evt.arg[...]")]),
        ("%tolower(proc.name", [(18, "missing closing transformer parenthesis: ")]),
        ("%proc.aname[x]", [(0, NX + "proc.aname[x]: the argument of proc.aname must be a number")]),
        ("a=%fd.nmae b=%proc.nmae", [(2, BAD + "fd.nmae b=%proc.nmae"), (13, BAD + "proc.nmae")]),
    ],
)  # fmt: skip
def test_problems_falco_reports_as_compile_output_errors(text, problems):
    assert check_output(text) == problems


def test_accepted_templates():
    for text in (
        "%20proc.name %toupper(tolower(proc.name)) %container.mount.dest[/proc*] %k8s.pod.label[app]",
        "*%proc.name",
        "%container.info deprecated but removed by Falco before checking",
        "no fields at all",
    ):
        assert check_output(text) == [], text


def test_render_substitutes_values_and_marks_missing_ones():
    template = "Shell in %container.name (cmd=%proc.cmdline parent=%proc.aname[1]) %evt.arg.flags"
    values = {"container.name": "web", "proc.cmdline": "sh -c id", "proc.aname[1]": "nginx"}
    assert render_output(template, values) == "Shell in web (cmd=sh -c id parent=nginx) <NA>"
    assert render_output("*%proc.name%proc.pid", {"proc.pid": "7"}) == "<NA>7"
    assert render_output("%container.info x", {}) == " x"
    assert render_output("100% sure %proc.name", {"proc.name": "sh"}) == "100% sure sh"
    assert render_output("%tolower(proc.name)", {"tolower(proc.name)": "bash"}) == "bash"
    widths = render_output("[%5proc.name][%2proc.pid]", {"proc.name": "sh", "proc.pid": "1234"})
    assert widths == "[sh   ][12]"
    assert parse_output("%5proc.name")[0].width == 5


def test_rendering_a_default_rule_uses_every_field(shared_data):
    rule = next(r for r in _default_rules(shared_data) if r["rule"] == "Terminal shell in container")
    fields = [t.field for t in parse_output(rule["output"]) if t.is_field]
    rendered = render_output(rule["output"], {field: f"<{i}>" for i, field in enumerate(fields)})
    assert "<NA>" not in rendered and all(f"<{i}>" in rendered for i in range(len(fields)))


PIECES = [*"%*()[].,: ax0129", "proc.name", "fd.", "tolower(", "evt.arg"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(PIECES)).map("".join))
def test_any_template_tokenises_checks_and_renders(text):
    tokens = parse_output(text)
    assert "".join(token.text for token in tokens) == text.removeprefix("*")
    assert all(isinstance(offset, int) and isinstance(message, str) for offset, message in check_output(text))
    assert isinstance(render_output(text, {"proc.name": "x"}), str)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_arbitrary_text_never_breaks_the_output_parser(text):
    assert "".join(token.text for token in parse_output(text)) == text.removeprefix("*")
    check_output(text)


def test_a_given_catalog_is_used_even_when_empty():
    columns = '["name", "class", "type", "arg", "filter_only", "deprecated"]'
    empty = load_catalog('{"columns": ' + columns + ', "fields": []}')
    assert check_output("%proc.name", empty) == [(0, "invalid formatting token proc.name")]
    assert check_output("%proc.name") == []
