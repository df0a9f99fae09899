"""Read where and why Falco refused a rules file from its load-result text (as in the `Falco internal: hot
restart failure` alert and after `Error:` at start).

The text is libs' `rule_loader::result` verbose string (see ../shared/data/falco_stdout_sample.log, a real
pod's log):

    Falco internal: hot restart failure: /etc/falco/rules.d/custom-rules.yaml: Invalid
    1 Errors:
    In rules content: (/etc/falco/rules.d/custom-rules.yaml:0:0)
        rule 'Suspicious shell in container': (/etc/falco/rules.d/custom-rules.yaml:12:2)
        condition expression: ("container and proc.name = sh or":12:14)
    ------
    ...
    LOAD_ERR_COMPILE_CONDITION (Error compiling condition): unexpected end of input, expecting a check

Each context line is `(name:line:column)`, 0-based like the yaml-cpp marks libs prints (see
sim/falco_rules_api.py `_position`); a condition-expression step is named after the condition text (quoted),
not a file, so the spot is the innermost step named by a file path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_STEP = re.compile(r"\((/[^\"()]*?):(\d+):(\d+)\)\s*$")
_CODE = re.compile(r"^(LOAD_ERR_[A-Z_]+)(?: \([^)]*\))?: ?(.*)$")


@dataclass(frozen=True, slots=True)
class LoadFailure:
    """The first error of a refused rules load: file (its path in the pod), 1-based line and column, code,
    message."""

    path: str
    line: int
    column: int
    code: str
    message: str

    @property
    def file(self) -> str:
        """The file's name (the rules ConfigMap's key it is mounted from)."""
        return self.path.rsplit("/", 1)[-1]

    @property
    def summary(self) -> str:
        """`custom-rules.yaml:12 LOAD_ERR_COMPILE_CONDITION: unexpected end of input, …`"""
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where} {self.code}: {self.message}".strip()


def parse_load_failure(text: str) -> LoadFailure | None:
    """The first error's spot and message, or None if `text` is not a load result with an error."""
    path, line, column = "", 0, 0
    for raw in text.splitlines():
        stripped = raw.strip()
        if (code := _CODE.match(stripped)) is not None:
            if not path:
                return None
            return LoadFailure(path, line, column, code.group(1), code.group(2).strip())
        if (step := _STEP.search(stripped)) is not None:
            path, line, column = step.group(1), int(step.group(2)) + 1, int(step.group(3)) + 1
    return None
