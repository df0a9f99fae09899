"""Property tests: the alert parsers return an Alert or raise AlertParseError, whatever the input."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from falcotui.falco.alert_text import OutputTemplates, parse_text_alert
from falcotui.falco.alerts import Alert, AlertParseError, Priority, alert_to_json, parse_json_alert

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=6,
)
alert_keys = st.sampled_from(
    ["time", "rule", "priority", "source", "hostname", "output", "output_fields", "tags", "message", "node"]
)
priorities = st.sampled_from([p.label for p in Priority] + ["info", "WARNING", "Loud", ""])
iso_times = st.integers(min_value=0, max_value=4102444799 * 10**9).map(
    lambda ns: datetime.fromtimestamp(ns // 10**9, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{ns % 10**9:09d}Z"
)
almost_alerts = st.fixed_dictionaries(
    {"rule": st.text(max_size=20), "priority": priorities, "time": iso_times | st.text(max_size=30)},
    optional={
        "output": st.text(max_size=50) | json_values,
        "output_fields": st.dictionaries(st.text(max_size=10), json_values, max_size=4) | json_values,
        "tags": st.lists(st.text(max_size=8), max_size=3) | json_values,
        "hostname": st.text(max_size=10) | json_values,
        "source": st.text(max_size=10),
    },
)


def parse_or_error(parse, line, **kw):
    try:
        result = parse(line, **kw)
    except AlertParseError as exc:
        assert str(exc)  # always says why
        return None
    assert isinstance(result, Alert)
    return result


@SETTINGS
@given(st.binary(max_size=300))
def test_any_bytes_give_an_alert_or_alertparseerror(data):
    parse_or_error(parse_json_alert, data)


@SETTINGS
@given(st.text(max_size=300))
def test_any_text_gives_an_alert_or_alertparseerror(text):
    parse_or_error(parse_json_alert, text)
    parse_or_error(parse_text_alert, text, reference_ns=0)


@settings(SETTINGS, max_examples=100)
@given(st.dictionaries(alert_keys, json_values, max_size=10) | almost_alerts)
def test_any_json_object_gives_an_alert_or_alertparseerror(obj):
    line = json.dumps(obj)
    alert = parse_or_error(parse_json_alert, line)
    if alert is not None:
        # whatever parsed exports and parses back to the same alert
        assert parse_json_alert(alert_to_json(alert)) == alert
        # the same line as bytes (orjson.dumps would refuse integers beyond 64 bits, which JSON allows)
        assert parse_json_alert(line.encode()) == alert


@settings(SETTINGS, max_examples=150)
@given(
    st.sampled_from([p.label for p in Priority]),
    st.text(max_size=80),
    st.lists(
        st.tuples(st.text(max_size=10), st.sampled_from(["Notice", "Warning"]), st.text(max_size=40)),
        max_size=4,
    ),
)
def test_text_alerts_with_any_output_and_any_templates(priority, output, rules):
    line = f"10:00:00.000000001: {priority} {output}"
    alert = parse_or_error(parse_text_alert, line, rules=OutputTemplates(rules), reference_ns=0)
    if alert is not None and "\n" not in output and "\r" not in output:
        assert alert.priority.label == priority
        assert alert.time_ns == 36000 * 10**9 + 1
