"""The one policy for text from the cluster (alerts, pod logs, API error messages) on its way out.

Screens and CLI text: `sanitize` removes what a terminal would act on — escape sequences, C0/C1 controls,
bidi overrides, zero-width characters, lone surrogates — shows line breaks as visible marks, and caps the
length. `safe_text` wraps the result in a Rich `Text` (never parsed as markup); `escape_markup` and
`escape_rich_markup` return strings that Textual's and Rich's markup parsers render literally.

JSON (`--json`, JSON lines export): `json_bytes`/`json_text` stay faithful — nothing is dropped or
replaced — but every character `sanitize` would remove is written as a `\\uXXXX` escape (JSON only
escapes C0 controls itself), so the file is plain ASCII-safe for a terminal and decodes to the original.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from rich.text import Text

#: Characters kept by default; an alert's output is rarely longer than 2-3 thousand.
DEFAULT_MAX_LEN = 8192

ELLIPSIS = "…"
NEWLINE_MARK = "⏎"
CR_MARK = "␍"

# ESC/C1-introduced control strings (OSC, DCS, SOS, PM, APC) are dropped up to their terminator (BEL or
# ST). An unterminated one loses only its introducer, so it cannot hide the rest of the text. Every branch
# starts with a literal character, which lets the regex engine skip quickly to candidate positions.
_STRING_BODY = r"[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)"
_C1_STRINGS = "".join(f"|{c}{_STRING_BODY}" for c in (r"\x90", r"\x98", r"\x9d", r"\x9e", r"\x9f"))
_SEQUENCES = re.compile(
    rf"\x1b(?:[\]PX^_]{_STRING_BODY}|\[[0-?]*[ -/]*[@-~]|[ -/]+[0-~]|[0-~])"  # ESC-introduced
    r"|\x9b[0-?]*[ -/]*[@-~]"  # C1 CSI
    f"{_C1_STRINGS}"  # C1 DCS, SOS, OSC, PM, APC
)

# What remains to handle once sequences are gone, in runs.
_UNSAFE_RUN = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff"
    "\U000e0000-\U000e007f]+"
)

_TABLE: dict[int, str | None] = {c: None for c in range(0x20)}
_TABLE.update({c: None for c in range(0x7F, 0xA0)})
_TABLE.update({c: None for c in (0x061C, 0xFEFF, 0xFFF9, 0xFFFA, 0xFFFB)})
_TABLE.update({c: None for c in range(0x200B, 0x2010)})  # zero-width space/non-joiner/joiner, LRM, RLM
_TABLE.update({c: None for c in range(0x202A, 0x202F)})  # bidi embeddings and overrides
_TABLE.update({c: None for c in range(0x2060, 0x2070)})  # word joiner, invisible operators, bidi isolates
_TABLE.update({c: None for c in range(0xE0000, 0xE0080)})  # tag characters: invisible text
_TABLE.update({c: "\ufffd" for c in range(0xD800, 0xE000)})  # lone surrogates cannot be encoded
_TABLE.update({0x0A: NEWLINE_MARK, 0x0D: CR_MARK, 0x09: " ", 0x2028: NEWLINE_MARK, 0x2029: NEWLINE_MARK})

_MULTILINE_TABLE = dict(_TABLE)
_MULTILINE_TABLE.update({0x0A: "\n", 0x09: "    "})


_STREAM_TABLE = dict(_MULTILINE_TABLE)
_STREAM_TABLE.update({0x09: "\t"})


def _fix_run(m: re.Match[str]) -> str:
    return m[0].translate(_TABLE)


def _fix_run_multiline(m: re.Match[str]) -> str:
    return m[0].translate(_MULTILINE_TABLE)


def sanitize(text: str, *, max_len: int = DEFAULT_MAX_LEN, multiline: bool = False) -> str:
    """`text` as it may be shown: nothing a terminal interprets, line breaks visible, at most `max_len` chars.

    Newlines become "⏎" (kept as newlines with `multiline`, CRLF folded to one), carriage returns "␍",
    tabs spaces. Longer results are cut and end with "…". Non-str input is converted with `str()`.
    """
    if not isinstance(text, str):
        text = str(text)
    # isprintable() is False for every character handled below (Cc, Cf, Cs, Zl, Zp) and costs little
    if text.isprintable():
        if len(text) <= max_len:
            return text
    else:
        if len(text) > 4 * max_len + 64:
            text = text[: 4 * max_len + 64]  # bound the work; what is cut would not be shown anyway
        text = _SEQUENCES.sub("", text)
        if multiline:
            text = _UNSAFE_RUN.sub(_fix_run_multiline, text.replace("\r\n", "\n"))
        else:
            text = _UNSAFE_RUN.sub(_fix_run, text)
    if len(text) > max_len:
        text = text[: max(max_len - 1, 0)] + ELLIPSIS if max_len > 0 else ""
    return text


def _fix_run_stream(m: re.Match[str]) -> str:
    return m[0].translate(_STREAM_TABLE)


def terminal_text(text: str) -> str:
    """`text` for a terminal stream: what `sanitize(multiline=True)` removes is removed, but nothing is
    cut and tabs stay. The CLI writes everything through this (`cli.common.SafeStream`)."""
    if text.isprintable():
        return text
    return _UNSAFE_RUN.sub(_fix_run_stream, _SEQUENCES.sub("", text.replace("\r\n", "\n")))


def safe_text(text: str, style: str = "", *, max_len: int = DEFAULT_MAX_LEN) -> Text:
    """A Rich Text of the sanitized string (Text content is never parsed as markup)."""
    from rich.text import Text  # here, not at import: the CLI's plain-text commands never build one

    return Text(sanitize(text, max_len=max_len), style=style)


def escape_markup(text: str, *, max_len: int = DEFAULT_MAX_LEN) -> str:
    """Sanitize, then escape for Textual markup (`Content.from_markup`, widget strings): every `[` becomes
    `\\[`, which Textual's parser turns back into a literal `[`."""
    return sanitize(text, max_len=max_len).replace("[", "\\[")


# Rich counts the backslashes before a tag-like bracket (pairs are literal, an odd one escapes the tag) and
# turns backslash-bracket in plain text into a bracket: tag-like brackets get Rich's own escaping, every
# other bracket one backslash.
_RICH_BRACKET = re.compile(r"(\\*)(\[[a-z#/@][^[]*?])|\[")


def _escape_rich_bracket(m: re.Match[str]) -> str:
    return f"{m[1]}{m[1]}\\{m[2]}" if m[2] else "\\["


def escape_rich_markup(text: str, *, max_len: int = DEFAULT_MAX_LEN) -> str:
    """Sanitize, then escape for Rich console markup (`Text.from_markup`, `console.print`).

    Rich also replaces `:emoji_codes:` in markup and has no escape for them: render with `emoji=False`,
    or better pass `safe_text(...)`, which is never parsed.
    """
    clean = sanitize(text, max_len=max_len)
    return _RICH_BRACKET.sub(_escape_rich_bracket, clean) if "[" in clean else clean


# ---------------------------------------------------------------- JSON: faithful, escaped

# What `_UNSAFE_RUN` covers beyond C0 (JSON escapes those itself): DEL and C1, bidi and zero-width
# formatting, line/paragraph separators, BOM, interlinear annotations, lone surrogates, tag characters.
_JSON_UNSAFE = re.compile(
    "[\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff"
    "\U000e0000-\U000e007f]"
)
_JSON_MAYBE_UNSAFE = re.compile(rb"[\x7f\xc2\xd8\xe2\xed\xef\xf3]")  # lead bytes of the above in UTF-8


def _json_escape(m: re.Match[str]) -> str:
    code = ord(m[0])
    if code > 0xFFFF:  # a UTF-16 surrogate pair, as JSON writes characters beyond the BMP
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def json_bytes(obj: Any, *, indent: bool = False, sort_keys: bool = False) -> bytes:
    """`obj` as UTF-8 JSON with every character a terminal could act on escaped as `\\uXXXX`.

    Strings holding lone surrogates (undecodable input kept as such) are written as their escapes
    rather than failing, so the JSON decodes back to exactly the same strings."""
    option = (orjson.OPT_INDENT_2 if indent else 0) | (orjson.OPT_SORT_KEYS if sort_keys else 0)
    try:
        out = orjson.dumps(obj, option=option)
    except TypeError:  # orjson.JSONEncodeError: lone surrogates; the standard library writes them
        text = json.dumps(obj, ensure_ascii=False, indent=2 if indent else None, sort_keys=sort_keys,
                          separators=(",", ": ") if indent else (",", ":"))  # fmt: skip
        return _JSON_UNSAFE.sub(_json_escape, text).encode("utf-8")
    if (out.isascii() and b"\x7f" not in out) or not _JSON_MAYBE_UNSAFE.search(out):
        return out
    text = out.decode("utf-8")
    return _JSON_UNSAFE.sub(_json_escape, text).encode("utf-8") if _JSON_UNSAFE.search(text) else out


def json_passes(data: bytes) -> bool:
    """True when JSON bytes (that parsed) can be written to a terminal as they are: nothing in them that
    `json_bytes` would escape (DEL, C1, bidi and zero-width formatting, …) and no raw tab or carriage return
    (JSON allows them between tokens; a string cannot hold a raw control character)."""
    if b"\t" in data or b"\r" in data:
        return False
    return (data.isascii() and b"\x7f" not in data) or not _JSON_MAYBE_UNSAFE.search(data)


def json_text(obj: Any, *, indent: bool = False, sort_keys: bool = False) -> str:
    """`json_bytes` as a str (for text streams)."""
    return json_bytes(obj, indent=indent, sort_keys=sort_keys).decode("utf-8")
