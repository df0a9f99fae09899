"""Property: whatever text arrives (the UI validates as the operator types), loading returns results."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from falcotui.falco.rules.loader import LoadResult, load_rules
from falcotui.falco.rules.results import ERROR_CODES, WARNING_CODES

KEYS = [
    "rule",
    "macro",
    "list",
    "condition",
    "items",
    "output",
    "desc",
    "priority",
    "source",
    "enabled",
    "append",
    "override",
    "exceptions",
    "name",
    "fields",
    "comps",
    "values",
    "tags",
    "required_engine_version",
    "required_plugin_versions",
    "version",
    "skip-if-unknown-filter",
    "warn_evttypes",
]
SCALARS = [
    "x",
    "evt.type = execve",
    "proc.name in (x, y) and not a",
    "a and b or c",
    "(",
    "%proc.name",
    "%",
    "append",
    "replace",
    "true",
    "no",
    "0.57.0",
    "12",
    "INFO",
    "'q'",
    '"d\\"q"',
    "[a, b]",
    "[]",
    "{}",
    "<NA>",
    "fd.name pmatch (x)",
    "=",
    "in",
]


@st.composite
def yamlish(draw) -> str:
    lines = []
    for _ in range(draw(st.integers(0, 14))):
        indent = " " * draw(st.sampled_from([0, 0, 2, 2, 4, 6, 1]))
        dash = draw(st.sampled_from(["- ", "", "", "  - "]))
        key = draw(st.sampled_from([*KEYS, draw(st.text(max_size=6))]))
        sep = draw(st.sampled_from([": ", ":", ": >-\n" + indent + "    ", ": |\n" + indent + "  ", " "]))
        value = draw(st.sampled_from([*SCALARS, draw(st.text(max_size=12))]))
        lines.append(f"{indent}{dash}{key}{sep}{value}")
    return "\n".join(lines) + draw(st.sampled_from(["", "\n", "\n---\n- rule: r\n"]))


def check(result: LoadResult) -> None:
    assert isinstance(result, LoadResult)
    for msg in result.messages:
        assert msg.line >= 1 and msg.column >= 1
        assert msg.code in ERROR_CODES or msg.code in WARNING_CODES or msg.code.startswith("FALCOTUI_")
    json.dumps(result.to_falco_json())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(yamlish(), yamlish())
def test_yamlish_text_never_raises(first: str, second: str) -> None:
    check(load_rules([("a.yaml", first), ("b.yaml", second)]))


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_any_text_never_raises(text: str) -> None:
    check(load_rules([("a.yaml", text)]))
