"""Print a condition tree (`ast`) back as condition text that Falco's parser reads into the same tree.

`to_text(node)` writes the fewest parentheses that keep the grouping (`and` binds tighter than `or`, a
group written in the source stays a group); strings are written bare where the lexer reads them back
unchanged (see `condition_lex.BARE_STRING`/`FIELD_ARG_BARE`) and double-quoted otherwise, with the escapes
libsinsp's `unescape_str` undoes.
"""

from __future__ import annotations

from falcotui.falco.rules import ast as A
from falcotui.falco.rules.condition_lex import BARE_STRING, BLANKS, FIELD_ARG_BARE

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def quote(text: str) -> str:
    """`text` as a double-quoted condition string that Falco's lexer reads back unchanged."""
    body = "".join(_ESCAPES.get(ch, ch) for ch in text)
    if body.endswith("\\\\"):
        # libsinsp never closes a string on a quote right after a backslash; `\ ` also means `\`.
        body = body[:-2] + "\\ "
    return f'"{body}"'


def field_text(field: A.Node) -> str:
    """`proc.aname[2]`, `tolower(proc.name)`, `concat(fd.rip, ":", fd.rport)`, `tolower(proc.aname)[1]`."""
    if isinstance(field, A.Transformer):
        return f"{field.name}({field_text(field.operand)}){_arg_text(field.arg)}"
    if isinstance(field, A.TransformerCall):
        return f"{field.name}({', '.join(field_text(arg) for arg in field.args)}){_arg_text(field.arg)}"
    if isinstance(field, A.ArgList):
        return f"({', '.join(field_text(item) for item in field.items)})"
    if isinstance(field, A.Value):
        return quote(field.text) if field.quoted else field.text
    if not isinstance(field, A.FieldRef):
        raise TypeError(f"not a field expression: {field!r}")
    return field.name + _arg_text(field.arg)


def _arg_text(arg: str | None) -> str:
    """`[2]`, `["a b"]`, or nothing."""
    if arg is None:
        return ""
    return f"[{arg if FIELD_ARG_BARE.fullmatch(arg) else quote(arg)}]"


def value_text(value: A.Value | A.ValueList | A.FieldValue) -> str:
    """The right side of a check: `bash`, `"a b"`, `(sh, bash)`, `val(proc.pname)`."""
    if isinstance(value, A.Value):
        bare = not value.quoted and BARE_STRING.fullmatch(value.text) and value.text[0] not in BLANKS
        return value.text if bare else quote(value.text)
    if isinstance(value, A.ValueList):
        return "(" + ", ".join(value_text(item) for item in value.items) + ")"
    if isinstance(value.field, A.FieldRef):
        return f"val({field_text(value.field)}){_arg_text(value.arg)}"
    return field_text(value.field)


def to_text(node: A.Node) -> str:
    """Condition text that parses back to the same tree (offsets aside)."""
    if isinstance(node, A.And | A.Or):
        keyword = " and " if isinstance(node, A.And) else " or "
        text = keyword.join(_operand_text(child, node) for child in node.children)
        return f"({text})" if node.parenthesized else text
    if isinstance(node, A.Not):
        return f"not {_operand_text(node.child, node)}"
    if isinstance(node, A.Identifier):
        return node.name
    if isinstance(node, A.UnaryCheck):
        return f"{field_text(node.field)} {node.op}"
    if isinstance(node, A.BinaryCheck):
        return f"{field_text(node.field)} {node.op} {value_text(node.value)}"
    raise TypeError(f"not a condition node: {node!r}")


def _operand_text(child: A.Node, parent: A.Node) -> str:
    text = to_text(child)
    if isinstance(child, A.Not):
        needs_group = isinstance(parent, A.Not)
    elif isinstance(child, A.And | A.Or) and not child.parenthesized:
        needs_group = not (isinstance(child, A.And) and isinstance(parent, A.Or))
    else:
        needs_group = False
    return f"({text})" if needs_group else text
