"""Falco's `-o key=value` command-line options: the key language and how a value is set into the
configuration document (userspace/falco/configuration.cpp set_cmdline_option, userspace/engine/
yaml_helper.h get_node)."""

from __future__ import annotations

from typing import Any

import yaml

_MISSING = object()


class ConfigError(Exception):
    """Falco refuses this configuration; the message is what it prints after `Error: `."""


def parse_key(key: str) -> list[str | int | None]:
    """yaml_helper::get_node's key language: `a.b`, `list[2]`, `list[]` (append, as None), `\\.` escapes."""
    parts: list[str | int | None] = []
    name = ""
    i = 0
    while i < len(key):
        c = key[i]
        if c == "\\":
            if i + 1 >= len(key) or key[i + 1] not in ".[]\\":
                raise ConfigError(f"Parsing error: invalid escape sequence at pos {i}")
            name += key[i + 1]
            i += 2
            continue
        if c == ".":
            if name:
                parts.append(name)
            name = ""
        elif c == "[":
            if name:
                parts.append(name)
            name = ""
            end = key.find("]", i)
            if end < 0:
                raise ConfigError(f"Parsing error: expected ']' in key {key}")
            index = key[i + 1 : end]
            parts.append(int(index) if index else None)
            i = end
        else:
            name += c
        i += 1
    if name:
        parts.append(name)
    return parts


def _option_value(raw: str) -> Any:
    """configuration.cpp set_cmdline_option: `{...}` is parsed as a YAML object, anything else is set as
    a scalar (read later with yaml-cpp's `as<T>`, so `true`, `5` and `x` keep their YAML meaning)."""
    if raw.startswith("{") and raw.endswith("}"):
        return yaml.safe_load(raw)
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        return raw
    return value if not isinstance(value, dict | list) else raw


def set_option(root: dict[str, Any], option: str) -> None:
    if "=" not in option:
        raise ConfigError(
            f'Error parsing config option "{option}". Must be of the form key=val or key.subkey=val'
        )
    key, raw = option.split("=", 1)
    parts = parse_key(key)
    if not parts:
        raise ConfigError(
            f'Error parsing config option "{option}". Must be of the form key=val or key.subkey=val'
        )
    node: Any = root
    for part, nxt in zip(parts, [*parts[1:], _MISSING], strict=True):
        last = nxt is _MISSING
        value = _option_value(raw) if last else ({} if isinstance(nxt, str) else [])
        if isinstance(part, str):
            if not isinstance(node, dict):
                raise ConfigError(f"Error parsing config option \"{option}\": '{part}' is not a map")
            if last:
                node[part] = value
            else:
                if not isinstance(node.get(part), dict | list):
                    node[part] = value
                node = node[part]
        else:
            if not isinstance(node, list):
                raise ConfigError(f'Error parsing config option "{option}": not a sequence')
            if part is None:
                node.append(value)
                part = len(node) - 1
            elif part >= len(node):
                raise ConfigError(f'Error parsing config option "{option}": index {part} out of range')
            elif last:
                node[part] = value
            if not last:
                if not isinstance(node[part], dict | list):
                    node[part] = value
                node = node[part]
