"""Lexing Falco rule conditions as libsinsp's `filter/parser.cpp` does: the token tables (operators,
transformers, the bare-string and field patterns), string unescaping, the syntax error with its offset, and
the cursor (`Lexer`) the grammar in `condition` reads tokens with. `condition_print` writes text these
read back unchanged.
"""

from __future__ import annotations

import re
from typing import NoReturn

from falcotui.falco.rules.dialect import DEFAULT_DIALECT, MODIFIERS, Dialect

UNARY_OPERATORS = ("exists",)
NUMERIC_OPERATORS = ("<=", "<", ">=", ">")
# A trailing space marks an operator that must be followed by a blank, as in libsinsp.
_WORD_OPERATORS = "glob iglob contains icontains bcontains startswith bstartswith endswith regex"
STRING_OPERATOR_TOKENS = ("==", "=", "!=", *(f"{op} " for op in _WORD_OPERATORS.split()))
STRING_OPERATORS = tuple(op.strip() for op in STRING_OPERATOR_TOKENS)
LIST_OPERATORS = ("intersects", "in", "pmatch")
OPERATORS = UNARY_OPERATORS + NUMERIC_OPERATORS + STRING_OPERATORS + LIST_OPERATORS
TRANSFORMERS = DEFAULT_DIALECT.transformers
"""The transformers of the default target (libs 0.25 `s_field_transformers`); see `Dialect.transformers`."""
# libs 0.25 `s_str_modifier_ops`: each wants a blank after it, like the word operators.
MODIFIER_TOKENS = tuple(f"{m} " for m in MODIFIERS)
_BOOL_KEYWORD = re.compile(r"(?:and|or|not)(?![A-Za-z0-9])")
_SPACE = " \t\n\v\f\r"
# Blanks and the two bare tokens; the printer (`condition_print`) writes a token bare only when these read
# it back unchanged.
BLANKS = " \t\b\r\n"
FIELD_ARG_BARE = re.compile(f"[^\\]\\[\"'{_SPACE}]+")
BARE_STRING = re.compile(f"[^()\"'{_SPACE}=,]+")
NOT_BLANK = re.compile(f"not[{_SPACE}]+")
IDENTIFIER = re.compile(r"[a-zA-Z][a-zA-Z0-9_]*")
FIELD_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9_]*(?:\.[a-zA-Z][a-zA-Z0-9_]*)+")
HEX_NUMBER = re.compile(r"0[xX][0-9a-fA-F]+")
NUMBER = re.compile(r"[+\-]?[0-9]+\.?[0-9]*(?:[eE][+\-][0-9]+)?")

OPERATOR_CHOICES = ", ".join(f"'{op}'" for op in OPERATORS)
_UNESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", " ": "\\", "\\": "\\", "/": "/"}


class ConditionSyntaxError(ValueError):
    """A condition Falco's parser rejects: its message and the 0-based offset where parsing stopped."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message, offset)
        self.message = message
        self.offset = offset

    def __str__(self) -> str:
        return f"{self.message} (at offset {self.offset})"


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


class Lexer:
    """A cursor over the text: the lexing functions of libsinsp's parser (`filter/parser.cpp`), each
    consuming a token at `pos` and keeping its text in `last`; the grammar (`condition._Parser`) reads
    through them."""

    __slots__ = ("calls", "dialect", "last", "pos", "text")

    def __init__(self, text: str, dialect: Dialect = DEFAULT_DIALECT) -> None:
        self.text = text
        self.pos = 0
        self.last = ""
        self.dialect = dialect
        self.calls = tuple((name, name + "(") for name in dialect.transformers)

    def fail(self, message: str) -> NoReturn:
        raise ConditionSyntaxError(message, self.pos)

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
        return self.text.startswith("(", self.pos) or IDENTIFIER.match(self.text, self.pos) is not None

    def bool_keyword_follows(self) -> bool:
        """libs 0.25 bool_keyword_follows: `and`/`or`/`not` not followed by an ASCII letter or digit."""
        return _BOOL_KEYWORD.match(self.text, self.pos) is not None

    def transformer(self) -> str | None:
        for name, call in self.calls:
            if self.lit(call):
                return name
        return None
