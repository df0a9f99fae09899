"""AlertHub: one de-duplicated alert stream from every node's log and gRPC channels, with channel health.

Producers call `ingest(alert)` (the sync fast path) or `ingest_log_line(...)` for raw pod-log lines, or
put items on an asyncio.Queue that `consume(queue)` drains. The UI calls `drain()` on its timer and gets
one HubDelta with everything that changed since its previous call: new alerts, earlier alerts that gained
a channel, channels whose health changed and Falco pods whose log said something.

De-duplication: an alert's key (event time, rule, hostname, output, node: what `dedup_key` covers) is
remembered for `dedup_window_s` seconds after it was first received, and for at most `dedup_max` keys
(the oldest are forgotten first). A copy that arrives through the other channel while its key is
remembered is not stored again: the stored alert records the extra channel ("via log+grpc"). Worst case:
a copy arriving later than the window, or after more than `dedup_max` newer distinct alerts, is stored a
second time. The key is one int: the exact event time in ns above a 64-bit hash of the strings (`_key`),
so two distinct alerts share a key only when stamped in the same nanosecond with colliding hashes (odds
about 2**-64 a pair). Memory is about 200 bytes per remembered key (≈ 40 MB at the default 200,000).

Not thread-safe: call everything from the asyncio loop's thread.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import orjson

from falcotui.falco.alert_text import OutputTemplates
from falcotui.falco.alerts import (
    MAX_LINE_LENGTH,
    Alert,
    AlertParseError,
    Priority,
    alert_from_mapping,
    falco_time_form,
)
from falcotui.falco.loglines import LogLine
from falcotui.ops.alerts.channel_health import ChannelHealth, ChannelStatus, ChannelUpdate
from falcotui.ops.alerts.store import AlertStore, StoredAlert, alert_node
from falcotui.ops.fleet.falco_pods import FalcoPodInfo, FalcoPodTracker
from falcotui.ops.fleet.falco_problems import container_metadata

if TYPE_CHECKING:
    from falcotui.ops.alerts.relay import LineRelay

_NS = 1_000_000_000
#: markers falcotui itself puts into the alert list (a gap in a log) carry this source and rule
MARKER_SOURCE = "falcotui"
GAP_RULE = "falcotui: possible gap in the log"
_JSON_START = ("{", b"{")  # a log line's first character (str or bytes slice) when it is a JSON alert
_HASH_BITS = (1 << 64) - 1


def _key(alert: Alert) -> int:
    """The de-duplication key: equal exactly when `falcotui.falco.alerts.dedup_key` is (same node, hostname,
    rule, output and event time), without hashing the text twice: the event time, shifted above a 64-bit
    hash of the strings (Python caches a str's hash, and rule and hostname are shared strings)."""
    text = hash((alert.node or "", alert.hostname, alert.rule, alert.output))
    return (alert.time_ns << 64) | (text & _HASH_BITS)


_LABELS = tuple(p.label for p in Priority)
_NO_VALUE = (None, "", "<NA>")  # an output field Falco had no value for (as falco_problems)
_CONTAINER_NAME = "container.name"
#: the keys of a Falco JSON alert with falco.yaml's default json_include_* settings (as alerts._FALCO_KEYS)
_FALCO_KEYS = frozenset(("time", "priority", "rule", "output", "source", "hostname", "output_fields", "tags"))
_POD_NAME = "k8s.pod.name"
#: the sequence number a relayed alert's de-duplication key is remembered with: no store entry has it
RELAYED = 0


class PodLogLine(Protocol):
    """What a pod-log follower hands over (falcotui.kube.logs.LogLine has these attributes)."""

    pod: str
    node: str
    ts_ns: int
    line: str | bytes


@dataclass(slots=True)
class HubDelta:
    """What changed since the previous `drain()`. `alerts` are new (oldest first); `missed` counts new
    alerts the store evicted before this drain could hand them over; `merged` are earlier alerts that
    gained a channel; `first_seq` is the store's oldest kept sequence number (rows before it are gone)."""

    alerts: list[StoredAlert] = field(default_factory=list)
    missed: int = 0
    merged: list[StoredAlert] = field(default_factory=list)
    channels: list[ChannelStatus] = field(default_factory=list)
    pods: list[FalcoPodInfo] = field(default_factory=list)
    first_seq: int = 1
    last_seq: int = 0
    #: with `AlertHub(keep_lines=True)`: seq -> the JSON log line a new alert was parsed from, exactly as
    #: Falco wrote it (Falco's eight keys, UTF-8, orjson's own parse), for a writer that passes it on
    lines: dict[int, bytes] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.alerts or self.missed or self.merged or self.channels or self.pods)


class AlertHub(ChannelHealth):
    """Merges channels into the store with de-duplication; tracks channel health (ChannelHealth) and Falco
    pods."""

    def __init__(
        self,
        store: AlertStore | None = None,
        *,
        dedup_window_s: float = 300.0,
        dedup_max: int = 200_000,
        text_rules: OutputTemplates | None = None,
        clock: Callable[[], int] = time.time_ns,
        keep_lines: bool = False,
    ) -> None:
        if dedup_window_s <= 0 or dedup_max < 1:
            raise ValueError("de-duplication needs a positive window and room for at least one key")
        self.store = store if store is not None else AlertStore(clock=clock)
        self._clock = clock
        self._window_ns = int(dedup_window_s * _NS)
        self._dedup_max = dedup_max
        self._seen: dict[int, int] = {}  # dedup key -> sequence number of the stored alert
        self._seen_order: deque[int] = deque()  # the keys in the order first received, oldest first
        # [first received, how many keys of `_seen_order` were first received then], oldest first
        self._order_runs: deque[list[int]] = deque()
        self.duplicates = 0
        self.channels: dict[tuple[str, str], ChannelStatus] = {}
        self.falco = FalcoPodTracker(text_rules)
        self.bad_lines = 0
        self.last_bad_line: LogLine | None = None
        self._drained_seq = self.store.last_seq
        self._merged: list[int] = []
        self._changed_channels: set[tuple[str, str]] = set()
        self._changed_pods: set[str] = set()
        # seq -> raw JSON line of new alerts not yet drained (see HubDelta.lines); None: not kept
        self._lines: dict[int, bytes] | None = {} if keep_lines else None
        #: called after new alerts were stored, at most half the store's capacity at a time: a consumer
        #: that drains there never misses an alert however small the store (`alerts -f` keeps a small one)
        self.on_stored: Callable[[], None] | None = None
        #: a consumer that takes Falco's JSON log lines as they came instead of stored alerts (`alerts -f
        #: --json`; see ops/alerts/relay.py): such lines are de-duplicated and counted but never stored
        self.relay: LineRelay | None = None

    # ------------------------------------------------------------ alerts

    def ingest(
        self, alert: Alert, *, received_ns: int | None = None, line_ns: int | None = None
    ) -> StoredAlert | None:
        """Take one alert from any channel; returns the stored entry, or None for a duplicate.
        `line_ns`: the line's own timestamp (the kubelet's), for the lag; default the alert's event time."""
        now = self._clock() if received_ns is None else received_ns
        return self._take(alert, now, alert.time_ns if line_ns is None else line_ns)

    def ingest_history(self, alert: Alert) -> StoredAlert | None:
        """Like `ingest`, for an alert replayed from history (a stream read from its start): it says
        nothing about how late alerts arrive now, so no lag is measured."""
        return self._take(alert, self._clock(), None)

    def _take(self, alert: Alert, now: int, line_ns: int | None) -> StoredAlert | None:
        """`line_ns` None: not a line that arrived (falcotui's own marker), so no lag measured."""
        runs = self._order_runs
        if runs and runs[0][0] < now - self._window_ns:
            self._expire(now)
        channel = self._channel_for(alert.node or alert.hostname, alert.channel, alert.pod, now)
        channel.alerts += 1
        channel.last_received_ns = now
        channel.last_alert_ns = alert.time_ns
        since = channel.live_since_ns
        if line_ns is not None and (since is None or line_ns >= since):  # written while connected: late
            lag = now - line_ns
            if channel.lag_at_ns != now or channel.lag_ns is None or lag > channel.lag_ns:
                channel.lag_ns, channel.lag_at_ns = lag, now

        key = _key(alert)
        seq = self._seen.get(key)
        if seq is not None:
            self._duplicate(seq, channel, alert.channel)
            return None
        entry = self.store.append(alert, received_ns=now)
        self._seen[key] = entry.seq
        self._seen_order.append(key)
        if runs and runs[-1][0] == now:
            runs[-1][1] += 1
        else:
            runs.append([now, 1])
        if len(self._seen_order) > self._dedup_max:
            self._forget_keys(1)
        if alert.source == "internal":
            if (info := self.falco.note_alert(alert, line_ns)) is not None:
                self._changed_pods.add(info.pod)
        elif (info := self.falco.note_metadata(alert)) is not None:
            self._changed_pods.add(info.pod)
        if self.on_stored is not None:
            self.on_stored()
        return entry

    def ingest_many(self, alerts: Iterable[Alert]) -> int:
        """Ingest a batch; returns how many were new (not duplicates)."""
        now = self._clock()
        return sum(self.ingest(a, received_ns=now) is not None for a in alerts)

    def _expire(self, now: int) -> None:
        horizon = now - self._window_ns
        order, runs, seen = self._seen_order, self._order_runs, self._seen
        while runs and runs[0][0] < horizon:
            for _ in range(runs.popleft()[1]):
                del seen[order.popleft()]

    @property
    def dedup_keys(self) -> int:
        """How many de-duplication keys are remembered now."""
        return len(self._seen)

    # ------------------------------------------------------------ pod logs

    def ingest_log_line(
        self, pod: str, line: str | bytes, *, node: str | None = None, ts_ns: int | None = None
    ) -> LogLine:
        """One line of a Falco pod's log: alerts are ingested through the `log` channel, Falco's own lines
        update the pod's version/reload state. Returns the classification."""
        result = self.falco.classify(pod, line, node=node, ts_ns=ts_ns)
        if result.alert is not None:
            self.ingest(result.alert, line_ns=result.k8s_time_ns)
        elif result.kind == "bad_alert":
            self.bad_lines += 1
            self.last_bad_line = result
        else:
            self._changed_pods.add(pod)
        return result

    def ingest_log_lines(self, lines: Iterable[PodLogLine]) -> None:
        """A batch from the log followers (objects with pod, node, ts_ns and line), received now.

        The hot path: a JSON alert line (what Falco writes with `json_output: true`) is parsed straight
        into a run that `_store_run` de-duplicates and stores in one go, without classifying it or building
        a LogLine; anything else (Falco's own lines, text alerts, a line orjson refuses) goes through
        `ingest_log_line`, which classifies and explains, in order with the alerts around it.
        With a `relay`, the lines it can pass on as they came go there instead (`relay_log_lines`)."""
        if self.relay is not None:
            from falcotui.ops.alerts.relay import relay_log_lines  # msgspec: only where lines are relayed

            relay_log_lines(self, self.relay, lines)
        else:
            self.store_log_lines(lines)

    def store_log_lines(self, lines: Iterable[PodLogLine]) -> None:
        """`ingest_log_lines` without a relay: every alert to the store."""
        now = self._clock()
        loads, from_mapping, kept = orjson.loads, alert_from_mapping, self._lines
        labels = _LABELS
        alerts: list[Alert] = []
        stamps: list[int] = []
        raws: list[bytes | None] | None = None if kept is None else []
        for item in lines:
            line, node = item.line, item.node
            if node and line[:1] in _JSON_START and len(line) <= MAX_LINE_LENGTH:
                # parse_json_alert's common case, inline; a line it would mend (not UTF-8, a lone surrogate)
                # or cut (oversized) takes the classifying path below, which calls it
                try:
                    obj = loads(line)
                    alert = from_mapping(obj, node=node, pod=item.pod) if type(obj) is dict else None
                except (orjson.JSONDecodeError, AlertParseError):
                    alert = None  # ingest_log_line counts it as a bad line, with the reason
                if alert is not None:
                    ts = item.ts_ns
                    alerts.append(alert)
                    stamps.append(alert.time_ns if ts is None else ts)
                    if raws is not None:
                        # `alert_to_json` would write these values back unchanged (see HubDelta.lines):
                        # Falco's eight keys alone, the priority spelled as Falco does, the time in
                        # Falco's form
                        when = obj.get("time")
                        raws.append(
                            line
                            if len(obj) == 8
                            and type(line) is bytes
                            and type(when) is str
                            and falco_time_form(when)
                            and obj.get("priority") == labels[alert.priority]
                            and obj.keys() == _FALCO_KEYS
                            else None
                        )
                    continue
            if alerts:  # in order with what the line below changes
                self._store_run(alerts, stamps, raws, now)
                alerts, stamps = [], []
                raws = None if kept is None else []
            self.ingest_log_line(item.pod, line, node=node, ts_ns=item.ts_ns)
        if alerts:
            self._store_run(alerts, stamps, raws, now)

    def ingest_alerts(self, alerts: Iterable[Alert], *, received_ns: int | None = None) -> None:
        """A batch of parsed alerts (a gRPC or NATS channel's since the last batch), received at
        `received_ns` (default now): what `ingest` does for each, through the batch path."""
        now = self._clock() if received_ns is None else received_ns
        run = list(alerts)
        if run:
            self._store_run(run, [a.time_ns for a in run], None, now)

    def _store_run(
        self, alerts: list[Alert], stamps: list[int | None], raws: list[bytes | None] | None, now: int
    ) -> None:
        """Alerts received at `now`, each with its line's timestamp (`stamps`; None measures no lag, as in
        `_take`) and, with `raws`, the JSON line to hand on (or None): what `_take` does for each alert,
        with the store extended once and each channel's figures added up once (`_tally`). A run without a
        duplicate (the usual one) is de-duplicated and stored in bulk."""
        seen, store = self._seen, self.store
        if (on_stored := self.on_stored) is not None:
            limit = max(1, store.capacity // 2)
            if len(alerts) > limit:  # in parts the store holds, each drained before the next
                for k in range(0, len(alerts), limit):
                    part = None if raws is None else raws[k : k + limit]
                    self._store_run(alerts[k : k + limit], stamps[k : k + limit], part, now)
                return
        runs = self._order_runs
        if runs and runs[0][0] < now - self._window_ns:
            self._expire(now)  # `now` is the whole run's: nothing expires during it
        bits = _HASH_BITS
        nodes = [a.node or a.hostname for a in alerts]
        # `_key(alert)` of each, inline
        keys = [
            (a.time_ns << 64) | (hash((node, a.hostname, a.rule, a.output)) & bits)
            for a, node in zip(alerts, nodes, strict=True)
        ]
        self._tally(alerts, nodes, stamps, now)
        kept = self._lines
        if seen.keys().isdisjoint(keys) and len(set(keys)) == len(keys):
            first = store.next_seq
            seen.update(zip(keys, range(first, first + len(keys)), strict=True))
            if raws is not None and kept is not None:
                kept.update(
                    {seq: raw for seq, raw in zip(range(first, first + len(raws)), raws, strict=True) if raw}
                )
            self._extend(alerts, keys, now)
            self._note_falco(alerts, nodes, stamps)
            if on_stored is not None:
                on_stored()
            return
        # new alerts go to the store in one `extend`, so the next one's sequence number is known: the
        # store's next plus how many wait
        new: list[Alert] = []
        new_keys: list[int] = []
        fresh: list[int] = []  # indexes of the new alerts
        next_seq = store.next_seq
        channels = self.channels
        for i, (alert, key) in enumerate(zip(alerts, keys, strict=True)):
            seq = seen.get(key)
            if seq is not None:
                if seq >= next_seq:  # its first copy still waits in `new`
                    self._extend(new, new_keys, now)
                    new, new_keys = [], []
                    next_seq = store.next_seq
                self._duplicate(seq, channels[(nodes[i], alert.channel)], alert.channel)
                continue
            seq = seen[key] = next_seq + len(new)
            if raws is not None and kept is not None and (raw := raws[i]) is not None:
                kept[seq] = raw
            new.append(alert)
            new_keys.append(key)
            fresh.append(i)
        if new:
            self._extend(new, new_keys, now)
        if fresh:
            self._note_falco(
                [alerts[i] for i in fresh], [nodes[i] for i in fresh], [stamps[i] for i in fresh]
            )
            if on_stored is not None:
                on_stored()

    def take_relayed(
        self,
        keys: list[int],
        nodes: list[str],
        pods: list[str],
        times: list[int],
        stamps: list[int],
        now: int,
    ) -> list[int] | None:
        """A run of log-channel alerts a `LineRelay` passes on without storing them (each given by its
        de-duplication key, node, pod, event time and line timestamp), received at `now`: counted on their
        channels and de-duplicated as `_store_run` does. Returns the indexes of the new ones (None: all
        are new); a relayed key is remembered with sequence number RELAYED (no entry in the store), so a
        copy through gRPC later is a duplicate, and a log copy of a stored gRPC alert merges into it."""
        runs = self._order_runs
        if runs and runs[0][0] < now - self._window_ns:
            self._expire(now)
        self._tally_log(nodes, pods, times, stamps, now)
        seen = self._seen
        if seen.keys().isdisjoint(keys) and len(set(keys)) == len(keys):
            seen.update(dict.fromkeys(keys, RELAYED))
            self._remember(keys, now)
            return None
        fresh: list[int] = []
        new_keys: list[int] = []
        channels = self.channels
        for i, key in enumerate(keys):
            seq = seen.get(key)
            if seq is not None:
                self._duplicate(seq, channels[(nodes[i], "log")], "log")
                continue
            seen[key] = RELAYED
            new_keys.append(key)
            fresh.append(i)
        self._remember(new_keys, now)
        return fresh

    def _duplicate(self, seq: int, channel: ChannelStatus, kind: str) -> None:
        """A copy of the alert stored as `seq` arrived through `channel` (of `kind`): counted, and the stored
        alert gains the channel (unless it was relayed or is gone from the store: nothing to merge into)."""
        self.duplicates += 1
        channel.duplicates += 1
        entry = self.store.by_seq(seq)
        if entry is not None and self.store.add_channel(entry, kind):
            self._merged.append(seq)

    def _note_falco(self, alerts: list[Alert], nodes: list[str], stamps: list[int | None]) -> None:
        """What new alerts tell the per-pod Falco model: internal alerts (`note_alert`: drops, a refused
        reload) and missing container metadata (`note_metadata`). A container alert with runtime metadata
        from a pod whose metadata is fine changes nothing (FalcoPodTracker.metadata_settled): such a run
        is passed over in one comprehension; from the first alert that may change something on, each is
        noted in order."""
        falco, changed_pods, no_value = self.falco, self._changed_pods, _NO_VALUE
        metadata_settled = falco.metadata_settled
        settled = {pod: metadata_settled(pod) for pod in {a.pod for a in alerts}}
        name, pod_field = _CONTAINER_NAME, _POD_NAME
        todo = [
            i
            for i, (a, node) in enumerate(zip(alerts, nodes, strict=True))
            if a.source == "internal"
            or settled[a.pod] != node
            or ((f := a.output_fields).get(name) in no_value and f.get(pod_field) in no_value)
        ]
        if not todo:
            return
        settled.clear()
        for i in range(todo[0], len(alerts)):
            alert, node = alerts[i], nodes[i]
            if alert.source == "internal":
                if (info := falco.note_alert(alert, stamps[i])) is not None:
                    changed_pods.add(info.pod)
                continue
            pod = alert.pod
            known = settled.get(pod, settled)
            if known is settled:
                known = settled[pod] = metadata_settled(pod)
            if known is not None and known == node and container_metadata(alert) is not False:
                continue  # as note_metadata's own shortcut: nothing changes
            if (info := falco.note_metadata(alert)) is not None:
                changed_pods.add(info.pod)
            settled.clear()  # it may have changed which pod a node runs, too

    def _extend(self, new: list[Alert], keys: list[int], now: int) -> None:
        """Store `new` (received at `now`) and remember their de-duplication keys as first seen at `now`."""
        self.store.extend(new, received_ns=now)
        self._remember(keys, now)

    def _remember(self, keys: list[int], now: int) -> None:
        """Remember de-duplication keys (already in `_seen`) as first seen at `now`, oldest forgotten."""
        order, runs = self._seen_order, self._order_runs
        order.extend(keys)
        if runs and runs[-1][0] == now:
            runs[-1][1] += len(keys)
        else:
            runs.append([now, len(keys)])
        if len(order) > self._dedup_max:
            self._forget_keys(len(order) - self._dedup_max)

    def _forget_keys(self, count: int) -> None:
        """Forget the `count` oldest de-duplication keys."""
        order, runs, seen = self._seen_order, self._order_runs, self._seen
        while count > 0:
            run = runs[0]
            n = min(count, run[1])
            for _ in range(n):
                del seen[order.popleft()]
            count -= n
            run[1] -= n
            if not run[1]:
                runs.popleft()

    def pod_info(self, pod: str) -> FalcoPodInfo | None:
        return self.falco.pods.get(pod)

    def forget_pod(self, pod: str) -> None:
        """Drop what the log of a deleted pod said (keeps memory bounded across rollouts)."""
        self.falco.forget(pod)

    # ------------------------------------------------------------ channel health

    def record_gap(
        self, node: str, kind: str, before_ns: int, after_ns: int, *, pod: str | None = None
    ) -> None:
        """A resumed stream could not prove that no line was lost between `before_ns` and `after_ns`: count
        it on the channel and put a marker into the alert list at that place in time (source `falcotui`,
        so `-source:falcotui` hides it), where an operator reading the timeline sees the hole."""
        status = self.channels.get((node, kind))
        if status is None:
            status = self.channels[(node, kind)] = ChannelStatus(node, kind, pod)
        status.gaps += 1
        status.last_gap = (before_ns, after_ns)
        self._changed_channels.add((node, kind))
        seconds = (after_ns - before_ns) / _NS
        self._take(
            Alert(
                time_ns=after_ns,
                priority=Priority.NOTICE,
                rule=GAP_RULE,
                output=(
                    f"the {kind} of {node} resumed without the last line seen before the cut: lines from "
                    f"the {seconds:.1f} s before this one may be missing (the log was rotated or truncated "
                    "while the stream was down)"
                ),
                source=MARKER_SOURCE,
                hostname=node,
                output_fields={"falcotui.gap.from": before_ns, "falcotui.gap.to": after_ns},
                node=node,
                pod=pod,
                channel="log" if kind == "log" else "grpc",
            ),
            self._clock(),
            None,  # a marker, not a line: it says nothing about lateness
        )

    # ------------------------------------------------------------ deltas

    def drain(self, *, max_alerts: int | None = None) -> HubDelta:
        """Everything that changed since the previous call (for one consumer: the UI's timer).

        With `max_alerts`, at most that many new alerts are handed over and the rest wait for the next
        call (they count as `missed` only if evicted meanwhile)."""
        store = self.store
        missed = max(0, store.first_seq - 1 - self._drained_seq)
        handed = self._drained_seq
        alerts = store.since(handed, limit=max_alerts)
        self._drained_seq = alerts[-1].seq if alerts else max(handed, store.first_seq - 1)
        lines: dict[int, bytes] = {}
        kept = self._lines
        if kept:
            if missed:  # evicted before this drain: their lines go with them
                for seq in [s for s in kept if s < store.first_seq]:
                    del kept[seq]
            if alerts and len(kept) <= len(alerts) and alerts[-1].seq >= next(reversed(kept)):
                lines, self._lines = kept, {}  # all of them handed over now (the usual case)
            else:
                lines = {e.seq: line for e in alerts if (line := kept.pop(e.seq, None)) is not None}
        merged_seqs, self._merged = self._merged, []
        # alerts handed over in this very delta already carry their channels
        merged = [e for s in dict.fromkeys(merged_seqs) if s <= handed and (e := store.by_seq(s)) is not None]
        channels = [copy.copy(self.channels[k]) for k in sorted(self._changed_channels)]
        pods = [copy.copy(p) for name in sorted(self._changed_pods) if (p := self.falco.pods.get(name))]
        self._changed_channels.clear()
        self._changed_pods.clear()
        return HubDelta(alerts, missed, merged, channels, pods, store.first_seq, store.last_seq, lines)

    # ------------------------------------------------------------ asyncio

    def feed(self, item: object) -> None:
        """Dispatch one queue item: an Alert, a pod-log line, a ChannelUpdate, or a list of them."""
        if isinstance(item, Alert):
            self.ingest(item)
        elif isinstance(item, ChannelUpdate):
            self.set_channel(item.node, item.kind, item.connected, pod=item.pod, detail=item.detail)
        elif isinstance(item, (list, tuple)):
            for sub in item:
                self.feed(sub)
        elif hasattr(item, "line") and hasattr(item, "pod"):
            self.ingest_log_line(
                item.pod, item.line, node=getattr(item, "node", None), ts_ns=getattr(item, "ts_ns", None)
            )  # type: ignore[attr-defined]
        else:
            raise TypeError(f"AlertHub cannot ingest a {type(item).__name__}")

    async def consume(self, queue: asyncio.Queue) -> None:
        """Ingest queue items until a None arrives; takes whatever is queued in one go between awaits,
        so a storm is ingested in batches without a task switch per alert."""
        while True:
            item = await queue.get()
            while True:
                if item is None:
                    return
                self.feed(item)
                try:
                    item = queue.get_nowait()
                except asyncio.QueueEmpty:
                    break


__all__ = [
    "AlertHub",
    "HubDelta",
    "PodLogLine",
    "alert_node",
]
