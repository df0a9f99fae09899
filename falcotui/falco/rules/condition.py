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

from dataclasses import replace

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
from falcotui.falco.rules.condition_lex import (
    BARE_STRING,
    FIELD_ARG_BARE,
    FIELD_NAME,
    HEX_NUMBER,
    IDENTIFIER,
    LIST_OPERATORS,
    MODIFIER_TOKENS,
    NOT_BLANK,
    NUMBER,
    NUMERIC_OPERATORS,
    OPERATOR_CHOICES,
    STRING_OPERATOR_TOKENS,
    UNARY_OPERATORS,
    ConditionSyntaxError,
    Lexer,
)
from falcotui.falco.rules.dialect import DEFAULT_DIALECT, Dialect

MAX_DEPTH = 1000
"""Falco's rule loader sets the parser's recursion limit to 1000."""


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


class _Parser(Lexer):
    """The grammar over the lexer's cursor; every method mirrors the libsinsp parser function of the same
    role."""

    __slots__ = ("choices", "depth", "max_depth")

    def __init__(self, text: str, max_depth: int, dialect: Dialect = DEFAULT_DIALECT) -> None:
        super().__init__(text, dialect)
        self.depth = 0
        self.max_depth = max_depth
        # libs' `token_list_to_str(supported_field_transformers(true))`
        self.choices = ", ".join(f"'{t}'" for t in ("val", *dialect.transformers))

    def enter(self) -> None:
        self.depth += 1
        if self.depth >= self.max_depth:
            self.fail(f"exceeded max depth limit of {self.max_depth}")

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
            while self.rgx(NOT_BLANK):
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
            if self.rgx(FIELD_NAME):
                return self.check_rest(self.field_rest(self.last, start), start)
            name = self.transformer()
            if name is not None:
                self.blank()
                return self.check_rest(self.transformer_rest(name, start), start)
            if self.rgx(IDENTIFIER):
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
            if self.rgx(FIELD_NAME):  # libs 0.23 tries a field even after a nested transformer
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
        if self.rgx(HEX_NUMBER) or self.rgx(NUMBER):
            return Value(start, self.last)
        if self.quoted():
            return Value(start, self.last, quoted=True)
        if self.lit("("):
            return self.transformer_list(start)
        name = self.transformer()
        if name is not None:
            return self.transformer_rest(name, start)
        if self.rgx(FIELD_NAME):
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
        if self.rgx(FIELD_NAME):
            return self.field_rest(self.last, start)
        name = self.transformer()
        if name is not None:
            self.blank()
            return self.transformer_rest(name, start)
        if self.quoted():
            return Value(start, self.last, quoted=True)
        if self.rgx(HEX_NUMBER) or self.rgx(NUMBER):
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
            elif self.operator(STRING_OPERATOR_TOKENS):
                op, right = self.string_rest(self.last)
            elif self.operator(LIST_OPERATORS):
                op = self.last
                right = self.list_value()
            else:
                self.fail(f"expected a valid check operator: one of {OPERATOR_CHOICES}")
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
        if had_blank and self.operator(MODIFIER_TOKENS):
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
        if self.rgx(IDENTIFIER):
            return Value(start, self.last)
        self.fail("expected a list or an identifier")

    def number_value(self) -> Value | FieldValue:
        self.blank()
        start = self.pos
        field = self.transformer_or_val()
        if field is not None:
            return field
        if self.rgx(HEX_NUMBER) or self.rgx(NUMBER):
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
        if self.rgx(IDENTIFIER):
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
            if not self.rgx(FIELD_NAME):
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
