"""Falco's JSON alert lines through the hub without an Alert each: what `alerts -f --json` prints.

`alerts -f --json` writes every alert as the JSON line Falco wrote plus falcotui's `channel`, `node` and
`pod` keys. For a line whose JSON `alert_to_json` would write back byte for byte that is Falco's own bytes
with those keys spliced in, so such a line needs no Alert, no place in a store and no drain: the hub
(`AlertHub.relay`) de-duplicates it on the same key as any alert, counts it on its channel and hands it to
the `LineRelay`. Every other line takes the store's path in order with them (`AlertHub.store_log_lines`):
Falco's own lines, text alerts, internal alerts and alerts from a pod whose container metadata may be
changing (both update the per-pod Falco model), lines the relay would not print as they are
(`LineRelay.passes`: a terminal could act on them), and any line not exactly in Falco's shape.

A relayed line is decoded with msgspec into `FalcoLine`, Falco's eight keys with the types
`alert_from_mapping` accepts (validated while decoding), and of `output_fields` only the container
metadata fields the Falco model reads (`MetadataFields`): the other fields are checked to be JSON but never
become Python objects. Measured on lines captured from the simulated Falcos: 1.1 us a line against 2.7 us
for orjson.loads building every field (the largest cost left in `alerts -f --json`).

gRPC and NATS alerts still go through the store (they arrive parsed); a log copy of one of them is a
duplicate, and a gRPC copy of a relayed line is one too (the relayed key is remembered: hub.RELAYED).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from falcotui.falco.alerts import LABEL_SPELLINGS, MAX_LINE_LENGTH, falco_json_time_ns
from falcotui.ops.fleet.falco_problems import METADATA_FIELDS

if TYPE_CHECKING:
    from falcotui.ops.alerts.hub import AlertHub, PodLogLine

_HASH_BITS = (1 << 64) - 1
_NO_VALUE = (None, "", "<NA>", msgspec.UNSET)  # as falco_problems, and a field the line does not have
_CONTAINER_ID = "container.id"


def _attribute(field: str) -> str:
    return field.replace(".", "_")


#: `output_fields`' container metadata (falco_problems.METADATA_FIELDS and container.id), each UNSET when the
#: line has no such field; every other field is skipped unread
MetadataFields = msgspec.defstruct(
    "MetadataFields",
    [
        (_attribute(f), Any, msgspec.field(default=msgspec.UNSET, name=f))
        for f in (_CONTAINER_ID, *METADATA_FIELDS)
    ],
)
_METADATA_ATTRIBUTES = tuple(_attribute(f) for f in METADATA_FIELDS)


class FalcoLine(msgspec.Struct, forbid_unknown_fields=True):
    """A JSON alert with Falco's eight keys and nothing else (falco/alerts._FALCO_KEYS, the shape of
    ../shared/data/falco_stdout_sample.log), with the types alert_from_mapping takes on its fast path."""

    time: str
    priority: str
    rule: str
    output: str
    source: str
    hostname: str
    output_fields: MetadataFields  # type: ignore[valid-type]
    tags: list[str]


_decode = msgspec.json.Decoder(FalcoLine).decode


def container_metadata_of(fields: Any) -> bool | None:
    """`falco_problems.fields_metadata` of a line's `MetadataFields` (its source is not `internal`): True
    when a container alert carries runtime metadata, False when it lacks it, None when it says nothing."""
    cid = fields.container_id
    if cid in _NO_VALUE or cid == "host":
        return None
    found = None
    for name in _METADATA_ATTRIBUTES:
        value = getattr(fields, name)
        if value is not msgspec.UNSET:
            if value not in _NO_VALUE:
                return True
            found = False
    return found


class LineRelay(Protocol):
    """A consumer of Falco's JSON alert lines as they came (see the module docstring). `gate`: the
    priorities (as Falco spells them) and earliest event time of the alerts it wants
    (`AlertQuery.line_gate`), None for all: the others are de-duplicated and counted, not handed on."""

    gate: tuple[frozenset[str], int | None] | None

    def passes(self, line: bytes) -> bool:
        """True when `line` (a JSON object that decoded, `{` to `}`) can be handed on as it is."""
        ...

    def relay(self, lines: list[bytes], nodes: list[str], pods: list[str]) -> None:
        """New alerts' lines, oldest first, each with the node and Falco pod whose log it came from; each
        line is one JSON object from its `{` to its `}` (no newline: a line holds none)."""
        ...


def relay_log_lines(hub: AlertHub, relay: LineRelay, lines: Iterable[PodLogLine]) -> None:
    """`AlertHub.ingest_log_lines` with a relay: runs of lines it can pass on go to it (de-duplicated and
    counted by `AlertHub.take_relayed`), the rest to the store (`store_log_lines`), all in their order."""
    now = hub._clock()
    decode, passes, settled_of = _decode, relay.passes, hub.falco.metadata_settled
    labels, time_ns_of, bits, error = LABEL_SPELLINGS, falco_json_time_ns, _HASH_BITS, msgspec.MsgspecError
    settled: dict[str, str | None] = {}  # pod -> metadata_settled(pod), until the store's path runs
    run: tuple[list, ...] = ([], [], [], [], [], [], [])  # raws, nodes, pods, times, stamps, keys, priorities
    raws, nodes, pods, times, stamps, keys, priorities = run
    rest: list = []  # lines for the store's path, in order
    for item in lines:
        line, node = item.line, item.node
        doc = None
        if (
            node
            and type(line) is bytes
            and line[:1] == b"{"
            and line[-1:] == b"}"  # a relayed line is one JSON object: a consumer may splice keys in
            and len(line) <= MAX_LINE_LENGTH
        ):
            try:
                doc = decode(line)
            except error:
                doc = None  # the store's path parses it, or counts it as a bad line with the reason
        if doc is not None:
            if rest:  # what the store's path does first may change a pod's metadata state
                hub.store_log_lines(rest)
                rest = []
                settled.clear()
            pod = item.pod
            known = settled.get(pod, settled)
            if known is settled:
                known = settled[pod] = settled_of(pod)
            fields = doc.output_fields
            # as AlertHub._note_falco: only an alert that changes nothing in the Falco model is passed on
            if (
                known == node
                and doc.rule
                and doc.priority in labels
                and doc.source != "internal"
                and (time_ns := time_ns_of(doc.time)) is not None
                and passes(line)
                and (
                    fields.container_name not in _NO_VALUE
                    or fields.k8s_pod_name not in _NO_VALUE
                    or container_metadata_of(fields) is not False
                )
            ):
                ts = item.ts_ns
                raws.append(line)
                nodes.append(node)
                pods.append(pod)
                times.append(time_ns)
                stamps.append(time_ns if ts is None else ts)
                keys.append((time_ns << 64) | (hash((node, doc.hostname, doc.rule, doc.output)) & bits))
                priorities.append(doc.priority)
                continue
        if raws:
            _flush(hub, relay, run, now)
            run = ([], [], [], [], [], [], [])
            raws, nodes, pods, times, stamps, keys, priorities = run
        rest.append(item)
    if raws:
        _flush(hub, relay, run, now)
    if rest:
        hub.store_log_lines(rest)


def _flush(hub: AlertHub, relay: LineRelay, run: tuple[list, ...], now: int) -> None:
    raws, nodes, pods, times, stamps, keys, priorities = run
    fresh = hub.take_relayed(keys, nodes, pods, times, stamps, now)
    if (gate := relay.gate) is not None:
        wanted, since = gate
        fresh = [
            i
            for i in (range(len(raws)) if fresh is None else fresh)
            if priorities[i] in wanted and (since is None or times[i] >= since)
        ]
        if len(fresh) == len(raws):
            fresh = None
    if fresh is None:
        relay.relay(raws, nodes, pods)
    elif fresh:
        relay.relay([raws[i] for i in fresh], [nodes[i] for i in fresh], [pods[i] for i in fresh])
