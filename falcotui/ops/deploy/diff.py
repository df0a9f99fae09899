"""The Deploy plan's diffs: live object vs what the server's dry run would store, as block-style YAML
(server noise stripped, Secret data hidden)."""

from __future__ import annotations

import difflib

import yaml

from falcotui.kube.apply import normalized


def _redacted(obj: dict | None) -> dict | None:
    if obj is None or obj.get("kind") != "Secret":
        return obj
    hidden = {k: f"<{len(v or '')} base64 characters hidden>" for k, v in (obj.get("data") or {}).items()}
    return {**obj, "data": hidden}


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (falco.yaml, rules) as literal blocks, so their diff reads line by line."""


_Dumper.add_representer(
    str,
    lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", v, style="|" if "\n" in v else None),
)


def unified_yaml_diff(before: dict | None, after: dict | None, ref: str) -> str:
    """Unified diff of the objects (server noise stripped, Secret data hidden) as block-style YAML."""

    def dump(obj: dict | None) -> list[str]:
        if not obj:
            return []
        text = yaml.dump(normalized(_redacted(obj)), Dumper=_Dumper, sort_keys=True, width=1000)
        return text.splitlines(keepends=True)

    a, b = dump(before), dump(after)
    if a == b:
        return ""
    return "".join(difflib.unified_diff(a, b, f"live: {ref}", f"applied: {ref}"))
