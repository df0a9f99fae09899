"""The condition parser against Falco's grammar: default rules, precedence, groups, values, errors."""

from __future__ import annotations

from dataclasses import fields, is_dataclass

import pytest
import yaml

from falcotui.falco.rules.ast import (
    And,
    ArgList,
    BinaryCheck,
    FieldRef,
    FieldValue,
    Identifier,
    Not,
    Or,
    Transformer,
    TransformerCall,
    UnaryCheck,
    Value,
    ValueList,
)
from falcotui.falco.rules.condition import check_condition_syntax, parse_condition
from falcotui.falco.rules.condition_lex import ConditionSyntaxError
from falcotui.falco.rules.condition_print import quote, to_text


def _default_items(shared_data):
    with open(shared_data / "falco_rules.yaml", encoding="utf-8") as handle:
        return [item for item in yaml.safe_load(handle) if "condition" in item]


def shape(node):
    """The tree without offsets."""
    if isinstance(node, tuple):
        return tuple(shape(item) for item in node)
    if not is_dataclass(node):
        return node
    values = {f.name: shape(getattr(node, f.name)) for f in fields(node) if f.name != "offset"}
    return (type(node).__name__, values)


def _walk(node):
    yield node
    if isinstance(node, And | Or):
        for child in node.children:
            yield from _walk(child)
    elif isinstance(node, Not):
        yield from _walk(node.child)


def test_every_default_condition_parses_and_prints_back(shared_data):
    items = _default_items(shared_data)
    assert len(items) == 25 + 87  # rules + macros with a condition
    for item in items:
        tree = parse_condition(item["condition"])
        assert shape(parse_condition(to_text(tree))) == shape(tree), item


def test_default_conditions_offsets_point_at_their_nodes(shared_data):
    for item in _default_items(shared_data):
        text = item["condition"]
        for node in _walk(parse_condition(text)):
            if isinstance(node, Identifier):
                assert text.startswith(node.name, node.offset)
            elif isinstance(node, BinaryCheck | UnaryCheck):
                assert text.startswith(node.field.name, node.offset)
                assert text.startswith(node.op, text.index(node.op, node.offset))
            elif isinstance(node, Not):
                assert text.startswith("not", node.offset)


def test_list_names_stay_bare_values_inside_lists(shared_data):
    spawned = next(i for i in _default_items(shared_data) if i.get("macro") == "shell_procs")
    tree = parse_condition(spawned["condition"])
    assert tree == BinaryCheck(
        1, FieldRef(1, "proc.name"), "in", ValueList(14, (Value(15, "shell_binaries"),))
    )


def test_and_binds_tighter_than_or():
    assert parse_condition("A and B or C") == Or(
        0, (And(0, (Identifier(0, "A"), Identifier(6, "B"))), Identifier(11, "C"))
    )
    assert parse_condition("A or B and C") == Or(
        0, (Identifier(0, "A"), And(5, (Identifier(5, "B"), Identifier(11, "C"))))
    )


def test_seed_shell_rule_escapes_its_container_guard():
    tree = parse_condition('container and proc.name = "sh" or proc.name = "bash" or proc.name = "zsh"')
    assert isinstance(tree, Or) and len(tree.children) == 3
    guarded = tree.children[0]
    assert isinstance(guarded, And) and not guarded.parenthesized
    assert guarded.children[0] == Identifier(0, "container")
    assert tree.children[1] == BinaryCheck(34, FieldRef(34, "proc.name"), "=", Value(46, "bash", quoted=True))


def test_not_binds_tightest_and_double_negation_cancels():
    assert parse_condition("not a and b") == And(0, (Not(0, Identifier(4, "a")), Identifier(10, "b")))
    assert parse_condition("not not a") == Identifier(8, "a")
    assert parse_condition("not (not a)") == Not(0, Not(5, Identifier(9, "a")))
    assert parse_condition("not(a)") == Not(0, Identifier(4, "a"))
    assert parse_condition("not") == Identifier(0, "not")


def test_same_operator_is_flattened_but_not_across_groups():
    assert parse_condition("a and b and c") == And(
        0, (Identifier(0, "a"), Identifier(6, "b"), Identifier(12, "c"))
    )
    assert parse_condition("(a and b) and c") == And(
        0, (And(1, (Identifier(1, "a"), Identifier(7, "b")), parenthesized=True), Identifier(14, "c"))
    )
    grouped = parse_condition("a and (b or c)")
    assert isinstance(grouped, And) and grouped.children[1] == Or(
        7, (Identifier(7, "b"), Identifier(12, "c")), parenthesized=True
    )
    assert parse_condition("((a or b))") == Or(
        2, (Identifier(2, "a"), Identifier(7, "b")), parenthesized=True
    )
    assert parse_condition("(a)") == Identifier(1, "a")


def test_keywords_need_a_blank_or_a_group():
    assert parse_condition("a and(b)") == And(0, (Identifier(0, "a"), Identifier(6, "b")))
    assert parse_condition("a or(b)") == Or(0, (Identifier(0, "a"), Identifier(5, "b")))
    assert parse_condition("a\nand\tb") == And(0, (Identifier(0, "a"), Identifier(6, "b")))
    assert parse_condition("andy") == Identifier(0, "andy")


@pytest.mark.parametrize(
    ("text", "op", "value"),
    [
        ("proc.name=bash", "=", Value(10, "bash")),
        ("proc.name == bash", "==", Value(13, "bash")),
        ("proc.name != bash", "!=", Value(13, "bash")),
        ("fd.name glob /etc/*", "glob", Value(13, "/etc/*")),
        ("fd.name iglob '/ETC/*'", "iglob", Value(14, "/ETC/*", quoted=True)),
        ("proc.cmdline contains -c", "contains", Value(22, "-c")),
        ("proc.cmdline icontains HTTP", "icontains", Value(23, "HTTP")),
        ("evt.buffer bcontains 6d6f", "bcontains", Value(21, "6d6f")),
        ("fd.name startswith /etc/", "startswith", Value(19, "/etc/")),
        ("evt.buffer bstartswith 7f45", "bstartswith", Value(23, "7f45")),
        ("fd.name endswith .pem", "endswith", Value(17, ".pem")),
        ("proc.name regex '^ba.*'", "regex", Value(16, "^ba.*", quoted=True)),
        ("evt.rawres >= 0", ">=", Value(14, "0")),
        ("evt.rawres<-1", "<", Value(11, "-1")),
        ("fd.num <= 0x1F", "<=", Value(10, "0x1F")),
        ("proc.pid > 1.5e+3", ">", Value(11, "1.5e+3")),
        ("proc.name in (sh, 'ba sh', \"z\")", "in", None),
        ("proc.name in ()", "in", ValueList(13, ())),
        ("proc.name in shell_binaries", "in", Value(13, "shell_binaries")),
        ("ka.req.groups intersects (a, b)", "intersects", None),
        ("fd.name pmatch (/tmp, /var/run)", "pmatch", None),
        ("proc.pname in (runc:[0:PARENT], runc:[1:CHILD])", "in", None),
    ],
)
def test_binary_operators_and_values(text, op, value):
    tree = parse_condition(text)
    assert isinstance(tree, BinaryCheck) and tree.op == op
    if value is not None:
        assert tree.value == value
    else:
        assert isinstance(tree.value, ValueList) and len(tree.value.items) >= 2


def test_lexer_quirks_match_libsinsp():
    # Operators without a trailing blank requirement need no space; `in` then takes a list name.
    assert parse_condition("proc.name inshells").value == Value(12, "shells")
    # A bare string stops at `=`, `,`, parentheses, quotes and blanks, but keeps `[`, `]`, `:` and `*`.
    assert parse_condition("fd.name=/etc/[a-z]*:x").value == Value(8, "/etc/[a-z]*:x")
    # Escaped quotes never close a string, even after an escaped backslash.
    assert parse_condition(r'proc.name = "a\\" and b"').value == Value(12, 'a\\" and b', quoted=True)


def test_list_items_keep_their_text_and_quoting():
    tree = parse_condition('proc.pname in (runc:[0:PARENT], \'a b\', "c\\"d")')
    assert tree.value.items == (
        Value(15, "runc:[0:PARENT]"),
        Value(32, "a b", quoted=True),
        Value(39, 'c"d', quoted=True),
    )


def test_exists_is_unary():
    assert parse_condition("not proc.pname exists") == Not(
        0, UnaryCheck(4, FieldRef(4, "proc.pname"), "exists")
    )


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("proc.aname[2]=sshd", FieldRef(0, "proc.aname", "2")),
        ("container.mount.dest[/proc*] != none", FieldRef(0, "container.mount.dest", "/proc*")),
        ("proc.env[HOME] = /root", FieldRef(0, "proc.env", "HOME")),
        ('proc.env["MY VAR"] exists', FieldRef(0, "proc.env", "MY VAR")),
        ("evt.arg[0] = 1", FieldRef(0, "evt.arg", "0")),
        ("evt.arg.flags contains O_WRONLY", FieldRef(0, "evt.arg.flags")),
        ("evt.rawarg.res < 0", FieldRef(0, "evt.rawarg.res")),
        ("syscall.type = open", FieldRef(0, "syscall.type")),
    ],
)
def test_field_names_and_arguments(text, field):
    assert parse_condition(text).field == field


def test_transformers_on_the_left_and_right():
    tree = parse_condition("tolower( toupper(proc.name) ) = bash")
    assert tree.field == Transformer(0, "tolower", Transformer(9, "toupper", FieldRef(17, "proc.name")))
    tree = parse_condition("len(proc.args) > 100")
    assert tree.field == Transformer(0, "len", FieldRef(4, "proc.args"))
    tree = parse_condition("proc.name = basename(proc.exepath)")
    assert tree.value == FieldValue(12, Transformer(12, "basename", FieldRef(21, "proc.exepath")))
    tree = parse_condition("b64(evt.buffer) contains abc")
    assert tree.field.name == "b64"


def test_multi_argument_transformers():
    tree = parse_condition('concat(fd.rip, ":", fd.rport) in ("8.8.8.8:53", "4.4.4.4:53")')
    assert tree.field == TransformerCall(
        0, "concat", (FieldRef(7, "fd.rip"), Value(15, ":", quoted=True), FieldRef(20, "fd.rport"))
    )
    tree = parse_condition("join(( proc.name, tolower(proc.pname), 'x', 0x10 ), \"->\") contains sh")
    assert tree.field == TransformerCall(
        0,
        "join",
        (
            ArgList(
                5,
                (
                    FieldRef(7, "proc.name"),
                    Transformer(18, "tolower", FieldRef(26, "proc.pname")),
                    Value(39, "x", quoted=True),
                    Value(44, "0x10"),
                ),
            ),
            Value(52, "->", quoted=True),
        ),
    )
    assert parse_condition("join(proc.env) exists").field == Transformer(0, "join", FieldRef(5, "proc.env"))
    assert parse_condition("len(()) = 0").field == TransformerCall(0, "len", (ArgList(4, ()),))
    rhs = parse_condition("proc.name = concat(proc.pname, 1)").value
    assert rhs == FieldValue(12, TransformerCall(12, "concat", (FieldRef(19, "proc.pname"), Value(31, "1"))))
    assert to_text(tree) == 'join((proc.name, tolower(proc.pname), "x", 0x10), "->") contains sh'


def test_val_compares_two_fields():
    assert parse_condition("proc.name = val( proc.pname )") == BinaryCheck(
        0, FieldRef(0, "proc.name"), "=", FieldValue(12, FieldRef(17, "proc.pname"))
    )
    assert parse_condition("proc.pid > val(proc.ppid)").value == FieldValue(11, FieldRef(15, "proc.ppid"))
    assert parse_condition("proc.name in val(proc.aname[1])").value.field == FieldRef(17, "proc.aname", "1")


def test_quoted_string_escapes():
    assert parse_condition(r'proc.cmdline = "a\"b\\c\n\t\/"').value.text == 'a"b\\c\n\t/'
    assert parse_condition(r"proc.cmdline = 'it\'s'").value.text == "it's"
    assert parse_condition("proc.cmdline = \"say 'hi'\"").value.text == "say 'hi'"
    assert parse_condition(r'proc.cmdline = "x\ "').value.text == "x\\"


@pytest.mark.parametrize(
    ("text", "offset", "message"),
    [
        ("", 0, "filter input string is empty"),
        ("(proc.name = bash", 17, "expected a ')' token"),
        ("((a)", 4, "expected a ')' token"),
        ("proc.name = bash)", 16, "unexpected token after 'bash', expecting 'or', 'and'"),
        ("proc.name =", 11, "expected a string value or a field with a valid transformer: 'val', "),
        ("proc.name = bash and", 20, "expected blank or '(' after 'and'"),
        ("proc.name = bash and ", 21, "expected a '(' token, a field check, or an identifier"),
        ("a or", 4, "expected blank or '(' after 'or'"),
        ("a andb", 5, "expected blank or '(' after 'and'"),
        ("a or b c", 7, "unexpected token after 'b', expecting 'or', 'and'"),
        ("not ", 4, "expected a '(' token, a field check, or an identifier"),
        ('proc.name = "bash', 12, "expected a string value or a field with a valid transformer"),
        ('proc.name in ("bash)', 14, "expected a ')' token"),
        ("proc.name in (a, b", 18, "expected a ')' token"),
        ("proc.name in (a,)", 16, "expected a string value"),
        ("proc.name in (a b)", 16, "expected a ')' token"),
        ("proc.name in", 12, "expected a list, an identifier, or a field with a valid transformer"),
        ("proc.name in a, b", 14, "unexpected token after 'a', expecting 'or', 'and'"),
        ("proc.name", 9, "expected a valid check operator: one of 'exists', '<=', '<', '>=', '>', '=='"),
        ("proc.name bash", 10, "expected a valid check operator"),
        # libs 0.25 backtracks a word operator with no blank after it (0.23 stops past it: see
        # test_dialects.py), so the error points before the word.
        ("proc.name containsbash", 10, "expected a valid check operator"),
        ('fd.name startswith"/etc"', 8, "expected a valid check operator"),
        ("proc.aname[2 = x", 12, "expected a ']' token"),
        ("proc.aname[] = x", 11, "expected a valid field argument: a quoted string or a bare string"),
        ("evt.rawres < abc", 13, "expected a number value or a field with a valid transformer"),
        ("tolower(proc.name = x", 18, "expected a ')' token closing the transformer"),
        ("tolower(bash) = x", 8, "expected field transformer argument: field, transformer, quoted string"),
        ("tolower() = x", 8, "expected field transformer argument"),
        ("concat(fd.rip, ) = x", 15, "expected field transformer argument"),
        ("join((proc.name, bash), ',') = x", 17, "expected transformer list argument: field, transformer"),
        ("join((proc.name ','), ',') = x", 16, "expected ')'"),
        ("proc.name = tolower(proc.pname", 30, "expected a ')' token closing the transformer"),
        ("proc.name = val(bash)", 16, "expected a field within 'val' transformer"),
        ("proc.name = val(proc.pname", 26, "expected a ')' token closing the transformer"),
        (r'proc.name = "a\q"', 17, r"unsupported string escape sequence: \q"),
        (r"proc.name = 'a\"b'", 18, "invalid \\\" escape in '-quoted string"),
        ("proc.name = a = b", 14, "unexpected token after 'a', expecting 'or', 'and'"),
        ('syscall="open" and fd.flags contains O_WRONLY', 7, "unexpected token after 'syscall'"),
        ("outbound and net or", 19, "expected blank or '(' after 'or'"),
        ("a AND b", 2, "unexpected token after 'a', expecting 'or', 'and'"),
        ("a or(b) and c", 8, "unexpected token after ')', expecting 'or', 'and'"),
    ],
)
def test_syntax_errors_carry_falcos_message_and_offset(text, offset, message):
    with pytest.raises(ConditionSyntaxError) as caught:
        parse_condition(text)
    assert caught.value.offset == offset
    assert caught.value.message.startswith(message)
    assert str(caught.value) == f"{caught.value.message} (at offset {offset})"
    assert isinstance(caught.value, ValueError)
    returned = check_condition_syntax(text)
    assert (returned.message, returned.offset) == (caught.value.message, offset)


def test_check_condition_syntax_accepts_valid_text():
    assert check_condition_syntax("spawned_process and container") is None


def test_deep_nesting_is_an_error_of_our_own_type():
    depth = 5000
    with pytest.raises(ConditionSyntaxError, match="exceeded max depth limit"):
        parse_condition("(" * depth + "a" + ")" * depth)
    assert parse_condition("(" * 40 + "a" + ")" * 40) == Identifier(40, "a")


def test_printer_quotes_what_bare_text_cannot_hold():
    assert quote('a"b') == '"a\\"b"'
    assert quote("tail\\") == '"tail\\ "'
    tree = BinaryCheck(0, FieldRef(0, "proc.env", "MY VAR"), "=", Value(0, "x y", quoted=True))
    assert to_text(tree) == 'proc.env["MY VAR"] = "x y"'
    nested = And(0, (Or(0, (Identifier(0, "a"), Identifier(0, "b"))), Not(0, Not(0, Identifier(0, "c")))))
    assert to_text(nested) == "(a or b) and not (not c)"
