"""The simulated Falco's pre-rendered alerts: once a node's pool is full, a re-stamped alert is still a
well-formed alert of its own time (JSON and text mode), distinct from every other one, and the first alerts
are exactly the ones rendered in full."""

from __future__ import annotations

import dataclasses
import random

import orjson
import pytest

from falcotui.falco.alert_text import parse_text_alert
from falcotui.falco.alerts import dedup_key, parse_json_alert
from falcotui.sim.falco.alerts_gen import AlertGenerator, OutputOptions
from falcotui.sim.falco.config import (
    FalcoArgs,
    falco_image_version,
    image_files,
    load_config,
    resolve_rules_files,
    rules_paths,
)
from falcotui.sim.falco.ruleset import disabled_by_config, load_files

T0 = 1_795_000_000_123_456_789


def generator(pool: int, *, json_output: bool, iso8601: bool) -> AlertGenerator:
    version = falco_image_version("falcosecurity/falco:0.43.1")
    assert version is not None
    files = image_files(version)
    cfg = load_config(files, FalcoArgs(), version)
    paths = resolve_rules_files(files, rules_paths(cfg, FalcoArgs()))
    ruleset = load_files(paths, [files[p] for p in paths], version.text)
    rules = ruleset.active_rules("debug", disabled_by_config(cfg, ruleset))
    options = dataclasses.replace(OutputOptions.from_config(cfg), json_output=json_output, iso8601=iso8601)
    return AlertGenerator("node-1", rules, options, random.Random(3), pool=pool)


@pytest.mark.parametrize("iso8601", [False, True])
def test_restamped_json_alerts_carry_their_own_time_and_stay_distinct(iso8601: bool) -> None:
    gen = generator(4, json_output=True, iso8601=iso8601)
    emitted = [gen.next_alert(None, T0 + i * 7_919_000) for i in range(40)]
    keys = set()
    for i, e in enumerate(emitted):
        assert e is not None
        t = T0 + i * 7_919_000
        doc = orjson.loads(e.line)
        alert = parse_json_alert(e.line.encode())
        assert alert.time_ns == t == doc["output_fields"]["evt.time"] == e.output_fields["evt.time"]
        assert doc["output"] == e.output and e.output.startswith(alert.output[:10])
        clock = doc["time"][:29] + "+0000" if iso8601 else doc["time"][11:29]  # %evt.time's two forms
        assert e.output.startswith(f"{clock}: "), e.output
        keys.add(dedup_key(alert))
    assert len(keys) == 40
    # past the pool, rules repeat: the 36 re-stamped alerts come from the 4 rendered ones
    assert {e.rule for e in emitted[4:]} <= {e.rule for e in emitted[:4]}


def test_restamped_text_alerts_parse_with_their_time() -> None:
    gen = generator(3, json_output=False, iso8601=False)
    for i in range(20):
        t = T0 + i * 1_000_003
        e = gen.next_alert(None, t)
        assert e is not None
        assert parse_text_alert(e.line, reference_ns=t).time_ns == t


def test_the_first_alerts_are_rendered_in_full() -> None:
    pooled = generator(8, json_output=True, iso8601=False)
    full = generator(0, json_output=True, iso8601=False)
    first = [pooled.next_alert(None, T0 + i) for i in range(8)]
    assert [e.line for e in first if e] == [e.line for i in range(8) if (e := full.next_alert(None, T0 + i))]


def test_next_line_is_next_alerts_line() -> None:
    lines, alerts = (generator(5, json_output=True, iso8601=False) for _ in range(2))
    for i in range(30):
        e = alerts.next_alert(None, T0 + i * 999)
        assert e is not None and lines.next_line(None, T0 + i * 999) == e.line
