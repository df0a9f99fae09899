"""What every cluster-facing sub-command shares: the connection options, building the clients, how output
looks (colours only on a terminal without NO_COLOR, progress only on a terminal), and turning failures,
Ctrl-C and a closed pipe into a one-line message and an exit code instead of a traceback.

A command module calls `add_cluster_options(parser)` and registers its handler as `cli_command(fn)`;
inside, `connect(args)` gives `KubeClients` and `Output.detect()` the output style.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import os
import re
import sys
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

from falcotui.falco.sanitize import terminal_text

# the error types only: kube.client imports the kubernetes client (and its pydantic models), which
# `--help`, `--version` and `rules lint` never need; `connect` imports it when a command talks to a cluster
from falcotui.kube.errors import KubeConfigError, KubeConnectionError, KubeError, short_reason
from falcotui.kube.throttle import BURST_ENV, DEFAULT_BURST, DEFAULT_QPS, QPS_ENV, RateLimits

if TYPE_CHECKING:
    from falcotui.kube.client import KubeClients

DEFAULT_FALCO_NAMESPACE = "falco"
EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

_DURATION = re.compile(r"(\d+)([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class CliError(Exception):
    """A failure to report as `falcotui: error: <message>` with `exit_code`."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


#: the cluster options and their defaults; valid before the command (`falcotui --context c status`) and
#: after it (`falcotui status --context c`): `apply_global_options` merges the two positions.
GLOBAL_DEFAULTS: dict[str, object] = {
    "kubeconfig": None,
    "context": None,
    "falco_namespace": DEFAULT_FALCO_NAMESPACE,
    "request_timeout": 30.0,
    "read_only": False,
    "qps": None,  # None: $FALCOTUI_QPS, else falcotui.kube.throttle.DEFAULT_QPS
    "burst": None,
}
#: how each global option is spelled, for messages
GLOBAL_FLAGS = {
    "kubeconfig": "--kubeconfig",
    "context": "--context",
    "falco_namespace": "--namespace",
    "request_timeout": "--request-timeout",
    "read_only": "--read-only",
    "qps": "--qps",
    "burst": "--burst",
}


def add_cluster_options(
    parser: argparse.ArgumentParser, *, top_level: bool = False, writes: bool = False
) -> None:
    """`--kubeconfig`, `--context`, `--namespace/-n` (= `--falco-namespace`), `--request-timeout` and
    `--read-only`, on the top-level parser (`top_level`) or on a sub-command that talks to a cluster.

    On a sub-command every default is SUPPRESS, so a value typed before the command is not overwritten by
    the sub-parser's default (argparse copies every attribute of the sub-namespace over the parent's). At
    the top level every default is None, so `apply_global_options` can tell a typed value from none.
    `writes`: the command changes the cluster, so `--read-only` refuses it.
    """

    def default(name: str) -> object:
        return None if top_level else argparse.SUPPRESS

    title = "cluster (before or after the command)" if top_level else "cluster"
    group = parser.add_argument_group(title)
    group.add_argument(
        "--kubeconfig",
        metavar="PATH",
        default=default("kubeconfig"),
        help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)",
    )
    group.add_argument(
        "--context",
        metavar="NAME",
        action="append",
        # after a command its own dest: argparse would let the command's list replace the one typed before it
        dest="context" if top_level else "context_after",
        default=default("context"),
        help="kubeconfig context (default: the current one); `falcotui`, `alerts` and `status` take it "
        "more than once: every named cluster side by side",
    )
    group.add_argument(
        "--namespace",
        "-n",
        "--falco-namespace",
        dest="falco_namespace",
        metavar="NS",
        default=default("falco_namespace"),
        help=f"namespace Falco runs in (default: {DEFAULT_FALCO_NAMESPACE})",
    )
    group.add_argument(
        "--request-timeout",
        metavar="SECONDS",
        type=positive_float,
        default=default("request_timeout"),
        help="give up on an API request after this long (default: 30)",
    )
    group.add_argument(
        "--read-only",
        action="store_true",
        default=default("read_only"),
        help="never write to the cluster (commands that would are refused)",
    )
    group.add_argument(
        "--qps",
        metavar="N",
        type=float,
        default=default("qps"),
        help=f"API requests per second at most, 0 for no limit (default: ${QPS_ENV} or {DEFAULT_QPS:g}; "
        "watches and log streams count once, when they open)",
    )
    group.add_argument(
        "--burst",
        metavar="N",
        type=int,
        default=default("burst"),
        help=f"API requests allowed at once above --qps (default: ${BURST_ENV} or {DEFAULT_BURST})",
    )
    if not top_level:
        parser.set_defaults(cluster_command=True, writes_cluster=writes)


def apply_global_options(args: argparse.Namespace, command: str | None) -> None:
    """Fill in the defaults of the cluster options and refuse combinations that would be ignored.

    Raises CliError (usage) for a cluster option given to a command that does not talk to a cluster
    (apart from `--namespace` where the command takes one) and for `--read-only` with a writing command.
    """
    contexts = [*(getattr(args, "context", None) or ()), *(getattr(args, "context_after", None) or ())]
    args.contexts = list(dict.fromkeys(contexts))  # every --context, in order, each once
    args.context = args.contexts[0] if args.contexts else None
    if len(args.contexts) > 1 and command is not None and not getattr(args, "many_contexts", False):
        raise CliError(
            f"`falcotui {command}` acts on one cluster: give --context once "
            f"(several are for `falcotui`, `falcotui alerts` and `falcotui status`)",
            EXIT_USAGE,
        )
    if command is not None and not getattr(args, "cluster_command", False):
        allowed = set(getattr(args, "accepts_globals", ()))
        typed = [
            GLOBAL_FLAGS[name]
            for name in GLOBAL_DEFAULTS
            if name not in allowed and getattr(args, name, None) not in (None, False)
        ]
        if typed:
            raise CliError(
                f"{', '.join(typed)} has no effect on `falcotui {command}` (it does not talk to a cluster)",
                EXIT_USAGE,
            )
    for name, value in GLOBAL_DEFAULTS.items():
        if getattr(args, name, None) is None:
            setattr(args, name, value)
    if args.read_only and getattr(args, "writes_cluster", False) and not getattr(args, "dry_run", False):
        raise CliError(f"--read-only: `falcotui {command}` would write to the cluster", EXIT_USAGE)


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


def duration(text: str) -> int:
    """`90s`, `10m`, `1h30m`, `2d` (or plain seconds) as seconds; an argparse type."""
    text = text.strip().lower()
    if text.isdigit():
        return int(text)
    pos, total = 0, 0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        total += int(m[1]) * _UNITS[m[2]]
        pos = m.end()
    if pos != len(text) or not text or total <= 0:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (examples: 90s, 10m, 1h30m, 2d)")
    return total


def connect(args: argparse.Namespace) -> KubeClients:
    """KubeClients for the parsed cluster options; CliError with a readable message if that fails."""
    from falcotui.kube.client import Timeouts, load_clients

    timeouts = Timeouts(connect=min(10.0, args.request_timeout), read=args.request_timeout)
    try:
        return load_clients(args.kubeconfig, args.context, timeouts=timeouts, limits=rate_limits(args))
    except KubeConfigError as exc:
        raise CliError(str(exc)) from None


def rate_limits(args: argparse.Namespace) -> RateLimits:
    """The client-side rate limit from `--qps`/`--burst`, else the environment, else the defaults."""
    try:
        return RateLimits.from_env(qps=getattr(args, "qps", None), burst=getattr(args, "burst", None))
    except ValueError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None


def preflight(clients: KubeClients) -> None:
    """Ask the API server for `/version`; CliError with a one-line reason when it does not answer."""
    try:
        clients.request("GET", "/version", timeout=(clients.timeouts.connect, 10.0))
    except KubeConnectionError as exc:
        where = f"{clients.host} (context {clients.context})" if clients.context else clients.host
        raise CliError(f"cannot reach the Kubernetes API at {where}: {short_reason(exc)}") from None
    except KubeError as exc:
        raise CliError(f"the Kubernetes API at {clients.host} answered with an error: {exc}") from None


class SafeStream(io.TextIOBase):
    """A text stream that puts everything written through the project's sanitizing policy
    (`falco.sanitize.terminal_text`): an API error message, a crash-looping pod's log line or an alert
    can never move the cursor, clear the screen, set the clipboard (OSC 52) or add a link (OSC 8).

    Our own terminal controls (colours, a progress line's carriage return) go through `write_trusted`,
    given only text whose cluster parts the caller sanitized itself. Bytes written to `.buffer` (JSON
    lines, coloured alert lines) bypass it and are made safe where they are formatted (`json_bytes`,
    `sanitize`)."""

    def __init__(self, inner: TextIO) -> None:
        super().__init__()
        self.inner = inner

    def write(self, text: str) -> int:
        self.inner.write(terminal_text(text))
        return len(text)

    def write_trusted(self, text: str) -> int:
        return self.inner.write(text)

    def flush(self) -> None:
        self.inner.flush()

    def isatty(self) -> bool:
        return _isatty(self.inner)

    def fileno(self) -> int:
        return self.inner.fileno()

    def writable(self) -> bool:
        return True

    @property
    def buffer(self) -> BinaryIO:
        return self.inner.buffer  # type: ignore[attr-defined]

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.inner, "encoding", "utf-8")


def write_trusted(stream: TextIO, text: str) -> None:
    """Write our own terminal controls/styling (around text already sanitized) past a `SafeStream`."""
    getattr(stream, "write_trusted", stream.write)(text)


@contextlib.contextmanager
def safe_std_streams() -> Iterator[None]:
    """While inside, sys.stdout and sys.stderr are `SafeStream`s (every CLI command runs so)."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = SafeStream(saved[0]), SafeStream(saved[1])  # type: ignore[assignment]
    try:
        yield
    finally:
        for wrapper in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                wrapper.flush()
        sys.stdout, sys.stderr = saved


@dataclass(frozen=True, slots=True)
class Output:
    """How to write: `color` only on a terminal with NO_COLOR unset (and TERM not dumb); `progress`
    (transient status lines on stderr) only when stderr is a terminal."""

    stream: TextIO
    color: bool
    progress: bool

    @classmethod
    def detect(cls, stream: TextIO | None = None, *, environ: dict[str, str] | None = None) -> Output:
        stream = stream or sys.stdout
        env = os.environ if environ is None else environ
        tty = _isatty(stream)
        color = tty and "NO_COLOR" not in env and env.get("TERM") != "dumb"
        return cls(stream, color, _isatty(sys.stderr))

    def status(self, message: str) -> None:
        """A progress message on stderr (terminal only), overwritten by the next one."""
        if self.progress:
            write_trusted(sys.stderr, "\r\x1b[2K")
            sys.stderr.write(message)
            sys.stderr.flush()

    def clear_status(self) -> None:
        if self.progress:
            write_trusted(sys.stderr, "\r\x1b[2K")
            sys.stderr.flush()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def error(message: str) -> None:
    print(f"falcotui: error: {message}", file=sys.stderr, flush=True)


def warn(message: str) -> None:
    print(f"falcotui: warning: {message}", file=sys.stderr, flush=True)


def silence_stdout() -> None:
    """After EPIPE: point stdout at /dev/null so the interpreter's final flush cannot fail (exit 120)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def said(exc: CliError | KubeError) -> int:
    """Say a command's failure on stderr and return its exit status: a CliError's own message and code, a
    KubeError as itself with 1."""
    if isinstance(exc, CliError):
        error(exc.message)
        return exc.exit_code
    error(str(exc))
    return EXIT_FAILURE


def cli_command(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Wrap a sub-command handler: CliError/KubeError → message + exit code, a closed pipe → exit 0
    quietly, Ctrl-C → 130."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        # urllib3 logs each retried request as a warning; our own messages say what matters
        import logging  # not at module import: `--help` and `rules lint` never log

        logging.getLogger("urllib3").setLevel(logging.ERROR)
        try:
            return int(handler(args) or 0)
        except KubeConnectionError as exc:
            error(f"lost the Kubernetes API: {short_reason(exc)}")
            return EXIT_FAILURE
        except (CliError, KubeError) as exc:
            return said(exc)
        except BrokenPipeError:
            silence_stdout()
            return EXIT_OK
        except KeyboardInterrupt:
            return EXIT_INTERRUPTED

    return run


#: a command's body: args, stdout, stderr and stdin (None: no questions can be asked)
Body = Callable[[argparse.Namespace, TextIO, TextIO, TextIO | None], int]
#: the handler argparse is given: `(args, out=None, err=None, stdin=None)`
Handler = Callable[..., int]


def with_streams(body: Body, name: Callable[[argparse.Namespace], str]) -> Handler:
    """A command handler running `body` on the process's stdout and stderr unless others are passed; a
    CliError it raises is said in one line on stderr after the command's name, `name(args)`, and exits with
    its code."""

    @functools.wraps(body)
    def run(
        args: argparse.Namespace,
        out: TextIO | None = None,
        err: TextIO | None = None,
        stdin: TextIO | None = None,
    ) -> int:
        out, err = out or sys.stdout, err or sys.stderr
        try:
            return body(args, out, err, stdin)
        except CliError as exc:
            err.write(f"{name(args)}: {exc.message}\n")
            return exc.exit_code

    return run


def run_async(coro: Coroutine[Any, Any, int]) -> int:
    """Run a command's coroutine on a fresh loop; gRPC's C core stays quiet unless asked."""
    import asyncio  # not at module import: `--help` and `rules lint` never run a loop

    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    return asyncio.run(coro)
