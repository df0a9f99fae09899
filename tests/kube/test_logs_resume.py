"""Stern-style resume: any sequence of cuts (mid-line too) delivers every log line exactly once."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from falcotui.kube.logs_resume import (
    LogDecoder,
    ResumeFilter,
    parse_rfc3339_ns,
    since_time_param,
    split_timestamp,
)

BASE = 1_795_000_000 * 1_000_000_000


def go_rfc3339nano(ts_ns: int) -> str:
    """What the kubelet prints: RFC3339Nano, trailing zeros of the fraction trimmed."""
    secs, frac = divmod(ts_ns, 1_000_000_000)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    if frac:
        text += "." + f"{frac:09d}".rstrip("0")
    return text + "Z"


def render(lines: list[tuple[int, bytes]]) -> bytes:
    return b"".join(go_rfc3339nano(ts).encode() + b" " + content + b"\n" for ts, content in lines)


def server_since(full: list[tuple[int, bytes]], since: str | None) -> bytes:
    """The kubelet's `sinceTime`: every line whose timestamp is not before it."""
    if since is None:
        return render(full)
    cutoff = parse_rfc3339_ns(since.encode())
    return render([line for line in full if line[0] >= cutoff])


def test_timestamps_parse_to_exact_nanoseconds() -> None:
    assert parse_rfc3339_ns(b"2026-11-26T13:44:58Z") == 1_795_700_698 * 10**9
    assert parse_rfc3339_ns(b"2026-11-26T13:44:58.5Z") == 1_795_700_698 * 10**9 + 500_000_000
    assert parse_rfc3339_ns(b"2026-11-26T13:44:58.000000001Z") == 1_795_700_698 * 10**9 + 1
    assert parse_rfc3339_ns(b"2026-11-26T14:44:58.25+01:00") == 1_795_700_698 * 10**9 + 250_000_000
    with pytest.raises(ValueError):
        parse_rfc3339_ns(b"Thu Nov 26 13:44:58 2026")
    assert split_timestamp(b'2026-11-26T13:44:58.5Z {"rule":"x"}') == (
        1_795_700_698 * 10**9 + 500_000_000,
        b'{"rule":"x"}',
    )
    assert split_timestamp(b"2026-11-26T13:44:58Z") == (1_795_700_698 * 10**9, b"")
    assert split_timestamp(b"Falco version: 0.45.0") is None


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(0, 5 * 10**9), min_size=1, max_size=30),
    st.sampled_from([b"", b"\r"]),
    st.lists(st.integers(1, 200), max_size=6),
)
def test_the_per_second_cache_reads_every_timestamp_as_the_full_parser_does(offsets, cr, cuts) -> None:
    """The decoder's fast path (the kubelet's form, seconds cached) agrees with parsing each prefix in full,
    whatever the fraction's length, CRLF endings and however the bytes are cut into chunks."""
    stamps = sorted(BASE + 123 * 10**9 + o for o in offsets)
    lines = [(ts, b'{"n":%d}' % i) for i, ts in enumerate(stamps)]
    data = b"".join(go_rfc3339nano(ts).encode() + b" " + c + cr + b"\n" for ts, c in lines)
    got: list[tuple[int, bytes]] = []
    dec, start = LogDecoder(ResumeFilter()), 0
    for cut in [*cuts, len(data)]:
        got += dec.feed(data[start : start + cut])
        start += cut
    got += dec.feed(data[start:])
    assert got == [(parse_rfc3339_ns(go_rfc3339nano(ts).encode()), c) for ts, c in lines]
    assert [split_timestamp(raw) for raw in data.split(b"\n")[:-1]] == [(ts, c + cr) for ts, c in lines]


def test_since_time_floors_to_the_second() -> None:
    assert since_time_param(parse_rfc3339_ns(b"2026-11-26T13:44:58.999999999Z")) == "2026-11-26T13:44:58Z"


def test_identical_lines_sharing_a_timestamp_are_counted_not_collapsed() -> None:
    full = [(BASE, b"same"), (BASE, b"same"), (BASE, b"same"), (BASE + 1, b"next")]
    resume = ResumeFilter()
    dec = LogDecoder(resume)
    got = dec.feed(render(full[:2]))  # two of the three identical lines, then a cut
    resume.begin_resume()
    got += LogDecoder(resume).feed(server_since(full, since_time_param(resume.last_ts)))
    assert got == full


log_lines = st.lists(
    st.tuples(
        st.sampled_from([0, 0, 0, 1, 7, 999_999_999, 1_000_000_000, 2_500_000_000]),  # gaps between lines
        st.sampled_from([b"a", b"b", b'{"rule":"Terminal shell in container"}', b"", b"x y z"]),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(steps=log_lines, cuts=st.lists(st.floats(0, 1), max_size=6), chunk=st.integers(1, 50))
def test_any_cuts_deliver_every_line_exactly_once(steps, cuts, chunk) -> None:
    full, ts = [], BASE
    for gap, content in steps:
        ts += gap
        full.append((ts, content))
    resume = ResumeFilter()
    delivered: list[tuple[int, bytes]] = []
    body = render(full)
    for cut in [*cuts, None]:
        dec = LogDecoder(resume)
        end = len(body) if cut is None else int(len(body) * cut)
        for i in range(0, end, chunk):  # arbitrary chunk boundaries, the last one may end mid-line
            delivered += dec.feed(body[i : min(i + chunk, end)])
        if resume.last_ts is not None:
            resume.begin_resume()
            body = server_since(full, since_time_param(resume.last_ts))
        else:
            body = render(full)
    assert delivered == full


def test_a_minimum_time_drops_older_lines_also_on_resume() -> None:
    f = ResumeFilter(min_ts=BASE + 500)
    assert [f.accept(BASE + d, b"x") for d in (0, 499, 500, 501)] == [False, False, True, True]
    f.begin_resume()
    assert [f.accept(BASE + d, b"x") for d in (0, 500, 501, 502)] == [False, False, False, True]


def test_a_resume_that_reaches_back_to_the_last_line_proves_continuity() -> None:
    """Issue 17 item 7: a resume could not say whether lines were lost while the stream was cut."""
    lines = [(BASE + i * 400_000_000, f"line {i}".encode()) for i in range(10)]
    rf = ResumeFilter()
    assert [t for t, _ in LogDecoder(rf).feed(render(lines[:4]))] == [t for t, _ in lines[:4]]
    rf.begin_resume()  # the server still holds line 3: it comes again from its second on
    since = since_time_param(rf.last_ts)
    fresh = LogDecoder(rf).feed(server_since(lines, since))
    assert [c for _, c in fresh] == [c for _, c in lines[4:]]
    assert rf.take_gaps() == []


def test_a_resume_that_starts_after_the_last_line_reports_the_gap() -> None:
    lines = [(BASE + i * 400_000_000, f"line {i}".encode()) for i in range(10)]
    rf = ResumeFilter()
    LogDecoder(rf).feed(render(lines[:4]))
    rf.begin_resume()
    rotated = lines[7:]  # lines 4-6 and the last one seen went with a rotated file while the stream was cut
    fresh = LogDecoder(rf).feed(render(rotated))
    assert [c for _, c in fresh] == [c for _, c in rotated]  # nothing held back, nothing repeated
    assert rf.take_gaps() == [(lines[3][0], lines[7][0])]
    assert rf.take_gaps() == []  # said once
