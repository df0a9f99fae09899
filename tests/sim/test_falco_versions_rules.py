"""A simulated Falco loads rules with its own version's loader: `falco -V` in a 0.43.1 container refuses
the libs 0.25 modifiers that 0.44+ accept, and alerts of a modifier rule carry values that satisfy it."""

from __future__ import annotations

import random

from simkit import MODIFIER_RULE

from falcotui.falco.rules.condition import parse_condition
from falcotui.sim.falco.conditions import alternatives, realize
from falcotui.sim.falco.config import FalcoVersion, image_files
from falcotui.sim.falco.startup import run_falco_cli, version_text

DEFAULTS = "/etc/falco/falco_rules.yaml"
CUSTOM = "/etc/falco/rules.d/custom-rules.yaml"


def falco_v(version: FalcoVersion) -> tuple[int, str]:
    files = {**image_files(version), CUSTOM: MODIFIER_RULE}  # the image's config and default rules
    code, out, _ = run_falco_cli(version, files, ["-V", DEFAULTS, "-V", CUSTOM])
    return code, out


def test_falco_043_refuses_modifiers_and_045_loads_them() -> None:
    code, out = falco_v(FalcoVersion(0, 43, 1))
    assert code == 1 and "unexpected token after 'oneof', expecting 'or', 'and'" in out
    code, out = falco_v(FalcoVersion(0, 45, 0))
    assert code == 0, out


def test_falco_version_prints_the_libs_and_engine_the_source_pins() -> None:
    text = version_text(FalcoVersion(0, 43, 1))
    assert "Libs version:  0.23.2\n" in text and "Engine:        0.58.0\n" in text
    assert "Engine:        0.62.0\n" in version_text(FalcoVersion(0, 44, 1))


def test_alert_values_satisfy_modifier_checks() -> None:
    rng = random.Random(1)
    tree = parse_condition(
        "proc.name startswith anyof (ba, zs) and fd.name = oneof (/etc/shadow, /etc/passwd)"
    )
    [alt] = alternatives(tree)
    values = realize(alt, rng)
    assert str(values["proc.name"]).startswith("ba")
    assert values["fd.name"] in ("/etc/shadow", "/etc/passwd")
    # `allof` over several values is not something one value can be made to satisfy here: no constraint
    [alt] = alternatives(parse_condition("proc.name contains allof (a, b)"))
    assert alt == {}
