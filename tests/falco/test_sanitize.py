"""The display sanitizer against hostile alert text, checked on what Rich and Textual actually render."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console
from rich.text import Text
from textual.content import Content

from falcotui.falco.sanitize import (
    CR_MARK,
    ELLIPSIS,
    NEWLINE_MARK,
    escape_markup,
    escape_rich_markup,
    safe_text,
    sanitize,
)

CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
RICH_SGR = re.compile(r"\x1b\[[0-9;]*m")

# (hostile input, what the operator must see)
HOSTILE = [
    ("\x1b[2Jcleared", "cleared"),
    ("\x1b]52;c;ZWNobyBwd25lZA==\x07copied", "copied"),  # OSC 52 clipboard write, BEL-terminated
    ("\x1b]52;c;ZWNobyBwd25lZA==\x1b\\copied", "copied"),  # ... ST-terminated
    ("\x1b]8;;https://evil.example/\x1b\\click me\x1b]8;;\x1b\\", "click me"),  # OSC 8 hyperlink
    ("\x9b31mred\x9b0m", "red"),  # C1 CSI
    ("\x9d0;title\x9cafter", "after"),  # C1 OSC ... C1 ST
    ("\x1bP1;2|data\x1b\\dcs", "dcs"),  # DCS
    ("\x1bcreset", "reset"),  # RIS: full terminal reset
    ("\x1b(Bcharset", "charset"),  # nF designate
    ("bell\x07", "bell"),
    ("ls\x08\x08\x08rm -rf /", "lsrm -rf /"),  # backspaces cannot overwrite what is shown
    ("safe\rrm -rf /", f"safe{CR_MARK}rm -rf /"),  # a carriage return is shown, not obeyed
    ("line1\nline2\r\nline3", f"line1{NEWLINE_MARK}line2{CR_MARK}{NEWLINE_MARK}line3"),
    ("a\tb", "a b"),
    ("file\u202egnp.exe", "filegnp.exe"),  # RIGHT-TO-LEFT OVERRIDE
    ("\u2066iso\u2069late\u2067d\u2068", "isolated"),
    ("zero\u200bwidth\u200d\u200cjoin\ufeff", "zerowidthjoin"),
    ("tag\U000e0041\U000e0042chars", "tagchars"),  # invisible Unicode tag characters
    ("\x1b]0;unterminated title", "0;unterminated title"),  # cannot hide the rest of the text
    ("trailing\x1b", "trailing"),
    ("nul\x00byte\x7fdel", "nulbytedel"),
    ("lone\udc80surrogate", "lone\ufffdsurrogate"),
    ("[bold red]x[/]", "[bold red]x[/]"),
    ("[@click=app.quit]press[/]", "[@click=app.quit]press[/]"),
    ("[link=https://evil.example]docs[/link]", "[link=https://evil.example]docs[/link]"),
    ("plain text, nothing odd: ünïcødé ✓ 日本", "plain text, nothing odd: ünïcødé ✓ 日本"),
]


def render(renderable) -> tuple[str, str]:
    """(raw terminal output, exported text) of printing to a true-color terminal."""
    out = io.StringIO()
    console = Console(file=out, record=True, width=300, force_terminal=True, color_system="truecolor")
    console.print(renderable)
    return out.getvalue(), console.export_text()


@pytest.mark.parametrize(("hostile", "shown"), HOSTILE)
def test_sanitize_shows_the_literal_text_and_nothing_a_terminal_obeys(hostile, shown):
    assert sanitize(hostile) == shown
    assert not CONTROL.search(sanitize(hostile))


@pytest.mark.parametrize(("hostile", "shown"), HOSTILE)
def test_rendered_through_rich_and_textual_the_operator_sees_the_literal_text(hostile, shown):
    raw, exported = render(safe_text(hostile, style="bold"))
    assert exported == shown + "\n"
    assert not CONTROL.search(RICH_SGR.sub("", raw).rstrip("\n"))  # only Rich's own colours remain
    assert "evil.example" not in raw or "evil.example" in shown
    raw_markup, exported_markup = render(Text.from_markup(escape_rich_markup(hostile)))
    assert exported_markup == shown + "\n"
    assert not CONTROL.search(RICH_SGR.sub("", raw_markup).rstrip("\n"))
    assert Content.from_markup(escape_markup(hostile)).plain == shown


def test_markup_in_alerts_gets_no_style_link_or_action():
    hostile = "[bold red]x[/] [@click=app.quit]quit[/] [link=https://evil.example]docs[/link]"
    text = Text.from_markup(escape_rich_markup(hostile))
    assert text.spans == []
    content = Content.from_markup(escape_markup(hostile))
    assert content.plain == hostile and list(content.spans) == []
    raw, _ = render(safe_text(hostile))
    assert "\x1b]8;" not in raw  # no hyperlink emitted


def test_multiline_keeps_line_breaks_for_detail_views():
    text = "Invalid\r\n1 Errors:\n\tIn rules content\x1b[31m"
    assert sanitize(text, multiline=True) == "Invalid\n1 Errors:\n    In rules content"


@pytest.mark.parametrize("max_len", [1, 2, 10, 100])
def test_absurd_lengths_are_capped_with_an_ellipsis(max_len):
    assert sanitize("x" * 5, max_len=100) == "xxxxx"
    capped = sanitize("y" * 10_000_000, max_len=max_len)
    assert len(capped) == max_len and capped.endswith(ELLIPSIS)
    assert capped[:-1] == "y" * (max_len - 1)
    assert sanitize("z" * max_len, max_len=max_len) == "z" * max_len


def test_default_cap_and_escape_sequences_do_not_count_towards_it():
    assert len(sanitize("a" * 100_000)) == 8192
    assert sanitize("\x1b[31m" * 3 + "abc", max_len=3) == "abc"


def test_clean_text_is_returned_unchanged_and_non_strings_are_converted():
    s = "evt.type=openat fd.name=/etc/shadow"
    assert sanitize(s) is s
    assert sanitize(34816) == "34816" and sanitize(None) == "None"
