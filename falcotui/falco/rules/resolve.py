"""Lists and macros the way Falco resolves them: lists as text, macros on the parsed tree.

- Lists: nested list items are expanded with visibility (a list sees lists defined before its last
  definition), then every list name found between delimiters in a condition's text is replaced by its
  items (items containing a space are double-quoted), exactly like Falco's `resolve_list`.
- Macros: references are replaced by the referenced macro's tree; a macro sees macros defined before it,
  rules see all; unknown names and reference loops are reported in Falco's words.

Condition text is "composed" (appended parts, exception clauses, list substitutions), so every composed
character keeps a virtual origin from which its position in the rules file is recovered on demand.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

from falcotui.falco.rules import ast as A
from falcotui.falco.rules.collector import ListInfo, MacroInfo, Part
from falcotui.falco.rules.results import TextIndex
from falcotui.falco.rules.source import scalar_index_map

_SHIFT = 1 << 32
_BLANKS = " \t\n\r"
_DELIMS = _BLANKS + "(),="


@dataclass(slots=True)
class Origin:
    """Where composed characters come from: a YAML scalar (offset-mapped) or a fixed file index."""

    file: str
    part: Part | None = None
    index: int = 0
    _map: list[int] | None = None

    def file_index(self, offset: int, texts: Mapping[str, TextIndex]) -> int:
        if self.part is None or self.part.node is None:
            return self.index
        if self._map is None:
            text = texts[self.file].text if self.file in texts else ""
            self._map = scalar_index_map(text, self.part.node)
        m = self._map
        return m[max(0, min(offset, len(m) - 1))]


@dataclass(slots=True)
class Composed:
    """Condition text plus, for each character (and one past the end), its virtual origin."""

    text: str
    virt: list[int]
    origins: list[Origin]

    def locate(self, offset: int, texts: Mapping[str, TextIndex]) -> tuple[str, int]:
        """The (file, character index) of composed `offset`."""
        if not self.virt:
            o = self.origins[0] if self.origins else Origin("")
            return o.file, o.index
        v = self.virt[max(0, min(offset, len(self.virt) - 1))]
        origin = self.origins[v // _SHIFT]
        return origin.file, origin.file_index(v % _SHIFT, texts)


def compose(parts: Iterable[Part], origins: list[Origin] | None = None) -> Composed:
    """Parts joined with a space, as Falco concatenates appended conditions."""
    origins = origins if origins is not None else []
    texts: list[str] = []
    virt: list[int] = []
    for part in parts:
        oid = len(origins)
        origins.append(Origin(part.file, part, part.ctx[-1].index))
        base = oid * _SHIFT
        if texts:
            texts.append(" ")
            virt.append(base)
        texts.append(part.text)
        virt.extend(range(base, base + len(part.text)))
    end = (virt[-1] + 1) if virt else 0
    virt.append(end)
    return Composed("".join(texts), virt, origins)


def append_fixed(c: Composed, text: str, file: str, index: int) -> Composed:
    """`c` followed by synthetic `text` that maps to one fixed file position."""
    oid = len(c.origins)
    c.origins.append(Origin(file, None, index))
    virt = c.virt[:-1] + [oid * _SHIFT] * len(text) + [oid * _SHIFT]
    return Composed(c.text + text, virt, c.origins)


def wrap(c: Composed, before: str, after: str) -> Composed:
    head = c.virt[0] if c.virt else 0
    tail = c.virt[-1]
    return Composed(
        before + c.text + after, [head] * len(before) + c.virt[:-1] + [tail] * (len(after) + 1), c.origins
    )


def quote_item(item: str) -> str:
    if " " in item and item[:1] not in ('"', "'"):
        return f'"{item}"'
    return item


def expand_lists(lists: Mapping[str, ListInfo]) -> tuple[dict[str, list[str]], set[str]]:
    """Each list's items with visible nested lists expanded, and the names used by another list."""
    out: dict[str, list[str]] = {}
    used: set[str] = set()
    for info in sorted(lists.values(), key=lambda li: li.index):
        items: list[str] = []
        for item in info.items:
            ref = lists.get(item)
            if ref is not None and ref.index < info.visibility:
                used.add(ref.name)
                items.extend(ref.items)
            else:
                items.append(item)
        out[info.name] = items
    return out, used


def substitute_lists(c: Composed, lists: Iterable[tuple[str, list[str]]], used: set[str]) -> Composed:
    """Falco's resolve_list for every list, in definition order."""
    text, virt = c.text, c.virt
    for name, items in lists:
        if name not in text:
            continue
        start = text.find(name)
        while start != -1:
            end = start + len(name)
            if (start == 0 or text[start - 1] in _DELIMS) and (end >= len(text) or text[end] in _DELIMS):
                anchor = virt[start]
                while start > 0 and text[start - 1] in _BLANKS:
                    start -= 1
                while end < len(text) and text[end] in _BLANKS:
                    end += 1
                sub = ", ".join(quote_item(v) for v in items)
                if not sub:
                    if start > 0 and text[start - 1] == ",":
                        start -= 1
                    elif end < len(text) and text[end] == ",":
                        end += 1
                prefix = text[:start] + " " if start > 0 else ""
                new_text = prefix + sub + " "
                text = new_text + text[end:]
                pre_virt = [*virt[:start], anchor] if start > 0 else []
                virt = pre_virt + [anchor] * (len(sub) + 1) + virt[end:]
                start = len(new_text) - 1
                used.add(name)
            start = text.find(name, start + 1)
    if text is c.text:
        return c
    return Composed(text, virt, c.origins)


# -- macros ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Condition:
    """A macro's or rule's condition: composed text and its parse (tree or syntax error)."""

    composed: Composed
    tree: A.Expr | None
    syntax_error: tuple[str, int] | None = None


@dataclass(slots=True)
class Problem:
    """Something found while expanding: where (condition + offset) and what."""

    kind: str  # "loop" | "undefined" | "field" | "deprecated" | "field-warning"
    message: str
    where: Condition
    offset: int


@dataclass(slots=True)
class Expansion:
    tree: A.Expr | None
    problems: list[Problem] = field(default_factory=list)
    used_macros: set[str] = field(default_factory=set)
    broken_dependency: bool = False


CheckVisitor = Callable[[A.UnaryCheck | A.BinaryCheck, Condition, list[Problem]], None]


def field_refs(node: A.Node) -> list[A.FieldRef]:
    """The fields a field expression reads, left to right (through transformers and `val()`)."""
    if isinstance(node, A.FieldRef):
        return [node]
    if isinstance(node, A.Transformer):
        return field_refs(node.operand)
    if isinstance(node, A.TransformerCall):
        return [ref for arg in node.args for ref in field_refs(arg)]
    if isinstance(node, A.FieldValue):
        return field_refs(node.field)
    if isinstance(node, A.ArgList):
        return [ref for item in node.items for ref in field_refs(item)]
    return []


class MacroResolver:
    """Expands macro references in a tree, recording problems with their true origin."""

    def __init__(self, macros: Mapping[str, MacroInfo], conditions: Mapping[str, Condition]) -> None:
        self.macros = macros
        self.conditions = conditions

    def expand(
        self,
        cond: Condition,
        visibility: int | None,
        check_field: CheckVisitor | None = None,
        path: tuple[str, ...] = (),
    ) -> Expansion:
        out = Expansion(None)
        if cond.tree is None:
            return out
        out.tree = self._expr(cond.tree, cond, visibility, check_field, path, out)
        return out

    def _expr(
        self,
        node: A.Node,
        cond: Condition,
        vis: int | None,
        check: CheckVisitor | None,
        path: tuple[str, ...],
        out: Expansion,
    ) -> A.Node:
        if isinstance(node, A.And | A.Or):
            kids = tuple(self._expr(k, cond, vis, check, path, out) for k in node.children)
            return replace(node, children=kids)
        if isinstance(node, A.Not):
            return replace(node, child=self._expr(node.child, cond, vis, check, path, out))
        if isinstance(node, A.Identifier):
            return self._macro(node, cond, vis, check, path, out)
        if check is not None and isinstance(node, A.UnaryCheck | A.BinaryCheck):
            check(node, cond, out.problems)
        return node

    def _macro(
        self,
        node: A.Identifier,
        cond: Condition,
        vis: int | None,
        check: CheckVisitor | None,
        path: tuple[str, ...],
        out: Expansion,
    ) -> A.Node:
        name = node.name
        info = self.macros.get(name)
        if info is None or (vis is not None and info.index >= vis):
            out.problems.append(
                Problem("undefined", f"Undefined macro '{name}' used in filter.", cond, node.offset)
            )
            return node
        if name in path:
            out.problems.append(Problem("loop", f"reference loop in macro '{name}'", cond, node.offset))
            return node
        body = self.conditions.get(name)
        if body is None or body.tree is None:
            out.broken_dependency = True
            return node
        out.used_macros.add(name)
        return self._expr(body.tree, body, vis, check, (*path, name), out)
