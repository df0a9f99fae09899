"""Alert parsing: Falco's JSON lines (sample log and constructed), text-mode lines, export, dedup keys."""

from __future__ import annotations

import dataclasses
import json
import random
import re

import orjson
import pytest
import yaml

from falcotui.falco import alerts
from falcotui.falco.alert_text import OutputTemplates, parse_text_alert
from falcotui.falco.alerts import (
    MAX_FIELD_CHARS,
    MAX_LINE_LENGTH,
    TRUNCATED_KEY,
    AlertParseError,
    Priority,
    alert_to_json,
    dedup_key,
    format_iso8601_ns,
    parse_iso8601_ns,
    parse_json_alert,
)

LABELS = ["Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug"]


def sample_alert_lines(shared_data) -> list[bytes]:
    lines = (shared_data / "falco_stdout_sample.log").read_bytes().splitlines()
    return [line for line in lines if line.startswith(b"{")]


def make_alert_obj(**overrides) -> dict:
    obj = {
        "hostname": "node-b",
        "output": "10:00:00.000000001: Warning Sensitive file opened (file=/etc/shadow)",
        "output_fields": {"evt.time": 1795687200000000001, "fd.name": "/etc/shadow", "user.uid": 0},
        "priority": "Warning",
        "rule": "Read sensitive file untrusted",
        "source": "syscall",
        "tags": ["filesystem", "mitre_credential_access"],
        "time": "2026-11-26T10:00:00.000000001Z",
    }
    obj.update(overrides)
    return obj


# ---------------------------------------------------------------- priorities


def test_priorities_are_ordered_like_falcos_most_severe_first():
    assert [p.label for p in Priority] == LABELS
    assert [int(p) for p in Priority] == list(range(8))
    at_least_warning = [p for p in Priority if p <= Priority.WARNING]
    assert at_least_warning == [
        Priority.EMERGENCY,
        Priority.ALERT,
        Priority.CRITICAL,
        Priority.ERROR,
        Priority.WARNING,
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Emergency", Priority.EMERGENCY),
        ("ALERT", Priority.ALERT),
        ("critical", Priority.CRITICAL),
        ("eRRoR", Priority.ERROR),
        (" Warning ", Priority.WARNING),
        ("notice", Priority.NOTICE),
        ("Informational", Priority.INFORMATIONAL),
        ("info", Priority.INFORMATIONAL),
        ("INFO", Priority.INFORMATIONAL),
        ("debug", Priority.DEBUG),
    ],
)
def test_priority_names_parse_case_insensitively_with_info(text, expected):
    assert Priority.parse(text) is expected


def test_abbreviations_only_when_lenient():
    with pytest.raises(ValueError, match="unknown priority 'warn'"):
        Priority.parse("warn")
    assert Priority.parse("warn", lenient=True) is Priority.WARNING
    assert Priority.parse("CRIT", lenient=True) is Priority.CRITICAL
    assert Priority.parse("emerg", lenient=True) is Priority.EMERGENCY
    with pytest.raises(ValueError, match="expected one of Emergency, Alert"):
        Priority.parse("wa", lenient=True)


# ---------------------------------------------------------------- JSON


def test_sample_log_alerts_parse_with_exact_times_and_fields(shared_data):
    first, second, internal = (
        parse_json_alert(line, node="node-a", pod="falco-xczjd") for line in sample_alert_lines(shared_data)
    )

    assert first.rule == "Terminal shell in container"
    assert first.priority is Priority.CRITICAL
    assert first.time_ns == 1685022245478445995 == first.output_fields["evt.time"]
    assert first.hostname == "falco-xczjd" and first.source == "syscall"
    assert first.tags == ("container", "mitre_execution", "shell")
    assert first.output_fields["proc.cmdline"] == "sh -c clear; (bash || ash || sh)"
    assert first.message.startswith("A shell was spawned in a container")
    assert (first.node, first.pod, first.channel) == ("node-a", "falco-xczjd", "log")

    assert second.priority is Priority.WARNING
    assert second.time_ns == second.output_fields["evt.time"] == 1795683737120004511
    assert second.output_fields["fd.name"] == "/etc/shadow"

    assert internal.rule == "Falco internal: hot restart failure"
    assert internal.source == "internal" and internal.priority is Priority.CRITICAL
    assert internal.output_fields == {} and internal.tags == ()
    assert "LOAD_ERR_COMPILE_CONDITION" in internal.output and "\n" in internal.output
    assert internal.message == internal.output  # internal alerts have no time/priority prefix


def test_str_and_bytes_lines_give_the_same_alert(shared_data):
    for line in sample_alert_lines(shared_data):
        assert parse_json_alert(line) == parse_json_alert(line.decode())


def test_key_order_does_not_matter():
    obj = make_alert_obj()
    reference = parse_json_alert(json.dumps(obj))
    keys = list(obj)
    rng = random.Random(7)
    for _ in range(20):
        rng.shuffle(keys)
        assert parse_json_alert(json.dumps({k: obj[k] for k in keys})) == reference


@pytest.mark.parametrize("label", LABELS)
def test_every_priority_parses_from_an_alert(label):
    alert = parse_json_alert(json.dumps(make_alert_obj(priority=label)))
    assert alert.priority.label == label
    assert parse_json_alert(json.dumps(make_alert_obj(priority=label.upper()))).priority is alert.priority


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("2026-11-26T10:00:00.000000001Z", 1795687200000000001),
        ("2026-11-26T10:00:00.999999999Z", 1795687200999999999),
        ("2026-11-26T10:00:00Z", 1795687200000000000),
        ("2026-11-26T10:00:00.5Z", 1795687200500000000),
        ("2026-11-26T12:00:00.000000001+02:00", 1795687200000000001),
        ("2026-11-26T10:00:00.0000000017Z", 1795687200000000001),  # past ns: dropped, not rounded
        ("1970-01-01T00:00:00.000000000Z", 0),
        ("1969-12-31T23:59:59.999999999Z", -1),
    ],
)
def test_iso_times_convert_to_exact_nanoseconds(text, ns):
    assert parse_iso8601_ns(text) == ns


def test_nanosecond_precision_survives_where_a_float_would_not():
    # 2**53 ns is ~104 days: any float path loses the last digits of today's times.
    text = "2026-11-26T09:02:17.120004511Z"
    assert parse_iso8601_ns(text) == 1795683737120004511
    assert float(1795683737120004511) != 1795683737120004511
    assert format_iso8601_ns(1795683737120004511) == text
    rng = random.Random(3)
    for _ in range(500):
        ns = rng.randrange(0, 4102444800 * 10**9)
        assert parse_iso8601_ns(format_iso8601_ns(ns)) == ns


def test_missing_optional_keys_are_fine_and_evt_time_stands_in_for_time():
    alert = parse_json_alert(b'{"rule":"r","priority":"Debug","time":"2026-11-26T10:00:00Z"}')
    assert (alert.output, alert.hostname, alert.source, alert.output_fields, alert.tags) == (
        "",
        "",
        "",
        {},
        (),
    )
    no_time = parse_json_alert(b'{"rule":"r","priority":"Debug","output_fields":{"evt.time":42}}')
    assert no_time.time_ns == 42
    message_only = parse_json_alert(
        b'{"rule":"r","priority":"Debug","time":"2026-11-26T10:00:00Z","message":"m"}'
    )
    assert message_only.output == "m"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"", "invalid JSON"),
        (b"{", "invalid JSON"),
        (b'{"rule":"r",', "invalid JSON"),
        (b"[1,2]", "JSON list, expected an object"),
        (b'"text"', "JSON str, expected an object"),
        (b'{"level":"info","msg":"hello"}', "no 'rule' key"),
        (b'{"rule":"r","time":"2026-11-26T10:00:00Z"}', "no 'priority' key"),
        (b'{"rule":"r","priority":"Warning"}', "no 'time' key"),
        (b'{"rule":"r","priority":"Loud","time":"2026-11-26T10:00:00Z"}', "unknown priority 'Loud'"),
        (b'{"rule":"r","priority":4,"time":"2026-11-26T10:00:00Z"}', "'priority' must be a string, got int"),
        (b'{"rule":"","priority":"Debug","time":"2026-11-26T10:00:00Z"}', "'rule' is empty"),
        (b'{"rule":"r","priority":"Debug","time":"yesterday"}', "not an ISO 8601 time"),
        (b'{"rule":"r","priority":"Debug","time":"2026-02-30T10:00:00Z"}', "not a calendar date"),
        (b'{"rule":"r","priority":"Debug","time":"2026-11-26T25:00:00Z"}', "out of range"),
        (b'{"rule":"r","priority":"Debug","time":1}', "'time' must be a string"),
        (
            b'{"rule":"r","priority":"Debug","time":"2026-11-26T10:00:00Z","tags":"a"}',
            "'tags' must be a list",
        ),
        (
            b'{"rule":"r","priority":"Debug","time":"2026-11-26T10:00:00Z","tags":[1]}',
            "'tags' must be a list",
        ),
        (
            b'{"rule":"r","priority":"Debug","time":"2026-11-26T10:00:00Z","output_fields":[]}',
            "must be an object",
        ),
        (
            b'{"rule":"r","priority":"Debug","time":"2026-11-26T10:00:00Z","output":{}}',
            "'output' must be a string",
        ),
        (b'{"rule":"r","priority":"Debug","time":"2026-11-26T10:00:00Z","hostname":7}', "'hostname' must be"),
        (b"\xff\xfe{garbage", "invalid JSON"),
    ],
)
def test_malformed_lines_raise_alertparseerror_saying_why(line, message):
    with pytest.raises(AlertParseError, match=message.replace("(", r"\(").replace("[", r"\[")):
        parse_json_alert(line)


def test_non_utf8_bytes_inside_strings_keep_the_alert():
    line = json.dumps(make_alert_obj(output="file=@@")).encode().replace(b"@@", b"\xff\xfe/x")
    alert = parse_json_alert(line)
    assert alert.output == "file=\ufffd\ufffd/x"
    assert alert.rule == "Read sensitive file untrusted"
    surrogates = line.decode("utf-8", "surrogateescape")
    assert parse_json_alert(surrogates).output == "file=\ufffd\ufffd/x"


def test_huge_lines_are_whole_up_to_the_limit_and_truncated_with_a_marker_beyond_it():
    big = "A" * (2 * 1024 * 1024)
    alert = parse_json_alert(json.dumps(make_alert_obj(output=big)))
    assert len(alert.output) == len(big)
    assert TRUNCATED_KEY not in alert.output_fields
    obj = make_alert_obj(output="A" * MAX_LINE_LENGTH + "END")
    obj["output_fields"]["proc.cmdline"] = "C" * (MAX_FIELD_CHARS + 5)
    alert = parse_json_alert(json.dumps(obj))  # kept, not dropped
    assert alert.rule == obj["rule"] and alert.priority.label == obj["priority"]
    assert alert.output.startswith("A" * MAX_FIELD_CHARS)
    cut = MAX_LINE_LENGTH + 3 - MAX_FIELD_CHARS
    assert alert.output.endswith(f"…[truncated by falcotui: {cut} more characters]")
    assert alert.output_fields["proc.cmdline"].endswith("[truncated by falcotui: 5 more characters]")
    assert "characters or entries were cut" in alert.output_fields[TRUNCATED_KEY]
    deep = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(AlertParseError, match="invalid JSON"):
        parse_json_alert(deep)


# ---------------------------------------------------------------- export and dedup


def test_export_round_trips_with_provenance(shared_data):
    for line in sample_alert_lines(shared_data):
        alert = parse_json_alert(line, node="node-a", pod="falco-abc")
        exported = alert_to_json(alert)
        assert b"\n" not in exported
        assert parse_json_alert(exported) == alert
        obj = orjson.loads(exported)
        assert obj["priority"] in LABELS and obj["node"] == "node-a" and obj["pod"] == "falco-abc"
        # the exported line is itself a Falco-shaped alert line
        assert {
            "time",
            "rule",
            "priority",
            "source",
            "hostname",
            "output",
            "output_fields",
            "tags",
        } <= obj.keys()


def test_dedup_key_separates_nodes_rules_times_and_outputs():
    base = parse_json_alert(json.dumps(make_alert_obj()), node="node-a")
    same = parse_json_alert(json.dumps(make_alert_obj()), node="node-a")
    assert dedup_key(base) == dedup_key(same) and len(dedup_key(base)) == 16
    variants = [
        parse_json_alert(json.dumps(make_alert_obj()), node="node-b"),  # same text and ns, other node
        parse_json_alert(json.dumps(make_alert_obj(hostname="node-c")), node="node-a"),
        parse_json_alert(json.dumps(make_alert_obj(rule="Other rule")), node="node-a"),
        parse_json_alert(json.dumps(make_alert_obj(time="2026-11-26T10:00:00.000000002Z")), node="node-a"),
        parse_json_alert(json.dumps(make_alert_obj(output=make_alert_obj()["output"] + " ")), node="node-a"),
    ]
    keys = {dedup_key(v) for v in variants}
    assert len(keys) == len(variants) and dedup_key(base) not in keys


def test_dedup_key_ignores_the_typing_of_output_fields():
    alert = parse_json_alert(json.dumps(make_alert_obj()))
    as_strings = dataclasses.replace(
        alert, channel="grpc", output_fields={k: str(v) for k, v in alert.output_fields.items()}
    )
    assert as_strings != alert
    assert dedup_key(as_strings) == dedup_key(alert)


# ---------------------------------------------------------------- text mode


def default_rule_templates(shared_data) -> list[tuple[str, str, str]]:
    docs = yaml.safe_load((shared_data / "falco_rules.yaml").read_text())
    return [(d["rule"], d["priority"], d["output"]) for d in docs if "rule" in d and "output" in d]


def render_template(template: str, value_of) -> str:
    return re.sub(r"%([A-Za-z_][\w.]*\w(?:\[[^\]]*\])?)", lambda m: value_of(m[1]), template.strip())


def test_text_mode_parser_lives_in_alert_text_only():
    # alerts.py once re-exported it lazily, an import cycle (alert_text imports alerts): one home now
    assert not hasattr(alerts, "parse_text_alert") and not hasattr(alerts, "OutputTemplates")
    assert parse_text_alert.__module__ == OutputTemplates.__module__ == "falcotui.falco.alert_text"


def test_text_alert_time_of_day_and_iso_forms():
    ref = parse_iso8601_ns("2026-11-26T14:00:00Z")
    a = parse_text_alert("13:44:05.478445995: Critical A shell was spawned", reference_ns=ref)
    assert a.time_ns == parse_iso8601_ns("2026-11-26T13:44:05.478445995Z")
    assert a.priority is Priority.CRITICAL and a.rule == "" and a.message == "A shell was spawned"
    assert a.output == "13:44:05.478445995: Critical A shell was spawned"
    # just after midnight, a time of 23:59 belongs to the previous day
    late = parse_text_alert(
        "23:59:59.900000000: Notice x", reference_ns=parse_iso8601_ns("2026-11-27T00:00:01Z")
    )
    assert late.time_ns == parse_iso8601_ns("2026-11-26T23:59:59.9Z")
    iso = parse_text_alert("2026-11-26T09:02:17.120004511+0000: Informational y\n", hostname="node-a")
    assert iso.time_ns == 1795683737120004511 and iso.priority is Priority.INFORMATIONAL
    assert iso.hostname == "node-a" and iso.output.endswith("y")


@pytest.mark.parametrize(
    "line",
    [
        "",
        "hello",
        "13:44:05.478445995 Critical x",
        "13:44:05.478445995: Loud x",
        "99:99:99.000000000: Notice x",
    ],
)
def test_text_lines_that_are_not_alerts_raise(line):
    with pytest.raises(AlertParseError):
        parse_text_alert(line)


def test_text_alert_rule_inferred_from_every_default_rule_template(shared_data):
    rules = default_rule_templates(shared_data)
    templates = OutputTemplates(rules, appended="container_id=%container.id container_name=%container.name")
    same_template = {}
    for name, _prio, output in rules:
        same_template.setdefault(output.strip(), set()).add(name)
    for i, (name, prio, output) in enumerate(rules):
        values = {}

        def value_of(field, values=values, i=i):
            return values.setdefault(field, f"v{i}-{len(values)}")

        message = render_template(output, value_of)
        # Falco's container plugin appends its own fields after the rule's output
        line = (
            f"10:00:00.000000001: {Priority.parse(prio).label} {message} container_id=abc container_name=web"
        )
        alert = parse_text_alert(line, rules=templates, reference_ns=parse_iso8601_ns("2026-11-26T10:00:00Z"))
        assert alert.rule in same_template[output.strip()], (name, alert.rule)
        assert all(alert.output_fields[f] == v for f, v in values.items()), name
        assert alert.output_fields["container.name"] == "web"
        bare = parse_text_alert(line.removesuffix(" container_id=abc container_name=web"), rules=templates)
        assert bare.rule == alert.rule and bare.output_fields == values


def test_text_alert_field_values_may_contain_template_text():
    rules = [("Shell", "Notice", "Shell spawned (user=%user.name cmd=%proc.cmdline)")]
    line = "10:00:00.000000001: Notice Shell spawned (user=root cmd=sh -c 'echo user=x cmd=y)')"
    alert = parse_text_alert(line, rules=rules, reference_ns=0)
    assert alert.rule == "Shell"
    assert alert.output_fields == {"user.name": "root", "proc.cmdline": "sh -c 'echo user=x cmd=y)'"}
    # a rule of another priority never matches
    assert parse_text_alert(line.replace("Notice", "Warning"), rules=rules, reference_ns=0).rule == ""


def test_a_lone_surrogate_escape_keeps_the_alert_and_round_trips():
    line = json.dumps(make_alert_obj(output="file=@@")).replace("@@", "\\udc80\\ud800")
    alert = parse_json_alert(line)
    assert alert.output == "file=\udc80\ud800"
    exported = alert_to_json(alert)
    assert b"\\udc80\\ud800" in exported
    assert json.loads(exported)["output"] == alert.output
