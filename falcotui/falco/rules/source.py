"""YAML source with positions: compose documents keeping node marks, and map scalar offsets to the file.

Falco reads rules with yaml-cpp; here the documents are composed (not constructed) with PyYAML's safe
composer so every item, key and value keeps its character index. Scalars are decoded the way yaml-cpp's
`convert<>` would: strings are the scalar text as written, booleans accept yaml-cpp's spellings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

try:
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # PyYAML built without libyaml
    _Loader = yaml.SafeLoader

_TRUE = frozenset({"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"})
_FALSE = frozenset({"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"})
_UINT = re.compile(r"\+?[0-9]+\Z")


@dataclass(frozen=True, slots=True)
class YamlProblem:
    message: str
    index: int


def compose_documents(text: str) -> list[Node | None] | YamlProblem:
    """All documents of `text` (None for empty ones), or the first YAML syntax problem."""
    try:
        return list(yaml.compose_all(text, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if mark is None:
            return YamlProblem(f"yaml: {problem}", 0)
        return YamlProblem(
            f"yaml: error at line {mark.line + 1}, column {mark.column + 1}: {problem}", mark.index
        )
    except yaml.reader.ReaderError as exc:
        # libyaml reports the reader's position as a byte offset into the UTF-8 text, PyYAML's pure
        # reader as a character index: both become the character index, so the message has a real line
        index = exc.position
        if _Loader is not yaml.SafeLoader:
            index = len(text.encode("utf-8", "surrogatepass")[: exc.position].decode("utf-8", "ignore"))
        return _problem_at(text, index, f"{exc.reason} (character {_char_name(exc.character)})")
    except UnicodeEncodeError as exc:  # a lone surrogate in the text: libyaml wants UTF-8
        return _problem_at(text, exc.start, f"character {_char_name(text[exc.start])} is not Unicode text")
    except yaml.YAMLError as exc:
        return YamlProblem(f"yaml: {exc}", 0)
    except (ValueError, RecursionError) as exc:  # absurd nesting
        return YamlProblem(f"yaml: {exc}", 0)


def _char_name(character: int | str) -> str:
    code = ord(character) if isinstance(character, str) else character
    return f"U+{code:04X}"


def _problem_at(text: str, index: int, problem: str) -> YamlProblem:
    index = max(0, min(index, len(text)))
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return YamlProblem(f"yaml: error at line {line}, column {column}: {problem}", index)


def is_null(node: Node | None) -> bool:
    if node is None:
        return True
    if isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null":
        return True
    return False


def is_scalar(node: Node | None) -> bool:
    return isinstance(node, ScalarNode) and not is_null(node)


def is_seq(node: Node | None) -> bool:
    return isinstance(node, SequenceNode)


def is_map(node: Node | None) -> bool:
    return isinstance(node, MappingNode)


def get(node: MappingNode, key: str) -> Node | None:
    """The value of the first `key` (yaml-cpp's `item[key]`), None if absent."""
    for k, v in node.value:
        if isinstance(k, ScalarNode) and k.value == key:
            return v
    return None


def get_key_node(node: MappingNode, key: str) -> Node | None:
    for k, _v in node.value:
        if isinstance(k, ScalarNode) and k.value == key:
            return k
    return None


def decode_bool(node: ScalarNode) -> bool | None:
    if node.value in _TRUE:
        return True
    if node.value in _FALSE:
        return False
    return None


def decode_uint(node: ScalarNode) -> int | None:
    text = node.value.strip()
    if _UINT.match(text):
        value = int(text)
        if value < 2**32:
            return value
    return None


def start(node: Node | None) -> int:
    return node.start_mark.index if node is not None else 0


def scalar_index_map(text: str, node: ScalarNode) -> list[int]:
    """For each character of the scalar's value, its index in `text`; one extra entry for the end.

    Handles plain, single/double-quoted, literal `|` and folded `>` scalars by aligning the decoded value
    with the source: indentation, folded line breaks, quote doubling and backslash escapes are skipped
    over, so positions are exact for ordinary content and close for exotic escapes.
    """
    value = node.value
    i = node.start_mark.index
    end = min(node.end_mark.index, len(text))
    style = node.style or ""
    if style in ("'", '"'):
        i += 1
    elif style in ("|", ">"):
        nl = text.find("\n", i, end)
        i = nl + 1 if nl != -1 else end
    out: list[int] = []
    for ch in value:
        while i < end:
            s = text[i]
            if style == '"' and s == "\\" and i + 1 < end:
                nxt = text[i + 1]
                if nxt in "\r\n":  # escaped line break: no character in the value
                    i += 2
                    continue
                out.append(i)
                i += {"x": 4, "u": 6, "U": 10}.get(nxt, 2)
                break
            if style == "'" and s == "'" and ch == "'":
                out.append(i)
                i += 2
                break
            if s == ch or (ch == " " and s == "\n"):
                out.append(i)
                i += 1
                break
            i += 1
        else:
            out.append(end)
    out.append(out[-1] + 1 if out else i)
    return out
