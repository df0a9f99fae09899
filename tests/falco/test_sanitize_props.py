"""Property tests: sanitized text never carries a control character, and escaping never changes meaning."""

from __future__ import annotations

import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.text import Text
from textual.content import Content

from falcotui.falco.sanitize import escape_markup, escape_rich_markup, json_bytes, sanitize, terminal_text

FORBIDDEN = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff\U000e0000-\U000e007f]"
)

# Pieces that matter to terminals and markup parsers, mixed with arbitrary text.
PIECES = [
    "\x1b", "\x1b[", "\x1b]", "\x1bP", "\x1b\\", "\x07", "\x9b", "\x9c", "\x9d", "\x90",
    "\n", "\r", "\t", "\x08", "[", "]", "/", "\\", "@", "=", "#", ":", "$", "bold", "red", "link",
    "click", "[/]", "[b]", "\\[", "[@click=x]", ":smile:", "\u202e", "\u200d", "\udc80", "2J", "8;;",
    ";", "m", "a", " ",
]  # fmt: skip
hostile_text = st.lists(st.sampled_from(PIECES) | st.text(max_size=3), max_size=25).map("".join) | st.text()


@settings(max_examples=250, deadline=None)
@given(hostile_text, st.integers(min_value=1, max_value=64))
def test_sanitized_text_has_no_controls_and_respects_the_cap(text, max_len):
    for multiline in (False, True):
        clean = sanitize(text, max_len=max_len, multiline=multiline)
        allowed = clean.replace("\n", "") if multiline else clean
        assert not FORBIDDEN.search(allowed)
        assert len(clean) <= max_len
    assert sanitize(sanitize(text)) == sanitize(text)  # idempotent


@settings(max_examples=250, deadline=None)
@given(hostile_text)
def test_escaped_markup_renders_exactly_the_sanitized_text(text):
    clean = sanitize(text)
    assert Content.from_markup(escape_markup(text)).plain == clean
    rich = Text.from_markup(escape_rich_markup(text), emoji=False)
    assert rich.plain == clean
    assert rich.spans == []


@settings(max_examples=250, deadline=None)
@given(hostile_text)
def test_terminal_text_keeps_everything_printable_and_nothing_else(text):
    out = terminal_text(text)
    assert not FORBIDDEN.search(out.replace("\n", "").replace("\t", ""))
    assert terminal_text(out) == out
    if text.isprintable():
        assert out == text  # ordinary text passes unchanged, however long


@settings(max_examples=250, deadline=None)
@given(hostile_text, hostile_text, st.booleans())
def test_json_is_faithful_and_escapes_what_a_terminal_would_act_on(key, value, indent):
    obj = {key: [value, {"n": 1}]}
    data = json_bytes(obj, indent=indent)
    text = data.decode("utf-8")  # strict: no lone surrogate made it out raw
    assert not FORBIDDEN.search(text.replace("\n", ""))
    assert json.loads(data) == obj  # every character comes back, nothing dropped or replaced
