"""Load results in Falco's terms: error/warning codes, located messages, and the `falco -V` JSON shape.

Codes, their short texts and descriptions follow Falco's `falco_load_result.cpp`; the JSON produced by
`falco_load_results_json` has the shape `falco -V FILE -o json_output=true` prints. falcotui's own lints use
the same `Message` type with `falco=False` and a `FALCOTUI_` code, and are kept out of the Falco shape.

Positions: every `Location` is a character index into a named text. `Message.line`/`.column` are 1-based
(editor convention); the JSON `position` objects are 0-based like the yaml-cpp marks Falco prints.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


# code -> (short text, description). An error's description is its short text (Falco's error_desc()
# returns the short string, and that is the "codedesc" of its JSON); a warning has a long description.
_ERROR_TEXTS = {
    "LOAD_ERR_FILE_READ": "File read error",
    "LOAD_ERR_YAML_PARSE": "YAML parse error",
    "LOAD_ERR_YAML_VALIDATE": "Error validating internal structure of YAML file",
    "LOAD_ERR_COMPILE_CONDITION": "Error compiling condition",
    "LOAD_ERR_COMPILE_OUTPUT": "Error compiling output",
    "LOAD_ERR_VALIDATE": "Error validating rule/macro/list/exception objects",
}
ERROR_CODES: dict[str, tuple[str, str]] = {code: (text, text) for code, text in _ERROR_TEXTS.items()}

WARNING_CODES: dict[str, tuple[str, str]] = {
    "LOAD_UNKNOWN_SOURCE": (
        "Unknown event source",
        "A rule has a unknown event source. This can occur when reading rules content without having a "
        "corresponding plugin loaded, etc. The rule will be silently ignored.",
    ),
    "LOAD_UNSAFE_NA_CHECK": (
        "Unsafe <NA> comparison in condition",
        "Comparing a field value with <NA> is unsafe and can lead to unpredictable behavior of the rule "
        "condition. If you need to check for the existence of a field, consider using the 'exists' "
        "operator instead.",
    ),
    "LOAD_NO_EVTTYPE": (
        "Condition has no event-type restriction",
        "A rule condition matches too many evt.type values. This has a significant performance penalty. "
        "Make the condition more specific by adding an evt.type field or further restricting the number "
        "of evt.type values in the condition.",
    ),
    "LOAD_UNKNOWN_FILTER": (
        "Unknown field or event-type in condition or output",
        "A rule condition or output refers to a field or evt.type that does not exist. This is normally "
        "an error, but if a rule has a skip-if-unknown-filter property, the error is downgraded to a "
        "warning.",
    ),
    "LOAD_UNUSED_MACRO": (
        "Unused macro",
        "A macro is defined in the rules content but is not used by any other macro or rule.",
    ),
    "LOAD_UNUSED_LIST": (
        "Unused list",
        "A list is defined in the rules content but is not used by any other list, macro, or rule.",
    ),
    "LOAD_UNKNOWN_ITEM": (
        "Unknown rules file item",
        "An unknown top-level object is in the rules content. It will be ignored.",
    ),
    "LOAD_DEPRECATED_ITEM": (
        "Used deprecated item",
        "A deprecated item is employed by lists, macros, or rules.",
    ),
    "LOAD_APPEND_NO_VALUES": (
        "Overriding/appending with no values",
        "A rule exception is overriding/appending with no values",
    ),
    "LOAD_EXCEPTION_NAME_NOT_UNIQUE": (
        "Multiple exceptions defined with the same name",
        "A rule is defining multiple exceptions with the same name",
    ),
    "LOAD_INVALID_MACRO_NAME": ("Invalid macro name", "A macro is defined with an invalid name"),
    "LOAD_INVALID_LIST_NAME": ("Invalid list name", "A list is defined with an invalid name"),
    "LOAD_COMPILE_CONDITION": (
        "Warning in rule condition",
        "A rule condition or output have been parsed with a warning",
    ),
    "LOAD_UNKNOWN_KEY": (
        "Unknown key in item definition",
        "An item in the rules content contains an unrecognized key. The key will be ignored. This may "
        "indicate a typo or a property placed on the wrong item type.",
    ),
}

# Location item types, spelled as Falco's rule_loader::context prints them.
RULES_CONTENT = "rules content"
RULES_CONTENT_ITEM = "rules content item"
VALUE_FOR = "value for"
LIST_ITEM = "list item"
EXCEPTIONS = "exceptions"
EXCEPTION = "exception"
EXCEPTION_VALUES = "exception values"
EXCEPTION_VALUE = "exception value"
REQUIRED_ENGINE_VERSION = "required_engine_version"
REQUIRED_PLUGIN_VERSIONS = "required plugin versions"
REQUIRED_PLUGIN_VERSIONS_ENTRY = "required plugin versions entry"
REQUIRED_PLUGIN_VERSIONS_ALTERNATIVE = "required plugin versions alternative"
LIST = "list"
MACRO = "macro"
MACRO_CONDITION = "macro condition"
RULE = "rule"
RULE_CONDITION = "rule condition"
CONDITION_EXPRESSION = "condition expression"
RULE_OUTPUT = "rule output"
RULE_PRIORITY = "rule priority"
OVERRIDE = "overrides"

_ITEM_TYPES = frozenset(
    {
        RULES_CONTENT_ITEM,
        REQUIRED_ENGINE_VERSION,
        REQUIRED_PLUGIN_VERSIONS,
        REQUIRED_PLUGIN_VERSIONS_ENTRY,
        REQUIRED_PLUGIN_VERSIONS_ALTERNATIVE,
        LIST,
        MACRO,
        RULE,
        EXCEPTION,
    }
)


class TextIndex:
    """Line/column lookups (1-based) for one named text."""

    __slots__ = ("_starts", "name", "text")

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.text = text
        starts = [0]
        find = text.find
        i = find("\n")
        while i != -1:
            starts.append(i + 1)
            i = find("\n", i + 1)
        self._starts = starts

    def line_col(self, index: int) -> tuple[int, int]:
        index = max(0, min(index, len(self.text)))
        line = bisect.bisect_right(self._starts, index) - 1
        return line + 1, index - self._starts[line] + 1

    def line_text(self, line: int) -> str:
        """The text of 1-based `line`, without its newline."""
        if not 1 <= line <= len(self._starts):
            return ""
        start = self._starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start : end if end != -1 else len(self.text)].rstrip("\r")


@dataclass(frozen=True, slots=True)
class Location:
    """One step of a message's context: what item, in which text, at which character index."""

    item_type: str
    item_name: str
    file: str
    index: int
    display_name: str | None = None  # Falco names condition-expression locations after the condition


Context = tuple[Location, ...]


def root_context(file: str) -> Context:
    return (Location(RULES_CONTENT, "", file, 0),)


def child(ctx: Context, item_type: str, item_name: str, index: int, file: str | None = None) -> Context:
    return (*ctx, Location(item_type, item_name, file or ctx[-1].file, index))


@dataclass(frozen=True, slots=True)
class Message:
    """A located error or warning. `falco` is False for falcotui's own lints."""

    severity: Severity
    code: str
    message: str
    context: Context
    line: int
    column: int
    falco: bool = True

    @property
    def file(self) -> str:
        return self.context[-1].file

    @property
    def index(self) -> int:
        return self.context[-1].index

    @property
    def item_type(self) -> str:
        for loc in reversed(self.context):
            if loc.item_type in _ITEM_TYPES:
                return loc.item_type
        return self.context[0].item_type

    @property
    def item_name(self) -> str:
        for loc in reversed(self.context):
            if loc.item_type in _ITEM_TYPES:
                return loc.item_name
        return ""

    @property
    def code_text(self) -> str:
        table = ERROR_CODES if self.severity is Severity.ERROR else WARNING_CODES
        return table.get(self.code, (self.code, self.code))[0]

    @property
    def text(self) -> str:
        """The message, or the code's short text when Falco gives none."""
        return self.message or self.code_text

    def as_dict(self) -> dict[str, object]:
        """A flat, editor-friendly form (1-based positions)."""
        return {
            "severity": self.severity.value,
            "code": self.code,
            "message": self.text,
            "item_type": self.item_type,
            "item_name": self.item_name,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "falco": self.falco,
        }


def make_message(
    severity: Severity,
    code: str,
    message: str,
    context: Context,
    texts: Mapping[str, TextIndex],
    *,
    falco: bool = True,
) -> Message:
    last = context[-1]
    index = texts.get(last.file)
    line, col = index.line_col(last.index) if index is not None else (1, 1)
    return Message(severity, code, message, context, line, col, falco)


@dataclass(slots=True)
class FileResult:
    """Falco's per-file load result: successful unless it carries an error."""

    name: str
    errors: list[Message] = field(default_factory=list)
    warnings: list[Message] = field(default_factory=list)

    @property
    def successful(self) -> bool:
        return not self.errors


def snippet(texts: Mapping[str, TextIndex], msg: Message, width: int = 160) -> str:
    """The offending source line and a caret under the column, as Falco's JSON `snippet` carries it."""
    index = texts.get(msg.file)
    if index is None:
        return "<No context available>\n"
    line = index.line_text(msg.line)
    if not line.strip():
        return "<No context available>\n"
    col = msg.column - 1
    if len(line) > width:
        start = max(0, col - width // 2)
        line = line[start : start + width]
        col -= start
    return f"{line}\n{' ' * max(col, 0)}^\n"


def _location_json(loc: Location, texts: Mapping[str, TextIndex]) -> dict[str, object]:
    index = texts.get(loc.file)
    line, col = index.line_col(loc.index) if index is not None else (1, 1)
    return {
        "item_type": loc.item_type,
        "item_name": loc.item_name,
        "position": {
            "name": loc.display_name if loc.display_name is not None else loc.file,
            "line": line - 1,
            "column": col - 1,
            "offset": loc.index,
        },
    }


def message_json(msg: Message, texts: Mapping[str, TextIndex]) -> dict[str, object]:
    """One entry of Falco's `errors`/`warnings` arrays."""
    table = ERROR_CODES if msg.severity is Severity.ERROR else WARNING_CODES
    codedesc = table[msg.code][1] if msg.code in table else msg.code
    return {
        "context": {
            "locations": [_location_json(loc, texts) for loc in msg.context],
            "snippet": snippet(texts, msg),
        },
        "code": msg.code,
        "codedesc": codedesc,
        "message": msg.message,
    }


def falco_load_results_json(
    results: Sequence[FileResult],
    texts: Mapping[str, TextIndex],
    lints: Iterable[Message] = (),
) -> dict[str, object]:
    """`{"falco_load_results": [...]}` as `falco -V ... -o json_output=true` prints it, plus falcotui's
    lints under their own key when there are any."""
    out: dict[str, object] = {
        "falco_load_results": [
            {
                "name": r.name,
                "successful": r.successful,
                "errors": [message_json(m, texts) for m in r.errors],
                "warnings": [message_json(m, texts) for m in r.warnings],
            }
            for r in results
        ]
    }
    lint_list = list(lints)
    if lint_list:
        out["falcotui_lints"] = [m.as_dict() for m in lint_list]
    return out
