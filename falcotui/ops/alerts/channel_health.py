"""Channel health: each node's log, gRPC and NATS channels as the alert hub sees them — connected or not and
why, alerts and duplicates through each, how late their lines arrive (the header's lag), cuts and gaps.

`ChannelHealth` is the part of `AlertHub` that keeps `channels` (one ChannelStatus per node and kind): the
hub's ingest paths count each run of alerts into them (`_tally`, `_tally_log`), channel owners report
connects and cuts (`set_channel`, or a ChannelUpdate on the hub's queue), and the UI and the CLI read the
figures (`live_counts`, `worst_lag`, `log_stream_health`, `channels_of`).
"""

from __future__ import annotations

from collections import _count_elements  # type: ignore[attr-defined]
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from falcotui.falco.alerts import Alert

_NS = 1_000_000_000
CHANNEL_KINDS = ("log", "grpc", "nats")
#: a channel's lag counts (in the header) for this long after the line that measured it
LAG_WINDOW_S = 10
_LAG_WINDOW_NS = LAG_WINDOW_S * _NS
_BEFORE = -(1 << 128)  # earlier than any line: a channel never reported connected has no history


@dataclass(slots=True)
class ChannelStatus:
    """Health of one channel: a node's log stream or its gRPC subscription."""

    node: str
    kind: str  # "log" | "grpc"
    pod: str | None = None
    connected: bool = False
    changed_ns: int | None = None  # when `connected` last changed
    detail: str = ""  # why it disconnected, or where it is connected
    alerts: int = 0  # alerts received through it, duplicates included
    duplicates: int = 0  # of which were already stored (via the other channel, or repeated)
    last_received_ns: int | None = None
    last_alert_ns: int | None = None  # event time of the last alert received
    # how late lines arrive: receipt time minus the line's own timestamp (the kubelet's for a log line, the
    # event time for a gRPC alert), worst of the latest batch; lines written before the channel connected
    # (a tail or resume replaying history, gRPC's queued events) are history, not lateness, and not counted
    lag_ns: int | None = None
    lag_at_ns: int | None = None  # when `lag_ns` was measured; it goes stale after LAG_WINDOW_S
    live_since_ns: int | None = None  # when its owner last reported it connected (None: never managed)
    managed: bool = False  # its owner reports connects/disconnects; alerts alone do not flip `connected`
    cuts: int = 0  # times it went from connected to disconnected
    last_cut_ns: int | None = None
    gaps: int = 0  # resumes that could not prove no line was missed (see `AlertHub.record_gap`)
    last_gap: tuple[int, int] | None = None  # (last line before, first line after), Unix ns

    @property
    def lag_s(self) -> float | None:
        return None if self.lag_ns is None else self.lag_ns / _NS

    def current_lag_ns(self, now_ns: int) -> int | None:
        """The lag measured within the last LAG_WINDOW_S on a connected channel, else None: a quiet
        channel has no lag to show (no line of it is late), however long ago its last line came."""
        at = self.lag_at_ns
        if not self.connected or at is None or now_ns - at > _LAG_WINDOW_NS:
            return None
        return self.lag_ns

    def idle_s(self, now_ns: int) -> float | None:
        """Seconds since the last alert arrived through this channel."""
        return None if self.last_received_ns is None else (now_ns - self.last_received_ns) / _NS


@dataclass(frozen=True, slots=True)
class ChannelUpdate:
    """A queue item that reports a channel connecting or going away."""

    node: str
    kind: str
    connected: bool
    pod: str | None = None
    detail: str = ""


class ChannelHealth:
    """The channels part of AlertHub (see the module docstring): needs `channels`, `_changed_channels` and
    `_clock`, which AlertHub sets up."""

    channels: dict[tuple[str, str], ChannelStatus]
    _changed_channels: set[tuple[str, str]]
    _clock: Callable[[], int]

    def _channel_for(self, node: str, kind: str, pod: str | None, now: int) -> ChannelStatus:
        """The channel an alert arrived through (created with its first alert), with the alert's pod; a
        channel nobody reports on counts as connected from its first alert on."""
        ckey = (node, kind)
        channel = self.channels.get(ckey)
        if channel is None:
            channel = self.channels[ckey] = ChannelStatus(node, kind, pod)
        elif pod is not None and channel.pod != pod:
            channel.pod = pod  # the DaemonSet replaced the node's Falco pod
        if not channel.connected and not channel.managed:
            channel.connected, channel.changed_ns = True, now
            self._changed_channels.add(ckey)
        return channel

    def _tally_log(
        self, nodes: list[str], pods: list[str], times: list[int], stamps: list[int], now: int
    ) -> None:
        """`_tally` of a run through the log channel given as lists (one node, in the usual run)."""
        first = nodes[0]
        if nodes.count(first) == len(nodes):
            groups: dict[str, list[int] | None] = {first: None}
        else:
            groups = {}
            for i, node in enumerate(nodes):
                groups.setdefault(node, []).append(i)  # type: ignore[union-attr]
        for node, where in groups.items():
            mine = stamps if where is None else [stamps[i] for i in where]
            last = len(nodes) - 1 if where is None else where[-1]
            channel = self._channel_for(node, "log", pods[last], now)
            channel.alerts += len(mine)
            channel.last_received_ns = now
            channel.last_alert_ns = times[last]
            live, earliest = channel.live_since_ns, min(mine)
            if live is not None and earliest < live:  # some written before it connected: history
                earliest = min((t for t in mine if t >= live), default=None)
            if earliest is not None:
                self._lag(channel, now - earliest, now)

    def _tally(self, alerts: list[Alert], nodes: list[str], stamps: list[int | None], now: int) -> None:
        """Put a run's figures into its channels (created with their first alert), as `_take` would one
        alert at a time: alerts received, the last event time, the pod, and the lag (the largest of the
        run's lines written while the channel was connected, the same `now` for all)."""
        kind = alerts[0].channel
        if all(a.channel is kind for a in alerts):  # one kind (always, from a log follower or gRPC batch)
            groups: list = nodes
        else:
            groups = [(node, a.channel) for a, node in zip(alerts, nodes, strict=True)]
        counts: dict = {}
        _count_elements(counts, groups)
        last_t = {g: a.time_ns for g, a in zip(groups, alerts, strict=True)}
        pods = {g: pod for g, a in zip(groups, alerts, strict=True) if (pod := a.pod) is not None}
        since: dict = {}
        for group, count in counts.items():
            node, k = (group, kind) if groups is nodes else group
            channel = self._channel_for(node, k, pods.get(group), now)
            channel.alerts += count
            channel.last_received_ns = now
            channel.last_alert_ns = last_t[group]
            pod = pods.get(group)
            if pod is not None and channel.pod != pod:
                channel.pod = pod
            live = channel.live_since_ns
            since[group] = (_BEFORE if live is None else live, channel)
        if len(counts) == 1:
            live, channel = since[groups[0]]
            earliest = min((t for t in stamps if t is not None and t >= live), default=None)
            if earliest is not None:
                self._lag(channel, now - earliest, now)
            return
        firsts: dict = {}
        for group, t in zip(groups, stamps, strict=True):
            if t is not None and t >= since[group][0] and (group not in firsts or t < firsts[group]):
                firsts[group] = t
        for group, t in firsts.items():
            self._lag(since[group][1], now - t, now)

    @staticmethod
    def _lag(channel: ChannelStatus, lag: int, now: int) -> None:
        if channel.lag_at_ns != now or channel.lag_ns is None or lag > channel.lag_ns:
            channel.lag_ns, channel.lag_at_ns = lag, now

    def set_channel(
        self, node: str, kind: str, connected: bool, *, pod: str | None = None, detail: str = ""
    ) -> ChannelStatus:
        """Report that a channel (`log` or `grpc`) of `node` connected or went away, and why. From then on
        the channel's state is what its owner reports (a channel nobody reports on counts as connected
        while alerts arrive through it)."""
        if kind not in CHANNEL_KINDS:
            raise ValueError(f"unknown channel kind {kind!r} (expected log, grpc or nats)")
        key = (node, kind)
        status = self.channels.get(key)
        if status is None:
            status = self.channels[key] = ChannelStatus(node, kind)
        status.managed = True
        if status.connected != connected:
            status.connected, status.changed_ns = connected, self._clock()
            if not connected:
                status.cuts += 1
                status.last_cut_ns = status.changed_ns
            else:
                status.live_since_ns = status.changed_ns
        if pod is not None:
            status.pod = pod
        status.detail = detail
        self._changed_channels.add(key)
        return status

    def log_stream_health(self) -> dict[str, object]:
        """The header's stream figures: cuts and gaps so far, and the nodes whose log stream is down."""
        logs = [s for (_n, kind), s in self.channels.items() if kind == "log" and s.managed]
        return {
            "log_cuts": sum(s.cuts for s in logs),
            "log_gaps": sum(s.gaps for s in logs),
            # cut after having streamed: a stream still starting (or a pod that never ran) is not "down"
            "log_down": tuple(sorted(s.node for s in logs if not s.connected and s.cuts)),
        }

    def channels_of(self, node: str) -> list[ChannelStatus]:
        return [s for k in CHANNEL_KINDS if (s := self.channels.get((node, k))) is not None]

    def live_channels(self, node: str) -> tuple[str, ...]:
        """The channel kinds of `node` that are connected now, in ("log", "grpc") order."""
        return tuple(k for k in CHANNEL_KINDS if (s := self.channels.get((node, k))) and s.connected)

    def live_counts(self) -> dict[str, int]:
        """How many nodes have each channel kind connected (the header's `logs ●46  gRPC –`)."""
        counts = dict.fromkeys(CHANNEL_KINDS, 0)
        for (_node, kind), status in self.channels.items():
            if status.connected:
                counts[kind] += 1
        return counts

    def worst_lag(self, now_ns: int | None = None) -> tuple[float, ChannelStatus] | None:
        """The channel whose lines arrive latest now, and that lag in seconds: only lag measured in the
        last LAG_WINDOW_S counts (a quiet channel has none), and replayed history never does. None when no
        line arrived recently."""
        now = self._clock() if now_ns is None else now_ns
        worst: tuple[int, ChannelStatus] | None = None
        for status in self.channels.values():
            lag = status.current_lag_ns(now)
            if lag is not None and (worst is None or lag > worst[0]):
                worst = (lag, status)
        return None if worst is None else (worst[0] / _NS, worst[1])

    def max_lag_s(self, now_ns: int | None = None) -> float | None:
        """The largest current delivery lag among connected channels (the header's `lag 0.3s`)."""
        worst = self.worst_lag(now_ns)
        return None if worst is None else worst[0]
