"""Validate one Falco config file against Falco's own config JSON schema, and word the outcome as Falco's
start-up log does (`ok`, or `failed for <context>: <description>`).

Falco validates each config file as it loads it (userspace/engine/yaml_helper.h, validate_node) with
valijson in `kWeakTypes` mode over yaml-cpp nodes, and reports only the first error; a failure is a
logged warning, never an exit (userspace/falco/app/actions/load_config.cpp). Here the `jsonschema` package
validates against the same schema file, with valijson's weak typing (a YAML scalar also satisfies
`string`, "true"/"false" satisfy `boolean`, digit strings satisfy `integer`/`number`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsonschema
from jsonschema import Draft6Validator

VALIDATION_OK = "ok"  # yaml_helper::validation_ok
VALIDATION_FAILED = "failed"  # yaml_helper::validation_failed

_BOOL_WORDS = frozenset({"true", "false", "yes", "no", "on", "off", "y", "n"})


def _is_scalar(v: Any) -> bool:
    return isinstance(v, str | int | float | bool)


def _weak_string(_checker: Any, v: Any) -> bool:
    return _is_scalar(v)


def _weak_boolean(_checker: Any, v: Any) -> bool:
    return isinstance(v, bool) or (isinstance(v, str) and v.strip().lower() in _BOOL_WORDS)


def _weak_integer(_checker: Any, v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, int):
        return True
    if isinstance(v, float):
        return v.is_integer()
    if isinstance(v, str):
        try:
            int(v.strip(), 0)
        except ValueError:
            return False
        return True
    return False


def _weak_number(_checker: Any, v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, int | float):
        return True
    if isinstance(v, str):
        try:
            float(v.strip())
        except ValueError:
            return False
        return True
    return False


_WeakValidator = jsonschema.validators.extend(
    Draft6Validator,
    type_checker=Draft6Validator.TYPE_CHECKER.redefine_many(
        {"string": _weak_string, "boolean": _weak_boolean, "integer": _weak_integer, "number": _weak_number}
    ),
)


def _context(path: Any) -> str:
    """valijson's error context: `<root>` then `[key]` / `[index]` per level."""
    return "<root>" + "".join(f"[{p}]" for p in path)


def _description(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        allowed = error.schema.get("properties") or {}
        extra = [k for k in error.instance if k not in allowed]
        # valijson's wording (validation_visitor.hpp), as Falco prints it.
        return (
            "Object contains a property that could not be validated using 'properties' or "
            f"'additionalProperties' constraints: '{extra[0] if extra else ''}'."
        )
    if error.validator == "type":
        return "Value type not permitted by 'type' constraint."
    return error.message


def validate_config(doc: Any, schema: Mapping[str, Any]) -> str:
    """`ok`, or `failed for <context>: <description>` for the first error (as Falco reports it).

    Only the `additionalProperties` and `type` descriptions are valijson's words; other constraint kinds
    carry jsonschema's description after Falco's `failed for <context>: ` prefix.
    """
    validator = _WeakValidator(schema)
    first = next(iter(validator.iter_errors(doc)), None)
    if first is None:
        return VALIDATION_OK
    deepest = first
    while deepest.context:  # anyOf/oneOf: report the branch error, as valijson's nested results do
        deepest = deepest.context[0]
    return f"{VALIDATION_FAILED} for {_context(deepest.absolute_path)}: {_description(deepest)}"
