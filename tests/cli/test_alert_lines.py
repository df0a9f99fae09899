"""How `falcotui alerts` writes alerts and reads its options: attacker-controlled text never reaches the
terminal as control sequences, colours only where asked for, durations and channels as typed."""

from __future__ import annotations

import argparse
import io

import pytest

from falcotui.cli.alerts_cmd import AlertPrinter, parse_channels
from falcotui.cli.common import CliError, Output, duration, short_reason
from falcotui.falco.alerts import parse_json_alert
from falcotui.ops.alerts.store import AlertStore

HOSTILE = (
    '{"time":"2026-11-26T09:02:17.120004511Z","rule":"Terminal shell in container\\u001b[2J",'
    '"priority":"Notice","source":"syscall","hostname":"node-a",'
    '"output":"09:02:17.120004511: Notice A shell was spawned (cmdline=sh -c \\u001b]0;pwned\\u0007'
    'echo\\u001b[31m red\\u202e\\nsecond line)","output_fields":{"evt.time":1795683737120004511},"tags":[]}'
)


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def printed(*, json: bool, color: bool) -> str:
    store = AlertStore(10)
    store.append(parse_json_alert(HOSTILE, node="node-a\x1b[5m", pod="falco-x"))
    out = io.BytesIO()
    AlertPrinter(out, json=json, color=color, match=lambda _a, _c: True).write(store)
    return out.getvalue().decode()


def test_a_hostile_alert_prints_as_one_line_without_control_sequences() -> None:
    line = printed(json=False, color=False)
    assert line.count("\n") == 1 and "\x1b" not in line and "\x07" not in line and "\u202e" not in line
    assert line.startswith("2026-11-26T09:02:17.120004511Z Notice        node-a")
    assert "Terminal shell in container: A shell was spawned (cmdline=sh -c echo red⏎second line)" in line


def test_colours_are_only_ours() -> None:
    line = printed(json=False, color=True)
    assert line.count("\x1b[") == 4  # priority on/off, rule on/off
    assert "\x1b]" not in line and "\x1b[2J" not in line and "\x1b[31m" not in line


def test_json_lines_keep_the_alert_exact_and_escaped() -> None:
    line = printed(json=True, color=False)
    assert line.count("\n") == 1 and "\x1b" not in line  # JSON escapes control characters
    again = parse_json_alert(line.strip())
    assert again.rule == "Terminal shell in container\x1b[2J" and again.node == "node-a\x1b[5m"
    assert again.pod == "falco-x" and again.channel == "log"


@pytest.mark.parametrize(
    ("environ", "tty", "color"),
    [({}, True, True), ({"NO_COLOR": "1"}, True, False), ({"TERM": "dumb"}, True, False), ({}, False, False)],
)
def test_colour_only_on_a_terminal_without_no_color(environ: dict, tty: bool, color: bool) -> None:
    stream = Tty() if tty else io.StringIO()
    assert Output.detect(stream, environ=environ).color is color


def test_durations_and_channels_as_typed() -> None:
    assert [duration(t) for t in ("90", "90s", "10m", "1h30m", "2d")] == [90, 90, 600, 5400, 172800]
    for bad in ("", "10x", "m10", "0s", "-5m"):
        with pytest.raises(argparse.ArgumentTypeError):
            duration(bad)
    assert parse_channels("grpc, log,grpc") == ("grpc", "log")
    with pytest.raises(CliError, match="unknown channel syslog"):
        parse_channels("log,syslog")


def test_connection_failures_read_as_one_short_reason() -> None:
    raw = (
        "GET /version: cannot reach the API server at http://127.0.0.1:1: "
        "HTTPConnectionPool(host='127.0.0.1', port=1): Max retries exceeded with url: /version "
        "(Caused by NewConnectionError(\"HTTPConnection(host='127.0.0.1', port=1): "
        'Failed to establish a new connection: [Errno 111] Connection refused"))'
    )
    assert short_reason(Exception(raw)) == "connection refused"
    assert short_reason(Exception("read timed out after 30 s")) == "timed out"
