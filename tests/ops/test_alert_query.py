"""The filter-bar language: parsing, errors with positions, round trips and matching semantics."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from falcotui.falco.alerts import Priority
from falcotui.ops.alerts.query import EMPTY_QUERY, SINCE_PRESETS, AlertQuery, QueryError, Term, parse_query


def test_the_example_from_the_filter_bar():
    q = parse_query('priority>=warning node:ip-10-0-1-23 ns:shop rule:"Terminal shell" tag:mitre shell')
    assert q.least_severe is Priority.WARNING and q.most_severe is None
    assert q.terms == (
        Term("node", "ip-10-0-1-23"),
        Term("ns", "shop"),
        Term("rule", "Terminal shell"),
        Term("tag", "mitre"),
        Term("text", "shell"),
    )
    assert q.to_text() == 'priority>=warning node:ip-10-0-1-23 ns:shop rule:"Terminal shell" tag:mitre shell'
    assert parse_query(q.to_text()) == q


@pytest.mark.parametrize(
    ("text", "least", "most"),
    [
        ("priority>=warning", Priority.WARNING, None),
        ("prio>warn", Priority.ERROR, None),
        ("p<=notice", None, Priority.NOTICE),
        ("priority<error", None, Priority.WARNING),
        ("priority=critical", Priority.CRITICAL, Priority.CRITICAL),
        ("priority:info", Priority.INFORMATIONAL, Priority.INFORMATIONAL),
        ("priority>=error priority<=critical", Priority.ERROR, Priority.CRITICAL),
        ("PRIORITY>=Emergency", Priority.EMERGENCY, None),
    ],
)
def test_priority_bounds(text, least, most):
    q = parse_query(text)
    assert (q.least_severe, q.most_severe) == (least, most)
    assert parse_query(q.to_text()) == q


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ("priority>=warm", 10, "unknown priority 'warm'"),
        ("node:a nod:b", 7, "unknown filter key 'nod'"),
        ('rule:"Terminal shell', 5, "unterminated quote"),
        ("ns:", 0, "needs a value"),
        ("since:5 years", 6, "bad time '5'"),
        ("priority>emergency", 0, "no priority is > Emergency"),
        ("priority>=error priority<=warning", 16, "excludes every priority"),
        ("node>=x", 4, "node takes ':' or '='"),
        ("-priority>=error", 0, "cannot be negated"),
        ('rule:"a"b', 8, "expected a space after the quoted value"),
        ('ab"c', 2, "a quote inside a word"),
        ("priority >= warning", 9, "an operator needs a key before it"),
        ("node: ip-10-0-1-23", 0, "node: needs a value"),
        ("since:1h since:2h", 9, "since given twice"),
        ("since:5m until:10m", 9, "since is after until"),
        ("since:2026-11-26T10:00:00Z until:2026-11-26T09:00:00Z", 27, "since is after until"),
    ],
)
def test_errors_say_what_and_where(text, position, fragment):
    with pytest.raises(QueryError) as info:
        parse_query(text)
    err = info.value
    assert fragment in err.message
    assert err.position == position
    assert f"column {position + 1}" in str(err)
    assert err.caret(text).splitlines()[1].startswith(" " * position + "^")


def test_keys_aliases_negation_and_fields():
    q = parse_query('namespace:shop -tag:k8s source!=internal last:15m proc.name:cat "/etc/shadow" rule=Foo')
    assert q.terms == (
        Term("ns", "shop"),
        Term("tag", "k8s", negated=True),
        Term("source", "internal", negated=True),
        Term("proc.name", "cat"),
        Term("text", "/etc/shadow"),
        Term("rule=", "Foo"),
    )
    assert q.since_seconds == 900 and q.is_relative
    assert parse_query(q.to_text()) == q
    assert parse_query("") == EMPTY_QUERY and EMPTY_QUERY.is_empty and parse_query("   ").to_text() == ""


def test_click_to_filter_and_presets():
    q = parse_query("priority>=warning").with_term("node", "ip-10-0-1-23").with_term("rule=", 'Odd "name"')
    assert q.to_text() == 'priority>=warning node:ip-10-0-1-23 rule="Odd \\"name\\""'
    assert parse_query(q.to_text()) == q
    assert q.with_since(SINCE_PRESETS["1h"]).to_text().endswith("since:1h")
    with pytest.raises(QueryError):
        q.with_term("bogus", "x")


def test_matching_semantics(mk):
    shell = mk.log_alert(1, rule="Terminal shell in container", ns="shop", pod="web-7d9f8", cmd="sh -c id")
    read = mk.log_alert(2, node="ip-10-0-1-57", ns="payments", pod="api-5c", cmd="cat /etc/shadow")
    internal = dataclasses.replace(read, source="internal", rule="Falco internal: hot restart failure")

    def hits(text, **kw):
        q = parse_query(text)
        return [
            name
            for name, a in (("shell", shell), ("read", read), ("internal", internal))
            if q.matches(a, **kw)
        ]

    assert hits("priority>=warning") == ["read", "internal"]
    assert hits("priority=notice") == ["shell"]
    assert hits('rule:"terminal SHELL"') == ["shell"]
    assert hits("rule=Terminal") == []
    assert hits('rule="Terminal shell in container"') == ["shell"]
    assert hits("node:ip-10-0-1-57") == ["read", "internal"]
    assert hits("node:ip-10-0-1-*") == ["shell", "read", "internal"]
    assert hits("node:ip-10-0-1-2") == ["shell"]  # a name's start (ip-10-0-1-23)
    assert hits("node:ip-10-0-1") == ["shell", "read", "internal"]
    assert hits("node:57") == ["read", "internal"]  # a name's last part
    assert hits("node:5") == []  # not any substring: "5" is neither the start nor the last part
    assert hits("node:7") == []  # the end counts only after a separator: -57, not 7
    assert hits("-node:57") == ["shell"]
    assert hits("ns:shop ns:payments") == ["shell", "read", "internal"]  # same key: either
    assert hits("ns:shop node:ip-10-0-1-57") == []  # different keys: both
    assert hits("pod:api-5c") == ["read", "internal"]
    assert hits("tag:mitre_*") == ["shell", "read", "internal"]
    assert hits("tag:shell") == ["shell"]
    assert hits("-source:internal") == ["shell", "read"]
    assert hits("proc.name:sh") == ["shell"]
    assert hits("user.uid:0") == ["shell", "read", "internal"]
    assert hits("CAT /ETC") == ["read", "internal"]  # the output, any case
    assert hits('"sh -c"') == ["shell"]
    assert hits('"cat /etc" -hot') == ["read"]
    assert hits("channel:grpc") == []
    assert hits("channel:grpc", channels=("log", "grpc")) == ["shell", "read", "internal"]


def test_time_windows(mk, clock):
    now = clock.now
    old = mk.log_alert(1, time_ns=now - 20 * 60 * mk.NS)
    recent = mk.log_alert(2, time_ns=now - 2 * 60 * mk.NS)
    q = parse_query("since:5m")
    assert [q.matches(a, now_ns=now) for a in (old, recent)] == [False, True]
    q = parse_query("since:30m until:10m")
    assert [q.matches(a, now_ns=now) for a in (old, recent)] == [True, False]
    q = parse_query("since:2026-11-26T09:30:00Z")
    assert q.since_ns is not None and not q.is_relative
    assert [q.matches(a) for a in (old, recent)] == [True, True]  # both are after 09:30 on that day
    assert parse_query(q.to_text()) == q


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.sampled_from('ab:=<>!-" \\*.\tp1mhriotyens\x00é'), max_size=40) | st.text(max_size=40)
)
def test_any_text_parses_or_raises_our_error(text):
    try:
        q = parse_query(text)
    except QueryError as err:
        assert 0 <= err.position <= len(text) and err.message
        return
    assert isinstance(q, AlertQuery)
    assert parse_query(q.to_text()) == q


_values = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12)
_terms = st.builds(
    Term,
    key=st.sampled_from(
        ["rule", "rule=", "node", "ns", "pod", "tag", "source", "channel", "text", "proc.name"]
    ),
    value=_values,
    negated=st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(
    st.builds(
        AlertQuery,
        least_severe=st.none() | st.sampled_from(Priority),
        terms=st.lists(_terms, max_size=5).map(tuple),
        since_seconds=st.none() | st.sampled_from(sorted(SINCE_PRESETS.values())),
    )
)
def test_to_text_round_trips(q):
    assert parse_query(q.to_text()) == q


def test_from_command_line_options(mk):
    q = AlertQuery.from_options(min_priority="warn", rule="sensitive", node="ip-10-0-1-23", since="10m")
    assert q.to_text() == "priority>=warning rule:sensitive node:ip-10-0-1-23 since:10m"
    assert q.matches(mk.log_alert(1, time_ns=mk.T0), now_ns=mk.T0 + 60 * mk.NS)
    assert not q.matches(mk.log_alert(1, time_ns=mk.T0), now_ns=mk.T0 + 3600 * mk.NS)
    assert AlertQuery.from_options() == EMPTY_QUERY
    with pytest.raises(QueryError, match="--min-priority: unknown priority 'loud'"):
        AlertQuery.from_options(min_priority="loud")
    with pytest.raises(QueryError, match="--since: bad time 'yesterday'"):
        AlertQuery.from_options(since="yesterday")


def test_a_node_filter_that_matches_no_node_is_named() -> None:
    nodes = ["sim-node-01", "sim-node-02", "sim-node-03"]
    assert parse_query("node:03 node:sim-node-0*").unmatched_nodes(nodes) == []
    assert parse_query("node:04 node:sim -node:gpu").unmatched_nodes(nodes) == ["04"]


def test_node_equals_is_exactly_one_node(mk) -> None:
    """The "by node" list and node detail pick one node: `node=ip-10-0-1-1` must not take ip-10-0-1-11."""
    one = mk.log_alert(1, node="ip-10-0-1-1")
    eleven = mk.log_alert(2, node="ip-10-0-1-11")
    q = parse_query("node=ip-10-0-1-1")
    assert [q.matches(a) for a in (one, eleven)] == [True, False]
    assert parse_query("node:ip-10-0-1-1").matches(eleven)  # the prefix form still takes both
    assert q.to_text() == "node=ip-10-0-1-1" and parse_query(q.to_text()) == q
    assert parse_query("").with_term("node=", "ip-10-0-1-1") == q
    assert parse_query("node=ip-10-0-1-1 node=ip-10-0-1-11").matches(eleven)  # same key: either
    assert parse_query("-node=ip-10-0-1-1").matches(eleven) and not parse_query("-node=ip-10-0-1-1").matches(
        one
    )
    assert parse_query("node=ip-10-0-1").unmatched_nodes(["ip-10-0-1-1", "ip-10-0-1-11"]) == ["ip-10-0-1"]
