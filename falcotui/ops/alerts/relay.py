"""Falco's JSON alert lines through the hub without an Alert each: what `alerts -f --json` prints.

`alerts -f --json` writes every alert as the JSON line Falco wrote plus falcotui's `channel`, `node` and
`pod` keys. For a line whose JSON `alert_to_json` would write back byte for byte (falco/alerts.json_identity)
that is Falco's own bytes with those keys spliced in, so such a line needs no Alert, no place in a store
and no drain: the hub (`AlertHub.relay`) de-duplicates it on the same key as any alert, counts it on its
channel and hands it to the `LineRelay`. Every other line takes the store's path in order with them
(`AlertHub.store_log_lines`): Falco's own lines, text alerts, internal alerts and alerts from a pod whose
container metadata may be changing (both update the per-pod Falco model), lines the relay would not print
as they are (`LineRelay.passes`: a terminal could act on them), values not seen before.

Measured on a 5,000 alerts/s storm over 5 nodes (bench/bench_cpu_per_alert.py), see the commit that added
this module. gRPC and NATS alerts still go through the store (they arrive parsed); a log copy of one of them
is a duplicate, and a gRPC copy of a relayed line is one too (the relayed key is remembered, `RELAYED`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

import orjson

from falcotui.falco.alerts import MAX_LINE_LENGTH, json_identity
from falcotui.ops.fleet.falco_problems import fields_metadata

if TYPE_CHECKING:
    from falcotui.ops.alerts.hub import AlertHub, PodLogLine

#: the sequence number a relayed alert's de-duplication key is remembered with: no store entry has it
RELAYED = 0
_HASH_BITS = (1 << 64) - 1
_NO_VALUE = (None, "", "<NA>")  # as falco_problems: an output field Falco had no value for
_CONTAINER_NAME = "container.name"
_POD_NAME = "k8s.pod.name"


class LineRelay(Protocol):
    """A consumer of Falco's JSON alert lines as they came (see the module docstring)."""

    def passes(self, line: bytes) -> bool:
        """True when `line` (JSON that parsed) can be handed on as it is."""
        ...

    def relay(self, lines: list[bytes], nodes: list[str], pods: list[str]) -> None:
        """New alerts' lines, oldest first, each with the node and Falco pod whose log it came from."""
        ...


def relay_log_lines(hub: AlertHub, relay: LineRelay, lines: Iterable[PodLogLine]) -> None:
    """`AlertHub.ingest_log_lines` with a relay: runs of lines it can pass on go to it (de-duplicated and
    counted by `AlertHub.take_relayed`), the rest to the store (`store_log_lines`), all in their order."""
    now = hub._clock()
    loads, identity, passes = orjson.loads, json_identity, relay.passes
    settled_of, bits, no_value = hub.falco.metadata_settled, _HASH_BITS, _NO_VALUE
    settled: dict[str, str | None] = {}  # pod -> metadata_settled(pod), until the store's path runs
    run: tuple[list, ...] = ([], [], [], [], [], [])  # raws, nodes, pods, times, stamps, keys
    raws, nodes, pods, times, stamps, keys = run
    rest: list = []  # lines for the store's path, in order
    for item in lines:
        line, node = item.line, item.node
        found = None
        if node and type(line) is bytes and line[:1] == b"{" and len(line) <= MAX_LINE_LENGTH:
            try:
                obj = loads(line)
            except orjson.JSONDecodeError:
                obj = None  # the store's path counts it as a bad line, with the reason
            if type(obj) is dict:
                found = identity(obj)
        if found is not None:
            if rest:  # what the store's path does first may change a pod's metadata state
                hub.store_log_lines(rest)
                rest = []
                settled.clear()
            time_ns, rule, hostname, output, source, fields = found
            pod = item.pod
            known = settled.get(pod, settled)
            if known is settled:
                known = settled[pod] = settled_of(pod)
            # as AlertHub._note_falco: only an alert that changes nothing in the Falco model is passed on
            if (
                known == node
                and source != "internal"
                and passes(line)
                and (
                    fields.get(_CONTAINER_NAME) not in no_value
                    or fields.get(_POD_NAME) not in no_value
                    or fields_metadata(fields, source) is not False
                )
            ):
                ts = item.ts_ns
                raws.append(line)
                nodes.append(node)
                pods.append(pod)
                times.append(time_ns)
                stamps.append(time_ns if ts is None else ts)
                keys.append((time_ns << 64) | (hash((node, hostname, rule, output)) & bits))
                continue
        if raws:
            _flush(hub, relay, run, now)
            run = ([], [], [], [], [], [])
            raws, nodes, pods, times, stamps, keys = run
        rest.append(item)
    if raws:
        _flush(hub, relay, run, now)
    if rest:
        hub.store_log_lines(rest)


def _flush(hub: AlertHub, relay: LineRelay, run: tuple[list, ...], now: int) -> None:
    raws, nodes, pods, times, stamps, keys = run
    fresh = hub.take_relayed(keys, nodes, pods, times, stamps, now)
    if fresh is None:
        relay.relay(raws, nodes, pods)
    elif fresh:
        relay.relay([raws[i] for i in fresh], [nodes[i] for i in fresh], [pods[i] for i in fresh])
