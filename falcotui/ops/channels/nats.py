"""The `nats` channel: Falcosidekick's alerts read from a NATS JetStream stream into the AlertHub.

Falcosidekick publishes each alert to `falco.<priority>.<rule>` (falcotui/falco/sidekick.py has the facts); a
JetStream stream on `falco.>` keeps them. This channel is one more reader of that stream: an ordered consumer
(ephemeral, no acks, flow control and heartbeats) replaying from `since` (or the whole stream), then live.
It remembers the stream sequence of the last message it delivered to the hub; whenever the subscription may
have missed something (the client reconnected, the server was restarted, heartbeats stopped, the client fell
behind and the server cut it as a slow consumer) it subscribes again from that sequence + 1, and drops any
message at or below it, so a restart of either side loses nothing and repeats nothing.

De-duplication against the pod-log copy is the hub's: the alert's node is the payload's `hostname` (Falco's,
`FALCO_HOSTNAME` = the node's name in our manifests), and the key is the alert's own fields (Falcosidekick's
`uuid` is not in the log copy).

Health: connected or not (and why), and lag: messages in the stream not yet delivered, and the age of the
last delivered message while some are pending.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from falcotui.falco.alerts import AlertParseError
from falcotui.falco.sidekick import alert_from_payload
from falcotui.ops.alerts.hub import AlertHub
from falcotui.ops.channels.nats_stream import StreamProblem, connect_options, locate_stream, why
from falcotui.ops.notices import NoticeKind, NoticeLog

DEFAULT_SUBJECT = "falco.>"
DEFAULT_CLUSTER_FROM = "field:cluster"
STREAM_RETRY_S = 2.0  # a missing stream is looked for again this often (the operator may create it now)
_NS = 1_000_000_000


class NatsSourceError(ValueError):
    """A `nats://` source or its options are not usable; `str()` says why."""


@dataclass(frozen=True, slots=True)
class NatsSource:
    """Where and how to read Falcosidekick's alerts (picklable: it crosses to the engine worker).

    `cluster_from`: `field:NAME` (an output field, e.g. `cluster` from Falcosidekick's customfields) or
    `subject:N` (the N-th dot-separated token of the subject, 1-based, for a subject template such as
    `falco.prod-eu.<priority>.<rule>`)."""

    servers: tuple[str, ...]
    stream: str = ""  # "" = the stream that captures `subject`
    subject: str = DEFAULT_SUBJECT
    since_ns: int | None = None  # replay from this time; None: the whole stream
    creds: str | None = None  # a .creds file (JWT + NKey seed), as `nats --creds`
    nkey: str | None = None  # an NKey seed file, as `nats --nkey`
    user: str | None = None
    password: str | None = None
    tlscert: str | None = None
    tlskey: str | None = None
    tlsca: str | None = None
    cluster_from: str = DEFAULT_CLUSTER_FROM

    def __post_init__(self) -> None:
        if not self.servers:
            raise NatsSourceError("no NATS server given (nats://HOST:PORT[,HOST:PORT…])")
        kind, _, what = self.cluster_from.partition(":")
        if kind not in ("field", "subject") or not what:
            raise NatsSourceError(f"cluster source {self.cluster_from!r}: use field:NAME or subject:N")
        if kind == "subject" and not (what.isdigit() and int(what) >= 1):
            raise NatsSourceError(f"cluster source {self.cluster_from!r}: N counts tokens from 1")
        if bool(self.tlscert) != bool(self.tlskey):
            raise NatsSourceError("--tlscert and --tlskey go together")

    @classmethod
    def parse(cls, url: str, **options: object) -> NatsSource:
        """`nats://host:port[,host:port…]` (also `tls://`; `nats://user:pass@host` as the nats CLI takes)."""
        if not url.startswith(("nats://", "tls://")):
            raise NatsSourceError(f"{url!r} is not a nats:// URL")
        scheme = url.split("://", 1)[0]
        parts = [p.strip() for p in url.split("://", 1)[1].split(",") if p.strip()]
        servers = []
        for part in parts:
            if "://" in part:
                part = part.split("://", 1)[1]
            split = urlsplit(f"{scheme}://{part}")
            try:
                split.port  # noqa: B018 - raises on a bad port
            except ValueError as exc:
                raise NatsSourceError(f"{part!r}: {exc}") from None
            if not split.hostname:
                raise NatsSourceError(f"{part!r}: no host")
            servers.append(f"{scheme}://{part}")
        return cls(tuple(servers), **options)  # type: ignore[arg-type]

    @property
    def cluster_field(self) -> str:
        """The output field that names the cluster ("" when it comes from the subject)."""
        kind, _, what = self.cluster_from.partition(":")
        return what if kind == "field" else ""

    def cluster_of_subject(self, subject: str) -> str | None:
        kind, _, what = self.cluster_from.partition(":")
        if kind != "subject":
            return None
        tokens = subject.split(".")
        index = int(what) - 1
        return tokens[index] if index < len(tokens) else None

    def tls_context(self) -> ssl.SSLContext | None:
        if not (self.tlsca or self.tlscert or any(s.startswith("tls://") for s in self.servers)):
            return None
        ctx = ssl.create_default_context(cafile=self.tlsca)
        if self.tlscert and self.tlskey:
            ctx.load_cert_chain(self.tlscert, self.tlskey)
        return ctx


def reply_facts(reply: str) -> tuple[int, int, int] | None:
    """(stream sequence, stored at in ns, messages pending) from a JetStream message's reply subject:
    `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>`, or with `<domain>.<hash>`
    after `$JS.ACK` (nats-server's ADR-15 v2 form, 12 tokens)."""
    tokens = reply.split(".")
    try:
        if len(tokens) == 9:
            return int(tokens[5]), int(tokens[7]), int(tokens[8])
        if len(tokens) >= 11:
            return int(tokens[7]), int(tokens[9]), int(tokens[10])
    except ValueError:
        return None
    return None


@dataclass(frozen=True, slots=True)
class NatsHealth:
    """The source's state for the header and `status`."""

    servers: str
    stream: str
    connected: bool
    detail: str  # why not connected, or the server connected to
    delivered: int  # messages delivered to the hub (duplicates of a resume never are)
    last_seq: int  # stream sequence of the last message delivered
    lag_msgs: int | None  # messages in the stream not yet delivered (None: not known yet)
    lag_s: float | None  # while some are pending: how old the last delivered message is
    resumes: int  # subscriptions made again after a possible loss
    bad: int  # messages that were not Falcosidekick payloads (counted, not stored)
    missing: str = ""  # why the stream cannot be read when it is missing or wrong (ops/nats_stream.py)
    stream_missing: bool = False  # no such stream: it may be created (with the operator's yes)


class NatsChannel:
    """Reads `source` into `hub` until `aclose()`; see the module docstring."""

    def __init__(
        self,
        source: NatsSource,
        hub: AlertHub,
        notices: NoticeLog,
        *,
        check_interval: float = 1.0,
        stall_s: float = 3.0,
        idle_heartbeat: float = 1.0,
        reconnect_wait: float = 0.5,
    ) -> None:
        self.source = source
        self.hub = hub
        self.notices = notices
        self.check_interval = check_interval
        self.stall_s = stall_s
        self.idle_heartbeat = idle_heartbeat
        self.reconnect_wait = reconnect_wait
        self.connected = False
        self.detail = "connecting"
        self.stream = source.stream
        self.last_seq = 0
        self.delivered = 0
        self.skipped = 0  # messages at or below `last_seq` seen again after a resume (dropped)
        self.resumes = 0
        self.bad = 0
        self._last_ts_ns: int | None = None
        self._last_msg_mono = time.monotonic()
        self._pending: int | None = None
        self._nc = None
        self._sub = None
        self._resubscribe = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._closed = False
        self._was_connected = False
        self.missing = ""  # set while the stream is missing or does not capture our subject
        self.stream_missing = False

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="nats-channel")

    async def aclose(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._close_nc()

    async def _close_nc(self) -> None:
        nc, self._nc, self._sub = self._nc, None, None
        if nc is not None:
            with contextlib.suppress(Exception):
                await nc.close()

    async def _run(self) -> None:
        backoff = self.reconnect_wait
        while not self._closed:
            try:
                await self._connect()
                backoff = self.reconnect_wait
                await self._follow()
            except asyncio.CancelledError:
                raise
            except StreamProblem as exc:  # the server answers; the stream is not there (yet): say so
                if not self.missing:
                    self.notices.add(NoticeKind.STREAM_DROPPED, f"NATS: {exc}")
                await self._close_nc()  # (its disconnected callback says "reconnecting": said below instead)
                self.missing, self.stream_missing = str(exc), exc.kind == "missing"
                self.stream = self.source.stream
                self.connected, self.detail = False, str(exc)
                await asyncio.sleep(STREAM_RETRY_S)
            except Exception as exc:  # any failure: say why, back off, connect again from last_seq + 1
                self._set_connected(False, why(exc))
                await self._close_nc()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def _connect(self) -> None:
        import nats  # nats-py: imported here so that a falcotui without a nats source never loads it

        src = self.source

        async def disconnected() -> None:
            self._set_connected(False, "disconnected; reconnecting")

        async def reconnected() -> None:
            self._resubscribe.set()  # the ordered consumer may be gone with the old server: start again

        async def error(exc: Exception) -> None:
            if "slow consumer" in str(exc).lower():
                self._resubscribe.set()  # nats-py dropped messages: read them again from last_seq + 1

        options = connect_options(src, reconnect_wait=self.reconnect_wait)
        options.update(disconnected_cb=disconnected, reconnected_cb=reconnected, error_cb=error)
        self._nc = await nats.connect(**options)

    async def _follow(self) -> None:
        nc = self._nc
        js = nc.jetstream()
        self.stream = await locate_stream(js, self.source)
        await self._subscribe(js)
        self.missing, self.stream_missing = "", False
        while not self._closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._resubscribe.wait(), self.check_interval)
            if not nc.is_connected:
                continue
            stalled = await self._check(js)
            if self._resubscribe.is_set() or stalled:
                await self._subscribe(js)

    async def _subscribe(self, js) -> None:
        from nats.js.api import ConsumerConfig, DeliverPolicy

        self._resubscribe.clear()
        old, self._sub = self._sub, None
        if old is not None:
            with contextlib.suppress(Exception):
                await old.unsubscribe()
        if self.last_seq:
            self.resumes += 1
        src = self.source
        if self.last_seq:
            policy, config = DeliverPolicy.BY_START_SEQUENCE, ConsumerConfig(opt_start_seq=self.last_seq + 1)
        elif src.since_ns is not None:
            start = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(src.since_ns // _NS))
            frac = f"{src.since_ns % _NS:09d}"
            policy, config = DeliverPolicy.BY_START_TIME, ConsumerConfig(opt_start_time=f"{start}.{frac}Z")
        else:
            policy, config = DeliverPolicy.ALL, ConsumerConfig()
        self._last_msg_mono = time.monotonic()
        self._sub = await js.subscribe(
            src.subject,
            stream=self.stream,
            cb=self._on_msg,
            ordered_consumer=True,
            idle_heartbeat=self.idle_heartbeat,
            deliver_policy=policy,
            config=config,
        )
        server = self._nc.connected_url.netloc if self._nc and self._nc.connected_url else ""
        self._set_connected(True, f"stream {self.stream} via {server}")

    async def _check(self, js) -> bool:
        """The lag (the consumer's pending count on the server, for our subject filter, plus what the
        client holds undelivered); True when messages are pending but none arrived for `stall_s`."""
        sub = self._sub
        info = await sub.consumer_info()
        behind = info.num_pending + sub.pending_msgs
        self._pending = behind
        return behind > 0 and time.monotonic() - self._last_msg_mono > self.stall_s

    @property
    def caught_up(self) -> bool:
        """Everything the stream held for our subject at the last check has been delivered."""
        return self._pending == 0

    # ------------------------------------------------------------ messages

    async def _on_msg(self, msg) -> None:
        facts = reply_facts(msg.reply or "")
        if facts is None:
            return  # not a stream message (a status the client handles itself)
        seq, stored_ns, pending = facts
        self._last_msg_mono = time.monotonic()
        if seq <= self.last_seq:
            self.skipped += 1  # delivered before a resume: already in the hub
            return
        self.last_seq, self._last_ts_ns, self._pending = seq, stored_ns, pending
        self.delivered += 1
        src = self.source
        try:
            alert = alert_from_payload(
                msg.data, cluster=src.cluster_of_subject(msg.subject), cluster_field=src.cluster_field
            )
        except AlertParseError:
            self.bad += 1
            return
        if pending:  # replayed history is not lateness: the lag is measured only on live messages
            self.hub.ingest_history(alert)
        else:
            self.hub.ingest(alert, line_ns=stored_ns)

    # ------------------------------------------------------------ health

    def _set_connected(self, ok: bool, detail: str) -> None:
        before, self.connected, self.detail = self.connected, ok, detail
        if ok and not before:
            if self._was_connected:
                self.notices.add(NoticeKind.STREAM_RESUMED, f"NATS: reading again ({detail})")
            self._was_connected = True
        elif before and not ok:
            self.notices.add(NoticeKind.STREAM_DROPPED, f"NATS: {detail}")

    def health(self, now_ns: int | None = None) -> NatsHealth:
        now = time.time_ns() if now_ns is None else now_ns
        lag_s = None
        if self._pending and self._last_ts_ns is not None:
            lag_s = max(0.0, (now - self._last_ts_ns) / _NS)
        elif self._pending == 0:
            lag_s = 0.0
        return NatsHealth(
            servers=",".join(self.source.servers),
            stream=self.stream,
            connected=self.connected,
            detail=self.detail,
            delivered=self.delivered,
            last_seq=self.last_seq,
            lag_msgs=self._pending,
            lag_s=lag_s,
            resumes=self.resumes,
            bad=self.bad,
            missing=self.missing,
            stream_missing=self.stream_missing,
        )


@dataclass(frozen=True, slots=True)
class StreamState:
    """`falcotui status --from nats://…`: whether the server answers and what its stream holds."""

    servers: str
    connected: bool
    error: str = ""
    stream: str = ""
    subjects: tuple[str, ...] = ()
    messages: int = 0
    first_seq: int = 0
    last_seq: int = 0
    last_ns: int | None = None  # when the newest message was stored
    missing: str = ""  # the server answered, but the stream is missing or does not capture the subject
    stream_missing: bool = False  # no such stream (it may be created: --create-stream)


async def probe_stream(src: NatsSource, *, timeout: float = 10.0) -> StreamState:
    """Connect once (no reconnects) and read the stream's state."""
    import nats

    servers = ",".join(src.servers)
    options = connect_options(src)
    options.update(allow_reconnect=False, max_reconnect_attempts=0)
    nc = None
    try:
        async with asyncio.timeout(timeout):
            nc = await nats.connect(**options)
            js = nc.jetstream()
            stream = await locate_stream(js, src)
            info = await js.stream_info(stream)
            newest = await js.get_msg(stream, seq=info.state.last_seq) if info.state.last_seq else None
    except StreamProblem as exc:
        return StreamState(servers, True, missing=str(exc), stream_missing=exc.kind == "missing")
    except Exception as exc:  # unreachable, refused, timed out: all said the same way
        return StreamState(servers, False, why(exc))
    finally:
        if nc is not None:
            with contextlib.suppress(Exception):
                await nc.close()
    state = info.state
    stamp = newest.time if newest is not None else None
    last_ns = int(stamp.timestamp() * _NS) if stamp is not None else None
    return StreamState(
        servers,
        True,
        "",
        stream,
        tuple(info.config.subjects or ()),
        state.messages,
        state.first_seq,
        state.last_seq,
        last_ns,
    )
