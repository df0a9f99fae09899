"""What the rules loader of one Falco version accepts: the libs filter grammar and loader behaviours.

The validator targets a Falco version; everything that differs between the versions falcotui deploys
is decided here, each with the upstream fact it rests on:

- Falco 0.43.x is built on libs 0.23.x (falco `cmake/modules/falcosecurity-libs.cmake` at tag 0.43.1:
  `FALCOSECURITY_LIBS_VERSION "0.23.2"`; 0.43.0: "0.23.1"), rules engine 0.58.0
  (`userspace/engine/falco_engine_version.h`).
- Falco 0.44.0 is built on libs 0.25.2 and 0.44.1 on libs 0.25.4 (same cmake file at those tags), rules
  engine 0.62.0. libs' filter parser did not change between 0.25.0 and 0.25.4.
- Falco 0.45.0 (what the manifests pin) is taken to be Falco's master as of 2026-07-31, the newest source
  this project holds (`../shared/data/falco_image/main-2026-07-31` stands for it too): engine 0.63.0,
  libs pinned past 0.25.4. No 0.45.0 tag was available to confirm this; the differences that rest on it
  are `no_evttype_warning_when_empty` and `evt_num_invariants` below.

libs 0.25 added (libs tag 0.25.0 `userspace/libsinsp/filter/parser.h`, absent at 0.23.2 and 0.24.0):
the string-operator modifiers `oneof`/`anyof`/`allof`, the transformers `join(`/`concat(`/`getopt(` with
several arguments and transformer lists (join/concat first appeared in libs 0.24.0, which no Falco
release shipped), an optional `[arg]` after a transformer, and backtracking when a word operator such as
`contains` is not followed by a blank.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

MODIFIERS = ("oneof", "anyof", "allof")
"""libs 0.25 `s_str_modifier_ops` (parser.cpp), in the parser's order."""

MODIFIABLE_OPERATORS = frozenset(
    "= == != contains icontains bcontains startswith bstartswith endswith glob iglob regex".split()
)
"""The operators a modifier may follow: libs 0.25 `s_binary_str_ops`, and Falco's
`cmpop_supports_modifier` (userspace/engine/rule_loader_cmpop.h, added in 0.44.0)."""

_VERSION = re.compile(r"^\s*v?(\d+)\.(\d+)(?:\.(\d+))?")


class UnknownFalcoVersion(ValueError):
    """A version string that is not `x.y` or `x.y.z`."""


@dataclass(frozen=True, slots=True)
class Dialect:
    """The rules language and loader behaviour of one Falco version."""

    falco_version: tuple[int, int, int]
    libs_version: str
    engine_version: tuple[int, int, int]
    transformers: tuple[str, ...]
    modifiers: bool  # `startswith oneof (...)` in conditions and exception comps (libs 0.25, Falco 0.44)
    multi_arg_transformers: bool  # `join(...)`, `concat(a, "-", b)`, transformer lists (libs 0.25)
    transformer_field_arg: bool  # `tolower(proc.aname)[1]`, `val(proc.aname)[1]` (libs 0.25)
    operator_backtrack: bool  # `containsx` is not `contains` + junk (libs 0.25 lex_helper_operator_list)
    unknown_key_warnings: bool  # LOAD_UNKNOWN_KEY (Falco 0.44.0 rule_loader_reader.cpp)
    # Falco 0.44.0 compile_condition runs its warning resolver (deprecated fields, unsafe <NA> checks) at
    # the condition text's start, not at the `condition:` YAML value (0.43)
    warnings_at_condition_text: bool
    no_evttype_warning_when_empty: bool  # Falco master 188630e2, after 0.44.1
    evt_num_invariants: bool  # libs 891c837d3 (`evt.num=0` matches no event), after libs 0.25.4

    @property
    def text(self) -> str:
        return ".".join(map(str, self.falco_version))

    @property
    def engine_text(self) -> str:
        return ".".join(map(str, self.engine_version))


def parse_version(version: str | tuple[int, ...]) -> tuple[int, int, int]:
    """`0.43.1`, `0.44`, `v0.45.0-rc1` -> (0, 43, 1), (0, 44, 0), (0, 45, 0)."""
    if isinstance(version, tuple):
        parts = (*version, 0, 0, 0)[:3]
        return (int(parts[0]), int(parts[1]), int(parts[2]))
    m = _VERSION.match(str(version))
    if m is None:
        raise UnknownFalcoVersion(f"Falco version {version!r} is not x.y or x.y.z")
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


@cache
def _dialect(version: tuple[int, int, int]) -> Dialect:
    libs25 = version >= (0, 44, 0)
    master = version >= (0, 45, 0)
    if master:
        libs, engine = "0.25.4+", (0, 63, 0)
    elif libs25:
        libs, engine = ("0.25.4" if version >= (0, 44, 1) else "0.25.2"), (0, 62, 0)
    else:
        libs, engine = ("0.23.2" if version >= (0, 43, 1) else "0.23.1"), (0, 58, 0)
    base = ("tolower", "toupper", "b64", "basename", "len")
    return Dialect(
        falco_version=version,
        libs_version=libs,
        engine_version=engine,
        transformers=(*base, "join", "concat", "getopt") if libs25 else base,
        modifiers=libs25,
        multi_arg_transformers=libs25,
        transformer_field_arg=libs25,
        operator_backtrack=libs25,
        unknown_key_warnings=libs25,
        warnings_at_condition_text=libs25,
        no_evttype_warning_when_empty=master,
        evt_num_invariants=master,
    )


def dialect_for(version: str | tuple[int, ...] | Dialect) -> Dialect:
    """The dialect of a Falco version (versions before 0.43 are treated as 0.43, the oldest modelled)."""
    if isinstance(version, Dialect):
        return version
    return _dialect(max(parse_version(version), (0, 43, 0)))


PINNED_FALCO_VERSION = "0.45.0"
"""The Falco version the manifests pin (`ops.manifests.DEFAULT_IMAGE_TAG`; a test keeps them equal)."""

DEFAULT_DIALECT = dialect_for(PINNED_FALCO_VERSION)


def strictest(versions: list[str]) -> tuple[Dialect, str]:
    """The dialect every one of `versions` accepts (the oldest), and a sentence saying so when they
    differ; versions that cannot be read are skipped. No readable version: the pinned default."""
    parsed: dict[tuple[int, int, int], str] = {}
    for v in versions:
        try:
            parsed.setdefault(parse_version(v), v)
        except UnknownFalcoVersion:
            continue
    if not parsed:
        return DEFAULT_DIALECT, ""
    oldest = min(parsed)
    dialect = dialect_for(oldest)
    if len(parsed) == 1:
        return dialect, ""
    shown = ", ".join(parsed[v] for v in sorted(parsed))
    note = (
        f"the cluster runs mixed Falco versions ({shown}): validating for Falco {parsed[oldest]}, "
        "the strictest, so the rules load on every node"
    )
    return dialect, note
