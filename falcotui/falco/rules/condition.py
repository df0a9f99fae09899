"""Parse a Falco rule condition into the `ast` tree, exactly as libsinsp's filter parser does.

The grammar, its lexing quirks, the error messages and the error positions follow libsinsp's
`filter/parser.cpp`, the parser Falco's rule loader runs on every macro and rule condition:
`or` < `and` < `not`, `( ... )` groups, checks `field op value` and `field exists`, list operators
taking `(a, "b", ...)` or a bare list name, field arguments `proc.aname[2]`, transformers
(`tolower(...)`) and `val(field)`. Which libs version's parser is followed comes from the target
Falco version (`dialect`): libs 0.23.2 for Falco 0.43, libs 0.25 for 0.44 and later, which adds the
modifiers (`startswith oneof (a, b)`, `= anyof some_list`), multi-argument transformers
(`join(...)`, `concat(...)`, `getopt(...)`) and `tolower(proc.aname)[1]`. Offsets are 0-based
character offsets into the text.
Dotless names are never fields: `syscall = open` is the macro reference `syscall` followed by an
unexpected token, as in Falco. `condition_print` writes a tree back as text.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import NoReturn

from falcotui.falco.rules.ast import (
    And,
    ArgList,
    BinaryCheck,
    Expr,
    FieldRef,
    FieldValue,
    Identifier,
    Node,
    Not,
    Or,
    Transformer,
    TransformerCall,
    UnaryCheck,
    Value,
    ValueList,
)
from falcotui.falco.rules.dialect import DEFAULT_DIALECT, MODIFIERS, Dialect

MAX_DEPTH = 1000
"""Falco's rule loader sets the parser's recursion limit to 1000."""

UNARY_OPERATORS = ("exists",)
NUMERIC_OPERATORS = ("<=", "<", ">=", ">")
# A trailing space marks an operator that must be followed by a blank, as in libsinsp.
_WORD_OPERATORS = "glob iglob contains icontains bcontains startswith bstartswith endswith regex"
_STRING_OPERATORS = ("==", "=", "!=", *(f"{op} " for op in _WORD_OPERATORS.split()))
STRING_OPERATORS = tuple(op.strip() for op in _STRING_OPERATORS)
LIST_OPERATORS = ("intersects", "in", "pmatch")
OPERATORS = UNARY_OPERATORS + NUMERIC_OPERATORS + STRING_OPERATORS + LIST_OPERATORS
TRANSFORMERS = DEFAULT_DIALECT.transformers
"""The transformers of the default target (libs 0.25 `s_field_transformers`); see `Dialect.transformers`."""
# libs 0.25 `s_str_modifier_ops`: each wants a blank after it, like the word operators.
_MODIFIER_OPERATORS = tuple(f"{m} " for m in MODIFIERS)
_BOOL_KEYWORD = re.compile(r"(?:and|or|not)(?![A-Za-z0-9])")
_SPACE = " \t\n\v\f\r"
# Blanks and the two bare tokens; the printer (`condition_print`) writes a token bare only when these read
# it back unchanged.
BLANKS = " \t\b\r\n"
FIELD_ARG_BARE = re.compile(f"[^\\]\\[\"'{_SPACE}]+")
BARE_STRING = re.compile(f"[^()\"'{_SPACE}=,]+")
_NOT_BLANK = re.compile(f"not[{_SPACE}]+")
_IDENTIFIER = re.compile(r"[a-zA-Z][a-zA-Z0-9_]*")
_FIELD_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9_]*(?:\.[a-zA-Z][a-zA-Z0-9_]*)+")
_HEX_NUMBER = re.compile(r"0[xX][0-9a-fA-F]+")
_NUMBER = re.compile(r"[+\-]?[0-9]+\.?[0-9]*(?:[eE][+\-][0-9]+)?")

_OPERATOR_CHOICES = ", ".join(f"'{op}'" for op in OPERATORS)
_UNESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", " ": "\\", "\\": "\\", "/": "/"}


class ConditionSyntaxError(ValueError):
    """A condition Falco's parser rejects: its message and the 0-based offset where parsing stopped."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message, offset)
        self.message = message
        self.offset = offset

    def __str__(self) -> str:
        return f"{self.message} (at offset {self.offset})"


def parse_condition(text: str, *, max_depth: int = MAX_DEPTH, dialect: Dialect = DEFAULT_DIALECT) -> Expr:
    """Parse one condition as the target Falco's libs does (macro references stay `Identifier`s, list
    names stay values)."""
    parser = _Parser(text, max_depth, dialect)
    try:
        return parser.parse()
    except RecursionError:
        # Python's own stack limit can come first: the same failure, reported the same way.
        raise ConditionSyntaxError(f"exceeded max depth limit of {max_depth}", parser.pos) from None


def check_condition_syntax(text: str, dialect: Dialect = DEFAULT_DIALECT) -> ConditionSyntaxError | None:
    """The error `parse_condition` would raise, or None when the condition parses."""
    try:
        parse_condition(text, dialect=dialect)
    except ConditionSyntaxError as err:
        return err
    return None


def _unescape(raw: str, end: int) -> str:
    """libsinsp's `unescape_str` of a quoted token (delimiters included); errors point past it."""
    out: list[str] = []
    escaped = False
    for ch in raw[1:-1]:
        if not escaped:
            if ch == "\\":
                escaped = True
            else:
                out.append(ch)
            continue
        escaped = False
        if ch in _UNESCAPES:
            out.append(_UNESCAPES[ch])
        elif ch in "\"'":
            if ch != raw[0]:
                other = "'" if ch == '"' else '"'
                raise ConditionSyntaxError(f"invalid \\{ch} escape in {other}-quoted string", end)
            out.append(ch)
        else:
            raise ConditionSyntaxError(f"unsupported string escape sequence: \\{ch}", end)
    return "".join(out)


class _Parser:
    """A cursor over the text; every method mirrors the libsinsp parser function of the same role."""

    __slots__ = ("calls", "choices", "depth", "dialect", "last", "max_depth", "pos", "text")

    def __init__(self, text: str, max_depth: int, dialect: Dialect = DEFAULT_DIALECT) -> None:
        self.text = text
        self.pos = 0
        self.last = ""
        self.depth = 0
        self.max_depth = max_depth
        self.dialect = dialect
        self.calls = tuple((name, name + "(") for name in dialect.transformers)
        # libs' `token_list_to_str(supported_field_transformers(true))`
        self.choices = ", ".join(f"'{t}'" for t in ("val", *dialect.transformers))

    def fail(self, message: str) -> NoReturn:
        raise ConditionSyntaxError(message, self.pos)

    def enter(self) -> None:
        self.depth += 1
        if self.depth >= self.max_depth:
            self.fail(f"exceeded max depth limit of {self.max_depth}")

    # -- lexing -----------------------------------------------------------------------------------

    def blank(self) -> bool:
        text, start = self.text, self.pos
        pos, end = start, len(text)
        while pos < end and text[pos] in BLANKS:
            pos += 1
        self.pos = pos
        return pos > start

    def lit(self, token: str) -> bool:
        if self.text.startswith(token, self.pos):
            self.last = token
            self.pos += len(token)
            return True
        return False

    def rgx(self, pattern: re.Pattern[str]) -> bool:
        match = pattern.match(self.text, self.pos)
        if match is None:
            return False
        self.last = match.group()
        self.pos = match.end()
        return True

    def quoted(self) -> bool:
        text, start = self.text, self.pos
        if start >= len(text) or text[start] not in "'\"":
            return False
        delimiter, prev = text[start], "\\"
        for i in range(start, len(text)):
            ch = text[i]
            if ch == "\0":
                break
            if ch == delimiter and prev != "\\":
                self.pos = i + 1
                self.last = _unescape(text[start : i + 1], self.pos)
                return True
            prev = ch
        return False

    def operator(self, operators: tuple[str, ...]) -> bool:
        """libs' lex_helper_operator_list: a trailing space in `op` means a blank must follow. libs 0.23
        gives up there (the keyword stays consumed); libs 0.25 backtracks and tries the next operator."""
        for op in operators:
            if op.endswith(" "):
                saved = self.pos, self.last
                if self.lit(op[:-1]):
                    if self.blank():
                        return True
                    if not self.dialect.operator_backtrack:
                        return False
                    self.pos, self.last = saved
            elif self.lit(op):
                return True
        return False

    def list_value_follows(self) -> bool:
        """libs 0.25 list_value_follows: `(` or an identifier at the cursor (nothing consumed)."""
        return self.text.startswith("(", self.pos) or _IDENTIFIER.match(self.text, self.pos) is not None

    def bool_keyword_follows(self) -> bool:
        """libs 0.25 bool_keyword_follows: `and`/`or`/`not` not followed by an ASCII letter or digit."""
        return _BOOL_KEYWORD.match(self.text, self.pos) is not None

    def transformer(self) -> str | None:
        for name, call in self.calls:
            if self.lit(call):
                return name
        return None

    # -- grammar ----------------------------------------------------------------------------------

    def parse(self) -> Expr:
        if not self.text:
            self.fail("filter input string is empty")
        result = self.parse_or()
        if self.pos != len(self.text):
            self.fail(f"unexpected token after '{self.last}', expecting 'or', 'and'")
        return result

    def parse_or(self) -> Expr:
        return self._junction("or", Or, self.parse_and)

    def parse_and(self) -> Expr:
        return self._junction("and", And, self.parse_not)

    def _junction(self, keyword: str, kind: type[And] | type[Or], operand) -> Expr:
        self.enter()
        try:
            self.blank()
            start = self.pos
            children: list[Node] = [operand()]
            self.blank()
            while self.lit(keyword):
                if self.blank():
                    children.append(operand())
                elif self.lit("("):
                    children.append(self.embedded())
                else:
                    self.fail(f"expected blank or '(' after '{keyword}'")
                self.blank()
            if len(children) == 1:
                return children[0]  # type: ignore[return-value]
            return kind(start, tuple(children))
        finally:
            self.depth -= 1

    def parse_not(self) -> Expr:
        self.enter()
        try:
            self.blank()
            start = self.pos
            negated = False
            while self.rgx(_NOT_BLANK):
                negated = not negated
            if self.lit("not("):
                negated = not negated
                child = self.embedded()
            else:
                child = self.parse_check()
            return Not(start, child) if negated else child
        finally:
            self.depth -= 1

    def embedded(self) -> Expr:
        """The rest of a `( ... )` group, its `(` already consumed."""
        self.enter()
        try:
            self.blank()
            child = self.parse_or()
            self.blank()
            if not self.lit(")"):
                self.fail("expected a ')' token")
            if isinstance(child, And | Or):
                child = replace(child, parenthesized=True)
            return child
        finally:
            self.depth -= 1

    def parse_check(self) -> Expr:
        self.enter()
        try:
            self.blank()
            start = self.pos
            if self.lit("("):
                return self.embedded()
            if self.rgx(_FIELD_NAME):
                return self.check_rest(self.field_rest(self.last, start), start)
            name = self.transformer()
            if name is not None:
                self.blank()
                return self.check_rest(self.transformer_rest(name, start), start)
            if self.rgx(_IDENTIFIER):
                return Identifier(start, self.last)
            self.fail("expected a '(' token, a field check, or an identifier")
        finally:
            self.depth -= 1

    def field_rest(self, name: str, start: int) -> FieldRef:
        arg = None
        if self.lit("["):
            if not (self.quoted() or self.rgx(FIELD_ARG_BARE)):
                self.fail("expected a valid field argument: a quoted string or a bare string")
            arg = self.last
            if not self.lit("]"):
                self.fail("expected a ']' token")
        return FieldRef(start, name, arg)

    def transformer_rest(self, name: str, start: int) -> Transformer | TransformerCall:
        """The arguments of `name(`: one field gives a `Transformer`, anything else a call."""
        if not self.dialect.multi_arg_transformers:
            return self.transformer_rest_single(name, start)
        self.enter()
        try:
            self.blank()
            args = [self.transformer_arg()]
            self.blank()
            while self.lit(","):
                args.append(self.transformer_arg())
                self.blank()
            if not self.lit(")"):
                self.fail("expected a ')' token closing the transformer")
            arg = self.optional_field_arg()
            if len(args) == 1 and isinstance(args[0], FieldRef | Transformer):
                return Transformer(start, name, args[0], arg)
            return TransformerCall(start, name, tuple(args), arg)
        finally:
            self.depth -= 1

    def transformer_rest_single(self, name: str, start: int) -> Transformer:
        """libs 0.23's parse_field_or_transformer_remainder: one nested transformer or one field."""
        self.enter()
        try:
            self.blank()
            arg_start = self.pos
            child: FieldRef | Transformer | None = None
            nested = self.transformer()
            if nested is not None:
                self.blank()
                child = self.transformer_rest_single(nested, arg_start)
            if self.rgx(_FIELD_NAME):  # libs 0.23 tries a field even after a nested transformer
                child = self.field_rest(self.last, arg_start)
            if child is None:
                self.fail(f"expected a field or a nested valid transformer: {self.choices}")
            self.blank()
            if not self.lit(")"):
                self.fail("expected a ')' token closing the transformer")
            return Transformer(start, name, child)
        finally:
            self.depth -= 1

    def optional_field_arg(self) -> str | None:
        """libs 0.25 parse_optional_field_arg after a transformer's `)`: `[arg]` or nothing."""
        if not self.dialect.transformer_field_arg or not self.lit("["):
            return None
        if not (self.quoted() or self.rgx(FIELD_ARG_BARE)):
            self.fail("expected a valid field argument: a quoted string or a bare string")
        arg = self.last
        if not self.lit("]"):
            self.fail("expected a ']' token")
        return arg

    def transformer_arg(self) -> Node:
        self.blank()
        start = self.pos
        if self.rgx(_HEX_NUMBER) or self.rgx(_NUMBER):
            return Value(start, self.last)
        if self.quoted():
            return Value(start, self.last, quoted=True)
        if self.lit("("):
            return self.transformer_list(start)
        name = self.transformer()
        if name is not None:
            return self.transformer_rest(name, start)
        if self.rgx(_FIELD_NAME):
            return self.field_rest(self.last, start)
        self.fail(
            "expected field transformer argument: "
            "field, transformer, quoted string, number, or transformer list"
        )

    def transformer_list(self, start: int) -> ArgList:
        """The rest of a `(...)` transformer argument, its `(` already consumed."""
        self.blank()
        items: list[Node] = []
        if self.lit(")"):
            return ArgList(start, ())
        items.append(self.transformer_list_item())
        self.blank()
        while self.lit(","):
            self.blank()
            items.append(self.transformer_list_item())
            self.blank()
        if not self.lit(")"):
            self.fail("expected ')'")
        return ArgList(start, tuple(items))

    def transformer_list_item(self) -> Node:
        start = self.pos
        if self.rgx(_FIELD_NAME):
            return self.field_rest(self.last, start)
        name = self.transformer()
        if name is not None:
            self.blank()
            return self.transformer_rest(name, start)
        if self.quoted():
            return Value(start, self.last, quoted=True)
        if self.rgx(_HEX_NUMBER) or self.rgx(_NUMBER):
            return Value(start, self.last)
        self.fail("expected transformer list argument: field, transformer, quoted string, or number")

    def check_rest(self, left: FieldRef | Transformer | TransformerCall, start: int) -> Expr:
        self.enter()
        try:
            self.blank()
            if self.operator(UNARY_OPERATORS):
                return UnaryCheck(start, left, self.last)
            self.blank()
            right: Value | ValueList | FieldValue
            if self.operator(NUMERIC_OPERATORS):
                op = self.last
                right = self.number_value()
            elif self.operator(_STRING_OPERATORS):
                op, right = self.string_rest(self.last)
            elif self.operator(LIST_OPERATORS):
                op = self.last
                right = self.list_value()
            else:
                self.fail(f"expected a valid check operator: one of {_OPERATOR_CHOICES}")
            return BinaryCheck(start, left, op, right)
        finally:
            self.depth -= 1

    def string_rest(self, op: str) -> tuple[str, Value | ValueList | FieldValue]:
        """The right side of a string operator, `op` already consumed. libs 0.25 (parse_condition) first
        tries a modifier (`oneof `, `anyof `, `allof `) after a blank, followed by a list or a list
        name that is not `and`/`or`/`not`, and otherwise backtracks to a plain string value."""
        if not self.dialect.modifiers:
            return op, self.string_value(allow_transformer=True)
        # Word operators already consumed their blank; symbol operators (`=`, `!=`) need one here.
        had_blank = op[0].isalpha() or self.blank()
        saved = self.pos, self.last
        if had_blank and self.operator(_MODIFIER_OPERATORS):
            if self.list_value_follows() and not self.bool_keyword_follows():
                return f"{op} {self.last}", self.modified_list()
        self.pos, self.last = saved
        return op, self.string_value(allow_transformer=True)

    def modified_list(self) -> Value | ValueList:
        """libs 0.25 parse_list_value: `(a, "b")` or a list name; the modifier joins the operator."""
        self.blank()
        start = self.pos
        items = self.value_list()
        if items is not None:
            return items
        if self.rgx(_IDENTIFIER):
            return Value(start, self.last)
        self.fail("expected a list or an identifier")

    def number_value(self) -> Value | FieldValue:
        self.blank()
        start = self.pos
        field = self.transformer_or_val()
        if field is not None:
            return field
        if self.rgx(_HEX_NUMBER) or self.rgx(_NUMBER):
            return Value(start, self.last)
        self.fail(f"expected a number value or a field with a valid transformer: {self.choices}")

    def string_value(self, allow_transformer: bool) -> Value | FieldValue:
        self.blank()
        start = self.pos
        if allow_transformer:
            field = self.transformer_or_val()
            if field is not None:
                return field
        if self.quoted():
            return Value(start, self.last, quoted=True)
        if self.rgx(BARE_STRING):
            return Value(start, self.last)
        if not allow_transformer:
            self.fail("expected a string value")
        self.fail(f"expected a string value or a field with a valid transformer: {self.choices}")

    def list_value(self) -> Value | ValueList | FieldValue:
        """`(a, "b")`, a bare list name (a `Value`), or a field through `val()`/a transformer."""
        self.blank()
        start = self.pos
        items = self.value_list()
        if items is not None:
            return items
        field = self.transformer_or_val()
        if field is not None:
            return field
        if self.rgx(_IDENTIFIER):
            return Value(start, self.last)
        self.fail(f"expected a list, an identifier, or a field with a valid transformer: {self.choices}")

    def value_list(self) -> ValueList | None:
        """libs' try_parse_list_expr: `(a, "b", ...)` (possibly empty), or None without a `(`."""
        start = self.pos
        if not self.lit("("):
            return None
        items: list[Value] = []
        self.blank()
        try:
            first = self.string_value(allow_transformer=False)
        except ConditionSyntaxError:
            first = None  # libsinsp swallows this error: the list may be empty
        if isinstance(first, Value):
            items.append(first)
            self.blank()
            while self.lit(","):
                item = self.string_value(allow_transformer=False)
                assert isinstance(item, Value)
                items.append(item)
                self.blank()
        if not self.lit(")"):
            self.fail("expected a ')' token")
        return ValueList(start, tuple(items))

    def transformer_or_val(self) -> FieldValue | None:
        self.blank()
        start = self.pos
        if self.lit("val("):
            self.blank()
            field_start = self.pos
            if not self.rgx(_FIELD_NAME):
                self.fail("expected a field within 'val' transformer")
            ref = self.field_rest(self.last, field_start)
            self.blank()
            if not self.lit(")"):
                self.fail("expected a ')' token closing the transformer")
            return FieldValue(start, ref, self.optional_field_arg())
        name = self.transformer()
        if name is None:
            return None
        self.blank()
        return FieldValue(start, self.transformer_rest(name, start))
