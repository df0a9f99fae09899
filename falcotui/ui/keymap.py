"""The user's keymap: a YAML file mapping binding ids (each key's id is shown in `?` help) to other keys.

    # ~/.config/falcotui/keymap.yaml  (or $XDG_CONFIG_HOME/falcotui/keymap.yaml, or `falcotui --keymap FILE`)
    alerts.filter: ctrl+f          # one key
    app.quit: ctrl+q, ctrl+c       # several, comma-separated (a YAML list works too)

Textual applies it (`App.set_keymap`): a remapped binding loses its default keys. Whatever is wrong in the
file — not YAML, an id no screen has (with the nearest real ones), a key that is not one, two bindings of one
screen on the same key — is a line in `problems`, shown when the app starts; the rest of the file still
applies and the app always starts.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from textual.binding import Binding
from textual.dom import DOMNode
from textual.keys import _character_to_key  # what App.set_keymap normalises with

from falcotui.falco.sanitize import sanitize

_KEY = re.compile(r"^(?:(?:ctrl|shift|alt|super|meta|hyper)\+)*(?:[a-z0-9_]+|[^\sa-z0-9,])$")


@dataclass(frozen=True, slots=True)
class UserKeymap:
    """What the keymap file asks for (binding id -> Textual key string) and what could not be taken."""

    path: Path | None = None
    keys: dict[str, str] = field(default_factory=dict)
    problems: tuple[str, ...] = ()


def default_keymap_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".config")
    return Path(base) / "falcotui" / "keymap.yaml"


def _ui_classes(root: type) -> Iterable[type]:
    for sub in root.__subclasses__():
        if sub.__module__.startswith("falcotui.ui"):
            yield sub
        yield from _ui_classes(sub)


def ui_bindings() -> dict[str, list[Binding]]:
    """Every falcotui binding that has an id, by id (from the BINDINGS of every loaded falcotui.ui class)."""
    out: dict[str, list[Binding]] = {}
    for cls in set(_ui_classes(DOMNode)):
        for b in cls.__dict__.get("BINDINGS", ()):
            if isinstance(b, Binding) and b.id:
                out.setdefault(b.id, []).append(b)
    return out


def _normalized(keys: str) -> list[str]:
    """Keys as Textual names them (`?` is question_mark): what a clash is decided on."""
    return [_character_to_key(k) if len(k) == 1 else k for k in (k.strip() for k in keys.split(","))]


def _keys_of(value: object) -> list[str] | None:
    if isinstance(value, str):
        keys = [k.strip() for k in value.split(",")]
    elif isinstance(value, list) and all(isinstance(k, str) for k in value):
        keys = [k.strip() for k in value]
    else:
        return None
    return keys if keys and all(keys) else None


def load_keymap(path: Path | None, *, explicit: bool = False) -> UserKeymap:
    """Read the keymap at `path` (absent and not `explicit`: no keymap, no problem)."""
    if path is None:
        return UserKeymap()
    where = sanitize(str(path), max_len=300)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return UserKeymap(path, problems=(f"keymap {where}: no such file",) if explicit else ())
    except (OSError, UnicodeDecodeError) as exc:
        return UserKeymap(
            path, problems=(f"keymap {where}: cannot read it ({sanitize(str(exc), max_len=200)})",)
        )
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        reason = sanitize(str(getattr(exc, "problem", "") or exc), max_len=200)
        return UserKeymap(path, problems=(f"keymap {where}: not YAML{at}: {reason}; no key was remapped",))
    if data is None:
        return UserKeymap(path)
    if not isinstance(data, dict):
        return UserKeymap(
            path, problems=(f"keymap {where}: expected `binding-id: key` lines; nothing remapped",)
        )
    return _checked(path, data, ui_bindings())


def _checked(path: Path, data: dict, known: dict[str, list[Binding]]) -> UserKeymap:
    where = sanitize(str(path), max_len=300)
    keys: dict[str, str] = {}
    problems: list[str] = []
    for ident, value in data.items():
        shown = sanitize(str(ident), max_len=80)
        if not isinstance(ident, str) or ident not in known:
            near = difflib.get_close_matches(str(ident), known, n=2, cutoff=0.8)
            hint = f" (did you mean {' or '.join(near)}?)" if near else " (`?` in the app lists every id)"
            problems.append(f"keymap {where}: no binding has the id {shown}{hint}")
            continue
        wanted = _keys_of(value)
        if wanted is None:
            problems.append(
                f"keymap {where}: {shown}: expected a key like ctrl+f, or several comma-separated"
            )
            continue
        bad = [k for k in wanted if not _KEY.match(k)]
        if bad:
            problems.append(f"keymap {where}: {shown}: not a key: {sanitize(', '.join(bad), max_len=80)}")
            continue
        keys[ident] = ",".join(wanted)
    problems.extend(_clashes(where, keys, known))
    return UserKeymap(path, keys, tuple(problems))


def _clashes(where: str, keys: dict[str, str], known: dict[str, list[Binding]]) -> list[str]:
    """Two bindings of one screen or widget (the id's prefix) on one key: only one of them can fire."""
    owner: dict[tuple[str, str], str] = {}
    out: list[str] = []
    for ident, bindings in sorted(known.items()):
        scope = ident.split(".", 1)[0]
        remapped = keys.get(ident)
        default = ",".join(b.key for b in bindings)
        for key in _normalized(remapped or default):
            other = owner.setdefault((scope, key), ident)
            if other != ident and (ident in keys or other in keys):
                out.append(f"keymap {where}: {other} and {ident} are both on {key}: only one of them works")
    return out
