"""The syntax tree of a Falco rule condition, as Falco's own filter parser builds it.

Positions are 0-based offsets into the condition text the parser was given; the loader maps them to
file line/column. `And`/`Or` keep `parenthesized=True` when they came from an explicit `( ... )` group,
so lints can tell `A and B or C` from `(A and B) or C`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Node:
    offset: int


@dataclass(frozen=True, slots=True)
class And(Node):
    children: tuple[Node, ...]
    parenthesized: bool = False


@dataclass(frozen=True, slots=True)
class Or(Node):
    children: tuple[Node, ...]
    parenthesized: bool = False


@dataclass(frozen=True, slots=True)
class Not(Node):
    child: Node


@dataclass(frozen=True, slots=True)
class Identifier(Node):
    """A bare name in boolean position: a macro reference."""

    name: str


@dataclass(frozen=True, slots=True)
class FieldRef(Node):
    """`proc.aname[2]`, `container.mount.dest[/proc*]`: a field with an optional `[argument]`."""

    name: str
    arg: str | None = None


@dataclass(frozen=True, slots=True)
class Transformer(Node):
    """`tolower(proc.name)`, `b64(...)`, `basename(...)`, ... wrapping a field expression; libs 0.25 also
    reads an `[arg]` after the `)` (`tolower(proc.aname)[1]`)."""

    name: str
    operand: FieldRef | Transformer
    arg: str | None = None


FieldExpr = FieldRef | Transformer


@dataclass(frozen=True, slots=True)
class Value(Node):
    text: str
    quoted: bool = False


@dataclass(frozen=True, slots=True)
class ValueList(Node):
    """`(a, "b", some_list)`; items that name a list are expanded by the loader."""

    items: tuple[Value, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class FieldValue(Node):
    """`val(proc.pname)`: compare against another field's value (`val(proc.aname)[1]` in libs 0.25)."""

    field: FieldExpr
    arg: str | None = None


@dataclass(frozen=True, slots=True)
class UnaryCheck(Node):
    """`fd.name exists`."""

    field: FieldExpr
    op: str


@dataclass(frozen=True, slots=True)
class BinaryCheck(Node):
    """`proc.name = bash`, `fd.name in (a, b)`, `proc.name = val(proc.pname)`. With a modifier (libs 0.25)
    `op` holds both words as libs does, `startswith oneof`, and `value` is a `ValueList` or, for a list
    name, a `Value`."""

    field: FieldExpr
    op: str
    value: Value | ValueList | FieldValue

    @property
    def base_op(self) -> str:
        """The operator without its modifier: `startswith` for `startswith oneof`."""
        return self.op.split(" ", 1)[0]

    @property
    def modifier(self) -> str | None:
        """`oneof`, `anyof`, `allof` or None."""
        parts = self.op.split(" ", 1)
        return parts[1] if len(parts) == 2 else None


Expr = And | Or | Not | Identifier | UnaryCheck | BinaryCheck


# Added by the condition parser for libsinsp's multi-argument transformers (`join`, `concat`).


@dataclass(frozen=True, slots=True)
class ArgList(Node):
    """`(proc.name, "-", 1)`: a list argument of a transformer call (fields, transformers, values)."""

    items: tuple[Node, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class TransformerCall(Node):
    """`join(proc.env, ";")`, `concat(fd.rip, ":", fd.rport)`: a transformer whose arguments are not one
    single field; it stands where a `FieldExpr` does. One-field calls stay `Transformer`s."""

    name: str
    args: tuple[Node, ...]
    arg: str | None = None
