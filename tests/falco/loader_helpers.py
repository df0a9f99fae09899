"""What the loader error and warning tests share: a minimal valid rule, loading dedented snippets as
numbered files, picking the one message with a code, and 1-based positions of text in a snippet.

Test modules import it after putting this folder on `sys.path` (tests are not packages).
"""

from __future__ import annotations

import textwrap

from falcotui.falco.rules.loader import LoadResult, load_rules
from falcotui.falco.rules.results import Message

RULE = """\
- rule: r
  desc: d
  condition: evt.type = execve and proc.name = bash
  output: shell %proc.name
  priority: WARNING
"""


def load(*texts: str, **kwargs) -> tuple[LoadResult, list[str]]:
    """Load dedented snippets as f0.yaml, f1.yaml, ...; also return their texts."""
    bodies = [textwrap.dedent(t).lstrip("\n") for t in texts]
    return load_rules([(f"f{i}.yaml", b) for i, b in enumerate(bodies)], **kwargs), bodies


def one(result: LoadResult, code: str) -> Message:
    found = [m for m in [*result.errors, *result.warnings, *result.lints] if m.code == code]
    assert len(found) == 1, (code, [(m.code, m.text) for m in result.messages])
    return found[0]


def pos(text: str, needle: str, nth: int = 0, shift: int = 0) -> tuple[int, int]:
    """1-based (line, column) of the nth occurrence of `needle` in `text`, plus `shift` characters."""
    index = -1
    for _ in range(nth + 1):
        index = text.index(needle, index + 1)
    index += shift
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def at(msg: Message) -> tuple[int, int]:
    return msg.line, msg.column
