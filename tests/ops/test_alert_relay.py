"""`alerts -f --json` passing Falco's JSON lines through the hub as they came (ops/alerts/relay.py): what it
prints, counts and learns is exactly what the store's path (every alert parsed, stored, drained, printed)
makes of the same lines — de-duplication, order, hostile lines, Falco's own lines, internal alerts, missing
container metadata — and a copy through gRPC is still a duplicate of a relayed line, either way round."""

from __future__ import annotations

import dataclasses
import io

import orjson

from falcotui.cli.alerts_cmd import AlertPrinter
from falcotui.kube.logs import LogLine as FollowerLine
from falcotui.ops.alerts.hub import AlertHub
from falcotui.ops.alerts.outbox import AlertOutbox
from falcotui.ops.alerts.query import AlertQuery, parse_query
from falcotui.ops.fleet.falco_problems import METADATA_FIELDS

NODE = "ip-10-0-1-23"
POD = "falco-23"


def follower_line(line: str | bytes, ts_ns: int, *, node: str = NODE, pod: str = POD) -> FollowerLine:
    raw = line.encode() if isinstance(line, str) else line
    return FollowerLine("falco", pod, "falco", node, ts_ns, raw)


class Cli:
    """What `alerts -f --json` wires up (cli/alerts_cmd.follow): an outbox, the printer printing what the hub
    stored as soon as it is stored, and with `relay` the printer as the hub's LineRelay."""

    def __init__(self, clock, *, relay: bool, query: AlertQuery | None = None) -> None:
        self.out = io.BytesIO()
        self.hub = AlertHub(AlertOutbox(64, clock=clock), clock=clock, keep_lines=True)
        match = None if query is None else query.matcher()
        self.printer = AlertPrinter(self.out, json=True, color=False, match=match)
        self.relayed = 0

        def print_stored() -> None:
            delta = self.hub.drain()
            self.printer.write(delta.alerts, delta.lines)

        self.hub.on_stored = print_stored
        if relay:
            printer = self.printer

            class Counting:  # the printer itself, counting what came through the relay
                passes = staticmethod(printer.passes)
                gate = None if query is None else query.line_gate()

                @staticmethod
                def relay(lines: list[bytes], nodes: list[str], pods: list[str]) -> None:
                    self.relayed += len(lines)
                    printer.relay(lines, nodes, pods)

            self.hub.relay = Counting()

    def feed(self, items: list[FollowerLine], cuts: tuple[int, ...] = ()) -> None:
        start = 0
        for cut in (*cuts, len(items)):
            self.hub.ingest_log_lines(items[start:cut])
            start = cut

    def lines(self) -> list[bytes]:
        return self.out.getvalue().splitlines()


def without_metadata(mk, i: int) -> bytes:
    """A container alert whose runtime metadata Falco could not fetch (`<NA>` in every metadata field)."""
    obj = orjson.loads(mk.alert_line(i, node=NODE))
    obj["output_fields"].update(dict.fromkeys(METADATA_FIELDS, "<NA>"))
    return orjson.dumps(obj)


def mixed_lines(mk, sample_lines: list[str]) -> list[FollowerLine]:
    """Real Falco output (the sample log: start-up lines, alerts, an internal alert refusing a reload), a
    storm with re-read lines, lines a terminal could act on, a streak of container alerts without runtime
    metadata, lines that are not Falco's shape, bad JSON: in one order."""
    texts: list[bytes] = [line.encode() for line in sample_lines]
    texts += [mk.alert_line(i, node=NODE) for i in range(60)]
    texts += [mk.alert_line(i, node=NODE) for i in range(50, 70)]  # 10 re-read
    texts += [
        mk.alert_line(100 + i, node=NODE, cmd="cat /etc/\u202eshadow") for i in range(3)
    ]  # bidi override
    texts += [without_metadata(mk, 200 + i) for i in range(40)]
    texts += [mk.alert_line(300 + i, node=NODE) for i in range(20)]  # metadata back
    obj = orjson.loads(mk.alert_line(400, node=NODE))
    texts += [orjson.dumps({**obj, "priority": "WARNING"}), orjson.dumps({**obj, "node": "x", "time": "now"})]
    texts += [orjson.dumps({**obj, "rule": ""}), orjson.dumps({**obj, "tags": ["ok", 1]})]  # not alerts
    texts += [orjson.dumps({**obj, "output_fields": []}), orjson.dumps({**obj, "time": 1795683737})]
    texts += [b'{"rule": "no time"', b"[1, 2]", b"Sun Dec  6 22:00:00 2026: Falco version: 0.45.0 (x86_64)"]
    texts += [mk.alert_line(500 + i, node=NODE) for i in range(30)]
    texts += [
        mk.alert_line(600 + i, node=NODE, rule="Terminal shell in container") for i in range(20)
    ]  # Notice
    texts += [mk.alert_line(700 + i, node=NODE, priority="Critical") for i in range(20)]
    internal = orjson.loads(next(line for line in sample_lines if '"source":"internal"' in line))
    # Falco writes internal alerts without tags (seven keys); with tags they would have Falco's eight
    for n in (1, 2):
        again = {**internal, "time": internal["time"].replace(".000000000Z", f".00000000{n}Z"), "tags": []}
        texts.append(orjson.dumps(again))  # refused again
    return [follower_line(text, mk.T0 + i * 1000) for i, text in enumerate(texts)]


def test_relayed_output_counts_and_falco_state_are_the_store_paths(mk, clock, sample_lines):
    items = mixed_lines(mk, sample_lines)
    stored, relayed = Cli(clock, relay=False), Cli(clock, relay=True)
    for cli in (stored, relayed):
        cli.hub.set_channel(NODE, "log", True, pod=POD)
        cli.feed(items, cuts=(5, 23, 24, 90, 160))
    assert relayed.relayed > 100  # the storm went through the relay, not the store
    assert relayed.hub.store.total_seen < stored.hub.store.total_seen - 100
    assert relayed.out.getvalue() == stored.out.getvalue()  # byte for byte, in the same order
    printed = relayed.lines()
    assert len(printed) == len({line for line in printed})  # re-read lines printed once
    assert b"\\u202e" in relayed.out.getvalue() and "\u202e".encode() not in relayed.out.getvalue()
    for name in ("duplicates", "bad_lines"):
        assert getattr(relayed.hub, name) == getattr(stored.hub, name)
    assert relayed.hub.duplicates >= 10 and relayed.hub.bad_lines >= 5
    assert dataclasses.asdict(relayed.hub.channels[(NODE, "log")]) == dataclasses.asdict(
        stored.hub.channels[(NODE, "log")]
    )
    assert {p: dataclasses.asdict(i) for p, i in relayed.hub.falco.pods.items()} == {
        p: dataclasses.asdict(i) for p, i in stored.hub.falco.pods.items()
    }
    info = relayed.hub.pod_info(POD)
    assert info is not None and info.rejected == 3  # the sample's internal alert + 2: refused reloads
    assert info.version == "0.45.0"


def test_a_priority_and_since_filter_prints_what_the_store_path_prints(mk, clock, sample_lines):
    """`alerts -f --json --min-priority warning --since …`: the relay reads priority and time off the line
    (AlertQuery.line_gate) and prints what the query's matcher lets through, byte for byte; alerts it holds
    back are still de-duplicated and counted."""
    items = mixed_lines(mk, sample_lines)
    query = AlertQuery.from_options(min_priority="warning", since="2026-11-26T09:02:17.030Z")
    window = AlertQuery(query.least_severe, query.most_severe, query.terms, None, query.time_bounds()[0])
    stored, relayed = Cli(clock, relay=False, query=window), Cli(clock, relay=True, query=window)
    for cli in (stored, relayed):
        cli.feed(items, cuts=(5, 23, 90, 160))
    assert relayed.relayed > 20
    assert relayed.out.getvalue() == stored.out.getvalue()
    assert 20 < len(relayed.lines()) < len({i.line for i in items}) - 50  # it held many back
    assert relayed.hub.duplicates == stored.hub.duplicates and relayed.hub.bad_lines == stored.hub.bad_lines


def test_the_line_gate_decides_as_the_matcher(mk):
    """For every priority bound and a fixed lower time bound, `line_gate` lets through exactly the alerts
    `matcher()` does; a query with terms or a relative window has no gate."""
    from falcotui.falco.alerts import Priority, parse_json_alert

    alerts = [
        parse_json_alert(mk.alert_line(i, priority=p.label, node="n1"), node="n1", pod="falco-1")
        for i, p in enumerate([*Priority, *Priority])
    ]
    since = alerts[5].time_ns
    checked = 0
    for text in ("", "priority>=warning", "priority<=notice", "priority=error", "priority>critical"):
        for lower in (None, since):
            base = parse_query(text) if text else AlertQuery()
            query = AlertQuery(base.least_severe, base.most_severe, (), None, lower)
            wanted, earliest = query.line_gate()
            match = query.matcher()
            for a in alerts:
                by_gate = a.priority.label in wanted and (earliest is None or a.time_ns >= earliest)
                assert by_gate == match(a, ("log",)), (text, lower, a.priority)
                checked += 1
    assert checked == 160
    assert parse_query("rule:shell").line_gate() is None and parse_query("since:5m").line_gate() is None


def test_a_streak_without_container_metadata_is_seen_through_the_relay(mk, clock):
    cli = Cli(clock, relay=True)
    cli.feed([follower_line(mk.alert_line(i, node=NODE), mk.T0 + i) for i in range(5)])
    settled = cli.relayed
    assert settled == 4  # the pod's first alert told the Falco model its node
    cli.feed([follower_line(without_metadata(mk, 100 + i), mk.T0 + 100 + i) for i in range(5)])
    info = cli.hub.pod_info(POD)
    assert info is not None and info.metadata_problem is not None  # the fleet's "no container metadata"
    assert cli.relayed == settled  # those went the store's way, where the Falco model counts them
    cli.feed([follower_line(mk.alert_line(200 + i, node=NODE), mk.T0 + 200 + i) for i in range(5)])
    assert info.metadata_problem is None and cli.relayed == settled + 4
    assert len(cli.lines()) == 15


def test_a_grpc_copy_of_a_relayed_line_and_a_log_copy_of_a_grpc_alert_print_once(mk, clock):
    cli = Cli(clock, relay=True)
    cli.hub.set_channel(NODE, "grpc", True, pod=POD)
    cli.feed([follower_line(mk.alert_line(99, node=NODE), mk.T0 - 1)])  # the pod's first: the store's way
    logged = [follower_line(mk.alert_line(i, node=NODE), mk.T0 + i) for i in range(20)]
    cli.feed(logged[:10])  # the log first: relayed
    assert cli.relayed == 10
    cli.hub.ingest_alerts([mk.grpc_copy(mk.log_alert(i, node=NODE, falco_pod=POD)) for i in range(20)])
    assert len(cli.lines()) == 21  # 1 + 10 relayed + the 10 gRPC brought first
    cli.feed(logged)  # the log's copies of all 20 now
    lines = cli.lines()
    assert len(lines) == 21 and cli.relayed == 10
    channels = [orjson.loads(line)["channel"] for line in lines]
    assert channels == ["log"] * 11 + ["grpc"] * 10
    assert cli.hub.channels[(NODE, "grpc")].duplicates == 10
    assert cli.hub.channels[(NODE, "log")].duplicates == 20 and cli.hub.duplicates == 30


def test_lines_of_two_pods_in_one_batch_carry_their_own_node_and_pod(mk, clock):
    cli = Cli(clock, relay=True)

    def line(i: int) -> FollowerLine:
        node = f"node-{i % 2}"
        return follower_line(mk.alert_line(i, node=node), mk.T0 + i, node=node, pod=f"falco-{i % 2}")

    cli.feed([line(0)])
    cli.feed([line(1)])  # each pod's first alert tells the Falco model its node (the store's path)
    cli.feed([line(i) for i in range(2, 12)])
    assert cli.relayed == 10
    for i, printed in enumerate(cli.lines()):
        obj = orjson.loads(printed)
        assert (obj["node"], obj["pod"], obj["hostname"]) == (
            f"node-{i % 2}",
            f"falco-{i % 2}",
            f"node-{i % 2}",
        )


def test_the_relays_metadata_verdict_is_the_fleets(mk):
    """Which output fields mean "no container metadata" (falco_problems.fields_metadata, what the Falco model
    counts) is what the relay decides on the fields it decodes, for every mix of present, absent and empty."""
    import itertools

    import msgspec

    from falcotui.ops.alerts.relay import MetadataFields, container_metadata_of
    from falcotui.ops.fleet.falco_problems import fields_metadata

    names = ("container.id", *METADATA_FIELDS)
    values = (None, "", "<NA>", "host", "web-1", 0)
    checked = 0
    for combo in itertools.product((*values, "absent"), repeat=3):
        for chosen in itertools.combinations(names, 3):
            fields = {n: v for n, v in zip(chosen, combo, strict=True) if v != "absent"}
            decoded = msgspec.json.decode(orjson.dumps(fields), type=MetadataFields)
            assert container_metadata_of(decoded) == fields_metadata(fields, "syscall"), fields
            checked += 1
    assert checked > 5000
