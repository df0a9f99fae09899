"""Classifying a Falco pod's log lines: the shared sample log line by line, timestamps, and odd lines."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from falcotui.falco.alerts import Priority, parse_iso8601_ns
from falcotui.falco.loglines import LineKind, LogLineClassifier, classify_lines, split_k8s_timestamp

K = LineKind
NOV6 = parse_iso8601_ns("2026-11-06T09:00:01Z")
SAMPLE_KINDS = [
    K.VERSION,
    K.CONFIG_FILES,
    K.CONFIG_FILE,
    K.CONFIG_FILE,
    K.PLUGIN,
    K.RULES_LOADING,
    K.RULES_FILE,
    K.RULES_FILE,
    K.HOSTNAME,
    K.EVENT_SOURCES,
    K.EVENT_SOURCES,
    K.OPENING,  # "Opening 'syscall' source with modern BPF probe."
    K.WEBSERVER,
    K.ALERT_JSON,
    K.ALERT_JSON,
    K.SIGHUP,
    K.VERSION,
    K.RULES_LOADING,
    K.RULES_FILE,
    K.RULES_FILE,
    K.ALERT_JSON,
]


def sample_lines(shared_data) -> list[str]:
    return (shared_data / "falco_stdout_sample.log").read_text().splitlines()


def test_every_sample_line_is_classified_as_expected(shared_data):
    result = classify_lines(sample_lines(shared_data), node="node-a", pod="falco-xczjd")
    assert [r.kind for r in result] == SAMPLE_KINDS


def test_sample_line_details(shared_data):
    r = classify_lines(sample_lines(shared_data), node="node-a", pod="falco-xczjd")
    assert (r[0].version, r[0].detail) == ("0.45.0", "x86_64")
    assert r[0].falco_time_ns == parse_iso8601_ns("2026-11-26T09:00:01Z")
    assert r[0].text == "Falco version: 0.45.0 (x86_64)"
    assert (r[2].path, r[2].validation, r[2].validation_ok) == ("/etc/falco-config/falco.yaml", "ok", True)
    assert r[3].path == "/etc/falco/config.d/falco.container_plugin.yaml"
    assert (r[4].detail, r[4].path) == ("container@0.7.1", "/usr/share/falco/plugins/libcontainer.so")
    assert [x.path for x in r if x.kind is K.RULES_FILE] == [
        "/etc/falco/falco_rules.yaml",
        "/etc/falco/rules.d/custom-rules.yaml",
    ] * 2
    assert r[8].detail == "node-a"
    assert r[9].sources == ("syscall",) and r[10].sources == ("syscall",)
    assert r[12].detail == "0.0.0.0:8765"
    assert r[15].falco_time_ns == parse_iso8601_ns("2026-11-26T09:05:40Z")
    alerts = [x.alert for x in r if x.alert is not None]
    assert [a.rule for a in alerts] == [
        "Terminal shell in container",
        "Read sensitive file untrusted",
        "Falco internal: hot restart failure",
    ]
    assert all((a.node, a.pod, a.channel) == ("node-a", "falco-xczjd", "log") for a in alerts)
    assert all(x.k8s_time_ns is None for x in r)


@pytest.mark.parametrize(
    ("stamp", "ns"),
    [
        ("2026-11-26T09:00:01.123456789Z", 1795683601123456789),
        ("2026-11-26T09:00:01.12345Z", 1795683601123450000),  # kubelet trims trailing zeros
        ("2026-11-26T09:00:01Z", 1795683601000000000),
        ("2026-11-26T10:00:01.5+01:00", 1795683601500000000),
    ],
)
def test_kubectl_timestamps_are_split_off_exactly(shared_data, stamp, ns):
    assert split_k8s_timestamp(f"{stamp} hello world") == (ns, "hello world")
    lines = [f"{stamp} {line}" for line in sample_lines(shared_data)]
    result = classify_lines(lines)
    assert [r.kind for r in result] == SAMPLE_KINDS
    assert all(r.k8s_time_ns == ns for r in result)
    assert result[0].text == "Falco version: 0.45.0 (x86_64)"


@pytest.mark.parametrize(
    "line",
    ["no timestamp here", "2026-11-26T09:00:01Z", "2026-11-26T09:00:01Zx y", "2026-13-26T09:00:01Z x", ""],
)
def test_lines_without_a_kubectl_timestamp_are_left_whole(line):
    assert split_k8s_timestamp(line) == (None, line)


def test_file_lines_follow_the_list_they_are_in():
    c = LogLineClassifier()
    lines = [
        "Thu Nov 26 09:00:01 2026: Loading rules from:",
        "Thu Nov 26 09:00:01 2026:    /etc/falco/extra.yaml | schema validation: ok",
        "Thu Nov 26 09:00:01 2026: Falco initialized with configuration files:",
        "Thu Nov 26 09:00:01 2026:    /etc/falco/rules-looking-config.yaml | schema validation: ok",
    ]
    assert [c.classify(x).kind for x in lines] == [
        K.RULES_LOADING,
        K.RULES_FILE,
        K.CONFIG_FILES,
        K.CONFIG_FILE,
    ]


def test_failed_schema_validation_is_reported():
    line = (
        "Thu Nov 26 09:00:01 2026:    /etc/falco/rules.d/bad.yaml | schema validation: failed for <root>: x"
    )
    (r,) = classify_lines([line])
    assert r.kind is K.RULES_FILE and r.validation_ok is False
    assert r.validation == "failed for <root>: x" and r.path == "/etc/falco/rules.d/bad.yaml"


@pytest.mark.parametrize(
    ("line", "kind", "attr", "value"),
    [
        (
            "Error: /etc/falco/rules.d/x.yaml: Invalid",
            K.ERROR,
            "detail",
            "/etc/falco/rules.d/x.yaml: Invalid",
        ),
        ("Thu Nov 26 09:00:01 2026: Error: cannot open config", K.ERROR, "detail", "cannot open config"),
        ("Thu Nov  6 09:00:01 2026: SIGHUP received, restarting...", K.SIGHUP, "falco_time_ns", NOV6),
        ("2026-11-26T09:00:01+0000: Falco version: 0.43.1 (aarch64)", K.VERSION, "version", "0.43.1"),
        (
            "2026-11-26T09:00:01+0000: SIGHUP received, restarting...",
            K.SIGHUP,
            "falco_time_ns",
            1795683601 * 10**9,
        ),
        ("Mon Jan  5 00:00:00 2026: Starting gRPC server at 0.0.0.0:5060", K.GRPC, "detail", "0.0.0.0:5060"),
        (
            "Mon Jan  5 00:00:00 2026: Loading rules from file /etc/falco/a.yaml",
            K.RULES_FILE,
            "path",
            "/etc/falco/a.yaml",
        ),
        (
            "Mon Jan  5 00:00:00 2026: Falco initialized with configuration file: /etc/falco/falco.yaml",
            K.CONFIG_FILE,
            "path",
            "/etc/falco/falco.yaml",
        ),
        (
            "Mon Jan  5 00:00:00 2026: Enabled event sources: syscall, k8s_audit",
            K.EVENT_SOURCES,
            "sources",
            ("syscall", "k8s_audit"),
        ),
        ("Mon Jan  5 00:00:00 2026: Events detected: 12", K.OTHER, "text", "Events detected: 12"),
        (
            "I1126 13:51:58.094205 12991 something else",
            K.UNKNOWN,
            "text",
            "I1126 13:51:58.094205 12991 something else",
        ),
        ("", K.UNKNOWN, "text", ""),
        ("Fri Nov 31 09:00:01 2026: Falco version: 1", K.UNKNOWN, "falco_time_ns", None),
    ],
)
def test_falco_log_line_kinds(line, kind, attr, value):
    (r,) = classify_lines([line])
    assert r.kind is kind
    assert getattr(r, attr) == value


def test_text_mode_alerts_are_parsed_with_the_kubectl_date():
    c = LogLineClassifier(node="node-a", rules=[("Shell in container", "Notice", "Shell (user=%user.name)")])
    r = c.classify(b"2026-11-26T13:44:05.600000000Z 13:44:05.478445995: Notice Shell (user=root)\n")
    assert r.kind is K.ALERT_TEXT
    assert r.alert.time_ns == parse_iso8601_ns("2026-11-26T13:44:05.478445995Z")
    assert (r.alert.rule, r.alert.priority, r.alert.node) == ("Shell in container", Priority.NOTICE, "node-a")
    assert r.alert.output_fields == {"user.name": "root"}
    iso = c.classify("2026-11-26T13:44:05.478445995+0000: Error Something broke")
    assert iso.kind is K.ALERT_TEXT and iso.alert.priority is Priority.ERROR and iso.alert.rule == ""


def test_broken_alert_lines_are_kept_with_the_reason():
    (r,) = classify_lines(['{"level":"info","msg":"not falco"}'])
    assert r.kind is K.BAD_ALERT and "no 'rule' key" in r.error and r.alert is None
    (t,) = classify_lines(['{"rule":"x", "priority": "Debug", "time": "2026-11-26T10:00:00Z"'])
    assert t.kind is K.BAD_ALERT and "invalid JSON" in t.error


def test_non_utf8_log_bytes_do_not_break_classification():
    (r,) = classify_lines([b"Thu Nov 26 09:00:01 2026: Error: bad \xff\xfe byte"])
    assert r.kind is K.ERROR and r.detail == "bad \ufffd\ufffd byte"


PREFIXES = st.sampled_from(
    ["", "{", "2026-11-26T09:00:01.5Z ", "Thu Nov 26 09:00:01 2026: ", "13:44:05.4: Notice ", "Error: "]
)


@settings(max_examples=200, deadline=None)
@given(PREFIXES, st.text(max_size=120) | st.binary(max_size=120).map(lambda b: b.decode("latin-1")))
def test_any_line_is_classified_without_raising(prefix, rest):
    c = LogLineClassifier(rules=[("r", "Notice", "x=%proc.name")])
    for line in (prefix + rest, (prefix + rest).encode("utf-8", "surrogatepass")):
        result = c.classify(line)
        assert isinstance(result.kind, LineKind)
        assert (result.alert is not None) == (result.kind in (K.ALERT_JSON, K.ALERT_TEXT))
        assert (result.error is not None) == (result.kind is K.BAD_ALERT)
