"""Field values that make a rule's condition true, read off its resolved condition tree.

A simulated alert should look like the event that fired it: a rule on `fd.name startswith /etc/kubernetes/`
should name a file there, one on `proc.name in (nc, ncat)` should name netcat. The tree is flattened into
a few alternatives (`or` branches) of positive constraints; negated parts are ignored (they only say what
the event was not).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from falcotui.falco.rules import ast as A

MAX_ALTERNATIVES = 16
_EQ_OPS = frozenset({"=", "==", "in", "intersects", "glob", "iglob"})
_PREFIX_OPS = frozenset({"startswith", "bstartswith", "pmatch"})
_CONTAINS_OPS = frozenset({"contains", "icontains", "bcontains"})
_FILE_NAMES = ("config.yaml", "admin.conf", "state.json", "kubelet.conf", "id_rsa", "notes.txt")


@dataclass(slots=True)
class Constraint:
    equals: list[str] = field(default_factory=list)
    prefix: str | None = None
    suffix: str | None = None
    contains: list[str] = field(default_factory=list)

    def merged(self, other: Constraint) -> Constraint:
        equals = [v for v in self.equals if v in other.equals] or other.equals or self.equals
        return Constraint(
            equals,
            other.prefix or self.prefix,
            other.suffix or self.suffix,
            self.contains + other.contains,
        )


Alternative = dict[str, Constraint]


def alternatives(expr: A.Node) -> list[Alternative]:
    """Sets of positive constraints, any of which satisfies the condition's positive part."""
    if isinstance(expr, A.Or):
        out: list[Alternative] = []
        for child in expr.children:
            out.extend(alternatives(child))
        return out[:MAX_ALTERNATIVES] or [{}]
    if isinstance(expr, A.And):
        combos: list[Alternative] = [{}]
        for child in expr.children:
            combos = [_merge(a, b) for a in combos for b in alternatives(child)][:MAX_ALTERNATIVES]
        return combos
    if isinstance(expr, A.BinaryCheck):
        c = _constraint(expr)
        name = _field_name(expr.field)
        return [{name: c}] if c is not None and name else [{}]
    return [{}]


def _merge(a: Alternative, b: Alternative) -> Alternative:
    out = dict(a)
    for name, c in b.items():
        out[name] = out[name].merged(c) if name in out else c
    return out


def _field_name(f: A.Node) -> str | None:
    if isinstance(f, A.FieldRef):
        return f.name if f.arg is None else f"{f.name}[{f.arg}]"
    return None  # transformed fields (tolower(...)) say too little about the raw value


def _values(value: A.Node) -> list[str]:
    if isinstance(value, A.Value):
        return [value.text]
    if isinstance(value, A.ValueList):
        return [v.text for v in value.items if isinstance(v, A.Value)]
    return []


def _constraint(check: A.BinaryCheck) -> Constraint | None:
    # A modifier (Falco 0.44+, libs 0.25 sinsp_filtercheck compare_rhs_with_mod): `anyof` holds when one
    # value matches, `oneof` when exactly one does, `allof` when every one does. The first value (or, for
    # `= anyof`/`= oneof`, any one) makes `anyof`/`oneof` true; `allof` is only followed with one value.
    op, _, modifier = check.op.partition(" ")
    values = [v.replace("*", "") for v in _values(check.value)] if op in ("glob", "iglob") else None
    values = values if values is not None else _values(check.value)
    if not values or (modifier == "allof" and len(values) != 1):
        return None
    if op in _EQ_OPS:
        return Constraint(equals=values)
    if op in _PREFIX_OPS:
        return Constraint(prefix=values[0])
    if op == "endswith":
        return Constraint(suffix=values[0])
    if op in _CONTAINS_OPS:
        return Constraint(contains=[values[0]])
    return None


def realize(alt: Alternative, rng: random.Random) -> dict[str, object]:
    """Concrete values for one alternative; `proc.cmdline` is rebuilt to agree with the process name."""
    values: dict[str, object] = {}
    for name, c in alt.items():
        if c.equals:
            text: str = rng.choice(c.equals)
        elif c.prefix is not None:
            text = c.prefix
            if name in ("fd.name", "fd.directory", "proc.exepath", "proc.exe", "proc.cwd"):
                text = text if text.endswith("/") else text + "/"
                text += rng.choice(_FILE_NAMES) if name == "fd.name" else ""
        elif c.suffix is not None:
            text = f"x{c.suffix}"
        elif c.contains and name not in ("proc.cmdline", "proc.args"):
            text = c.contains[0]
        else:
            continue
        values[name] = text
    args = " ".join(
        x.strip() for n in ("proc.cmdline", "proc.args") for x in alt.get(n, Constraint()).contains
    )
    if "proc.name" in values or args:
        proc = str(values.get("proc.name", ""))
        target = str(values.get("fd.name", "")) if "fd.name" in values else ""
        values["proc.cmdline"] = " ".join(p for p in (proc or "sh", args, target) if p)
        values["proc.args"] = " ".join(p for p in (args, target) if p)
        if proc:
            values.setdefault("proc.exepath", f"/usr/bin/{proc}")
            values.setdefault("proc.exe", f"/usr/bin/{proc}")
    return values
