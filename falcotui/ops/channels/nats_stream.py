"""The JetStream stream that keeps Falcosidekick's alerts: find it, say plainly why it cannot be read, and
create it — only once the operator has seen its exact configuration and said yes (the CLI asks y/N or takes
`--yes`; the TUI shows a confirm dialog). An existing stream is never changed.

The configuration falcotui proposes, and why (docs.nats.io, "Shaping the stream" and the stream
configuration reference; falcosecurity/falcosidekick at 8807ab7b, outputs/nats.go):
- retention `limits`: messages stay until a limit removes them, whoever has read them. `interest` would
  delete an alert once the consumers present have acknowledged it (falcotui's ordered consumers are
  ephemeral and never acknowledge: with none attached, alerts would be dropped on arrival) and `workqueue`
  gives each message to one consumer only; falcotui is one reader among many (other falcotuis, SIEM jobs).
- storage `file`: the stream survives a restart of the server; `memory` loses every alert with it.
- discard `old` at the limits: in an incident the newest alerts matter most, and Falcosidekick publishes
  with core NATS (`nc.Publish`, outputs/nats.go:49, no JetStream acknowledgement), so a stream that
  refused new messages (`discard new`) would lose them without anyone being told.
- max age 7 days and max bytes 10 GiB (both adjustable): without limits a stream grows until the disk is
  full and takes the server down ("Shaping the stream"); a week covers an incident and its review, and
  10 GiB holds ~7 million alerts of ~1.5 KB, a storm of 2,000 alerts/s for an hour.
- replicas 1 (adjustable, up to 5 in a clustered JetStream; 3 survives the loss of one server).
The duplicate window keeps the server's default: Falcosidekick sets no `Nats-Msg-Id`, so it has nothing to
de-duplicate by (outputs/nats.go builds a plain publish).
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from falcotui.ops.channels.nats import NatsSource

DEFAULT_STREAM = "FALCO"
DEFAULT_MAX_AGE_S = 7 * 86_400
DEFAULT_MAX_BYTES = 10 * 1024**3
DEFAULT_REPLICAS = 1
MAX_REPLICAS = 5  # nats-server server/stream.go:802 StreamMaxReplicas
_API_TIMEOUT = 5.0
#: nats-server's JetStream error codes we explain (nats-io/nats-server at 1787eee, server/errors.json)
_ERR_OVERLAP = 10065  # "subjects overlap with an existing stream"
_ERR_NAME_IN_USE = 10058  # "stream name already in use with a different configuration"
_ERR_INSUFFICIENT = 10023  # "insufficient resources"
_ERR_REPLICAS = 10074  # "replicas > 1 not supported in non-clustered mode"


class StreamProblem(Exception):
    """The stream cannot be read (or created) as asked; `kind` is `missing`, `mismatch`, `no-jetstream`
    or `refused`; `str()` is the explanation for the operator."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def subject_covers(pattern: str, subject: str) -> bool:
    """Whether every subject `subject` (which may hold wildcards) matches is also matched by `pattern`
    (NATS subject tokens: `*` is one token, `>` one or more at the end)."""
    pat, sub = pattern.split("."), subject.split(".")
    for i, p in enumerate(pat):
        if p == ">":
            return len(sub) > i
        if i >= len(sub):
            return False
        s = sub[i]
        if s == ">":
            return False
        if p != "*" and (s == "*" or p != s):
            return False
    return len(sub) == len(pat)


@dataclass(frozen=True, slots=True)
class StreamPlan:
    """The stream falcotui would create (see the module docstring for each choice)."""

    name: str
    subjects: tuple[str, ...]
    max_age_s: int = DEFAULT_MAX_AGE_S
    max_bytes: int = DEFAULT_MAX_BYTES
    replicas: int = DEFAULT_REPLICAS
    storage: str = "file"
    retention: str = "limits"
    discard: str = "old"
    description: str = "Falco alerts published by Falcosidekick (created by falcotui)"

    def config(self):
        """nats-py's StreamConfig for this plan."""
        from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig

        return StreamConfig(
            name=self.name,
            description=self.description,
            subjects=list(self.subjects),
            retention=RetentionPolicy(self.retention),
            storage=StorageType(self.storage),
            discard=DiscardPolicy(self.discard),
            max_age=float(self.max_age_s),
            max_bytes=self.max_bytes,
            num_replicas=self.replicas,
        )

    def lines(self) -> list[tuple[str, str, str]]:
        """(setting, value, why) for the confirmation."""
        return [
            ("name", self.name, ""),
            ("subjects", ", ".join(self.subjects), "what Falcosidekick publishes to"),
            ("retention", self.retention, "kept until a limit removes them, for any number of readers"),
            ("storage", self.storage, "survives a restart of the server"),
            ("max age", duration_text(self.max_age_s), "an incident and its review"),
            ("max bytes", bytes_text(self.max_bytes), "the disk never fills"),
            ("discard", self.discard, "at a limit the oldest go, never the newest"),
            ("replicas", str(self.replicas), "3 in a NATS cluster survives the loss of a server"),
        ]

    def text(self) -> str:
        width = max(len(k) for k, _v, _w in self.lines())
        rows = [f"  {k:<{width}}  {v}" + (f"   ({why})" if why else "") for k, v, why in self.lines()]
        return "\n".join(rows) + f"\n  same as: {self.nats_cli()}\n"

    def nats_cli(self) -> str:
        """The equivalent `nats stream add` line (the nats CLI's flags)."""
        argv = ["nats", "stream", "add", self.name, "--subjects", ",".join(self.subjects)]
        argv += ["--storage", self.storage, "--retention", self.retention, "--discard", self.discard]
        argv += ["--max-age", duration_text(self.max_age_s), "--max-bytes", str(self.max_bytes)]
        argv += ["--replicas", str(self.replicas), "--defaults"]
        return shlex.join(argv)


def plan_for(
    src: NatsSource,
    *,
    max_age_s: int = DEFAULT_MAX_AGE_S,
    max_bytes: int = DEFAULT_MAX_BYTES,
    replicas: int = DEFAULT_REPLICAS,
) -> StreamPlan:
    """The stream for `src`: its `--stream` name (default FALCO) capturing its `--subject`."""
    if not 1 <= replicas <= MAX_REPLICAS:
        raise ValueError(f"replicas: 1 to {MAX_REPLICAS}")
    if max_age_s <= 0 or max_bytes <= 0:
        raise ValueError("the stream's max age and max bytes must be positive")
    return StreamPlan(src.stream or DEFAULT_STREAM, (src.subject,), max_age_s, max_bytes, replicas)


async def locate_stream(js, src: NatsSource) -> str:
    """The name of the stream `src` reads, checked to capture its subject; StreamProblem otherwise.
    (The server finds streams by a subject that merely collides with theirs — jetstream_api.go:1749
    `SubjectsCollide` — so a stream on `falco.critical.>` answers for `falco.>`: hence the check.)"""
    from nats.errors import NoRespondersError
    from nats.js.errors import NotFoundError

    try:
        if src.stream:
            try:
                info = await js.stream_info(src.stream)
            except NotFoundError:
                raise StreamProblem(
                    "missing", f"there is no JetStream stream named {src.stream} (for {src.subject})"
                ) from None
        else:
            try:
                name = await js.find_stream_name_by_subject(src.subject)
            except NotFoundError:
                raise StreamProblem("missing", f"no JetStream stream captures {src.subject}") from None
            info = await js.stream_info(name)
    except NoRespondersError:
        raise StreamProblem(
            "no-jetstream",
            "JetStream is not enabled on this server (nats-server -js, or a jetstream block in its config)",
        ) from None
    subjects = tuple(info.config.subjects or ())
    if not any(subject_covers(s, src.subject) for s in subjects):
        raise StreamProblem(
            "mismatch",
            f"stream {info.config.name} exists but captures {', '.join(subjects) or 'nothing'}, not "
            f"{src.subject}; falcotui does not change an existing stream (its owner can add the subject "
            f"with `nats stream edit`, or pass --stream/--subject for one that matches)",
        )
    return info.config.name


@dataclass(frozen=True, slots=True)
class StreamCheck:
    """What `check_stream` found: `stream` when it is there; else `problem` (a StreamProblem's kind and
    text) or `unreachable` (why the server did not answer)."""

    stream: str = ""
    problem: str = ""
    explanation: str = ""
    unreachable: str = ""

    @property
    def missing(self) -> bool:
        return self.problem == "missing"


async def _quiet(exc: Exception) -> None:
    return None


def connect_options(src: NatsSource, *, reconnect_wait: float = 0.5) -> dict[str, object]:
    """nats-py's `connect()` keywords for `src`: servers, credentials, TLS, reconnect forever."""
    options: dict[str, object] = {
        "servers": list(src.servers),
        "allow_reconnect": True,
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": reconnect_wait,
        "connect_timeout": 5,
        "name": "falcotui",
        # the caller says what failed, once: nats-py's default logs each error with a traceback to stderr
        "error_cb": _quiet,
    }
    if src.creds:
        options["user_credentials"] = src.creds
    if src.nkey:
        options["nkeys_seed"] = src.nkey
    if src.user is not None:
        options["user"], options["password"] = src.user, src.password or ""
    if (ctx := src.tls_context()) is not None:
        options["tls"] = ctx
    return options


async def _connected(src: NatsSource, timeout: float):
    import nats

    options = connect_options(src)
    options.update(allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=timeout)
    return await nats.connect(**options)


async def check_stream(src: NatsSource, *, timeout: float = 10.0) -> StreamCheck:
    """Connect once and look for the stream."""
    nc = None
    try:
        async with asyncio.timeout(timeout):
            nc = await _connected(src, timeout)
            name = await locate_stream(nc.jetstream(timeout=_API_TIMEOUT), src)
    except StreamProblem as exc:
        return StreamCheck(problem=exc.kind, explanation=str(exc))
    except Exception as exc:  # unreachable, refused, timed out: said the same way as the channel does
        if refused_credentials(exc):  # it answers, and will not take these: trying again changes nothing
            return StreamCheck(problem="credentials", explanation=f"{why(exc)}: {CREDENTIALS_HINT}")
        return StreamCheck(unreachable=why(exc))
    finally:
        await _close(nc)
    return StreamCheck(stream=name)


#: the NATS server's refusals of a client's credentials: the four -ERR texts nats.go's processErr treats as
#: auth errors (and stops reconnecting on when a server repeats one): 'Authorization Violation', 'User
#: Authentication Expired', 'User Authentication Revoked', 'Account Authentication Expired'
_REFUSALS = ("authorization violation", "user authentication expired", "user authentication revoked",
             "account authentication expired")  # fmt: skip
CREDENTIALS_HINT = (
    "the server refused the credentials (--user/--password or $NATS_USER/$NATS_PASSWORD, --creds, --nkey)"
)


def refused_credentials(exc: BaseException) -> bool:
    """True when the server answered and refused who we are (not when it could not be reached)."""
    text = str(exc).lower()
    return any(r in text for r in _REFUSALS)


async def create_stream(src: NatsSource, plan: StreamPlan, *, timeout: float = 15.0):
    """Create `plan`'s stream (the caller has the operator's yes); nats-py's StreamInfo of the new stream.
    Looks again first: a stream that appeared meanwhile is never overwritten (StreamProblem `refused`);
    the server's refusals are explained."""
    from nats.js.errors import APIError

    nc = None
    try:
        async with asyncio.timeout(timeout):
            nc = await _connected(src, timeout)
            js = nc.jetstream(timeout=_API_TIMEOUT)
            try:
                found = await locate_stream(js, src)
            except StreamProblem as exc:
                if exc.kind != "missing":
                    raise
            else:
                raise StreamProblem(
                    "refused", f"stream {found} already captures {src.subject}: nothing created"
                )
            try:
                return await js.add_stream(config=plan.config())
            except APIError as exc:
                raise StreamProblem("refused", await _refusal(js, plan, exc)) from None
    finally:
        await _close(nc)


async def _refusal(js, plan: StreamPlan, exc) -> str:
    code, text = getattr(exc, "err_code", None), getattr(exc, "description", None) or str(exc)
    if code == _ERR_OVERLAP:
        others = []
        with contextlib.suppress(Exception):
            for info in await js.streams_info():
                subjects = tuple(info.config.subjects or ())
                if any(subject_covers(s, p) or subject_covers(p, s) for s in subjects for p in plan.subjects):
                    others.append(f"{info.config.name} ({', '.join(subjects)})")
        whose = f": {'; '.join(others)}" if others else ""
        return (
            f"the server refused: {', '.join(plan.subjects)} overlaps the subjects of another stream{whose}; "
            "read that one with --stream NAME, or ask its owner"
        )
    if code == _ERR_NAME_IN_USE:
        return f"the server refused: a stream named {plan.name} exists with another configuration (unchanged)"
    if code == _ERR_REPLICAS:
        return f"the server refused {plan.replicas} replicas: it is not clustered (use --stream-replicas 1)"
    if code == _ERR_INSUFFICIENT:
        return (
            f"the server refused: not enough storage for {bytes_text(plan.max_bytes)} "
            "(try a smaller --stream-max-bytes)"
        )
    return f"the server refused: {text}"


async def _close(nc) -> None:
    if nc is not None:
        with contextlib.suppress(Exception):
            await nc.close()


def why(exc: BaseException) -> str:
    """An exception as one line: its type, and its text when that says more."""
    if isinstance(exc, TimeoutError):
        return "no answer (timed out)"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text != type(exc).__name__ else text


_BYTE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_bytes(text: str) -> int:
    """`10G`, `500MiB`, `1T`, or plain bytes (binary units, as the nats CLI reads them); ValueError."""
    t = text.strip().lower().removesuffix("b").removesuffix("i")
    unit = t[-1:] if t[-1:] in "kmgt" and t[-1:] else ""
    number = t[: len(t) - len(unit)]
    try:
        value = float(number) * _BYTE_UNITS[unit]
    except ValueError:
        raise ValueError(f"not a size: {text!r} (examples: 10G, 500M, 1T)") from None
    if value < 1:
        raise ValueError(f"not a size: {text!r} (examples: 10G, 500M, 1T)")
    return int(value)


def bytes_text(n: int) -> str:
    for unit, size in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n:,} B"


def duration_text(seconds: int) -> str:
    """`7d`, `36h`, `90m`, `45s`: the largest whole unit (the nats CLI reads these)."""
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
