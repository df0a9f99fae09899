"""Regenerate `fields_data.json` (the shipped field catalog) from a Falco field list.

Run: `python -m falcotui.falco.rules.gen_fields /work/shared/data/falco_fields.json`. The input is Falco's
field list as JSON (`{"fields": [{"name", "class", "type", "arg", "filter_only", "deprecated"}, ...]}`);
only those facts are kept, one field per line. Plugin fields whose argument the input lost are corrected
from the container plugin's published field table.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

OUTPUT = Path(__file__).with_name("fields_data.json")
COLUMNS = ("name", "class", "type", "arg", "filter_only", "deprecated")

# The container plugin (falcosecurity/plugins, container) declares these arguments as required
# ("Idx or Key, Required" / "Key, Required"), e.g. `container.mount.dest[/proc*]`, `k8s.pod.label[app]`.
PLUGIN_REQUIRED_ARGS = (
    "container.mount",
    "container.mount.source",
    "container.mount.dest",
    "container.mount.mode",
    "container.mount.rdwr",
    "container.mount.propagation",
    "container.label",
    "k8s.pod.label",
    "k8s.rc.label",
    "k8s.svc.label",
    "k8s.ns.label",
    "k8s.rs.label",
    "k8s.deployment.label",
)


class FieldListError(ValueError):
    """The input is not a Falco field list."""


def convert(data: object) -> list[list[object]]:
    """Rows `[name, class, type, arg, filter_only, deprecated]`, in the input's order."""
    fields = data.get("fields") if isinstance(data, dict) else None
    if not isinstance(fields, list):
        raise FieldListError("expected an object with a 'fields' list")
    rows: list[list[object]] = []
    seen: set[str] = set()
    for index, field in enumerate(fields):
        if not isinstance(field, dict) or any(key not in field for key in COLUMNS):
            raise FieldListError(f"field #{index} lacks one of {', '.join(COLUMNS)}")
        name = field["name"]
        if name in seen:
            continue
        seen.add(name)
        arg = "required" if name in PLUGIN_REQUIRED_ARGS else field["arg"]
        if arg not in ("none", "required", "allowed"):
            raise FieldListError(f"field {name}: unknown arg kind {arg!r}")
        rows.append(
            [name, field["class"], field["type"], arg, bool(field["filter_only"]), bool(field["deprecated"])]
        )
    return rows


def render(rows: list[list[object]], about: str) -> str:
    lines = [json.dumps(row, separators=(",", ":")) for row in rows]
    head = json.dumps({"about": about, "columns": list(COLUMNS)}, separators=(",", ":"))
    return head[:-1] + ',"fields":[\n' + ",\n".join(lines) + "\n]}\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m falcotui.falco.rules.gen_fields FALCO_FIELDS.json", file=sys.stderr)
        return 2
    try:
        data = json.loads(Path(args[0]).read_text(encoding="utf-8"))
        rows = convert(data)
    except (OSError, ValueError) as err:
        print(f"gen_fields: {args[0]}: {err}", file=sys.stderr)
        return 1
    about = "Falco 0.44 syscall-source fields (libsinsp + container plugin): " + ", ".join(COLUMNS)
    OUTPUT.write_text(render(rows, about), encoding="utf-8")
    print(f"wrote {len(rows)} fields to {OUTPUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
