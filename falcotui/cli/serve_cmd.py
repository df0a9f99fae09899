"""`falcotui serve`: the same terminal UI in a browser, one falcotui process per tab (textual-serve).

    falcotui serve [--host 127.0.0.1] [--port 8000] [--token-file F] [any option of `falcotui`]
    falcotui serve --demo            falcotui serve --context prod --read-only

Every option of the terminal UI (`--demo`, `--nodes`, `--context`, `--read-only`, `--keymap`, …), typed
before or after `serve`, is passed on to the falcotui each tab runs. The server listens on 127.0.0.1
unless `--host` says otherwise (with a warning), and lets in only a browser that brings the token: a
random one printed once at start, or one read from `--token-file` or $FALCOTUI_SERVE_TOKEN (then it is
not printed). The checks themselves are in `serve_guard`, the server and the per-tab processes in
`serve_server`.

A tab's command line is world-readable (`ps`, /proc/PID/cmdline), so the forwarded options that carry a
secret (the NATS --password and --user, which the nats CLI also takes as a token, and an --alerts-from URL
with `user:password@`) are not on it: they reach the tab in its environment ($FALCOTUI_SERVE_SECRET_ARGS,
readable by the same user only: /proc/PID/environ is mode 0400), which the tab's `main` takes out before it
parses its options, so nothing the tab starts inherits them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import socket
import ssl
import sys
from pathlib import Path

from falcotui.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    GLOBAL_DEFAULTS,
    CliError,
    add_cluster_options,
    cli_command,
    warn,
)

TOKEN_ENV = "FALCOTUI_SERVE_TOKEN"
#: the secret-bearing options of a served tab, as a JSON list of `--flag=value` words (see the docstring)
SECRET_ARGS_ENV = "FALCOTUI_SERVE_SECRET_ARGS"
#: options whose value is a secret: never on a tab's command line
SECRET_FLAGS = ("--password", "--user")
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8000


def register(sub: argparse._SubParsersAction) -> None:
    from falcotui.cli import tui_cmd

    p = sub.add_parser(
        "serve",
        help="the terminal UI in a browser (127.0.0.1, a token, one falcotui per tab)",
        description="Publish the terminal UI over HTTP with textual-serve: each browser tab runs its own "
        "falcotui with the options given here. Listens on 127.0.0.1 by default; a browser gets in with "
        "the token (printed once, or supplied) and only from this server's own origin.",
    )
    g = p.add_argument_group("serving")
    g.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to listen on (default {DEFAULT_HOST}; any other address is reachable from other "
        "machines: a warning says so)",
    )
    g.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any free)"
    )
    g.add_argument(
        "--token-file",
        type=Path,
        metavar="FILE",
        help=f"read the token from FILE's first line ('-': standard input) instead of a random one; "
        f"${TOKEN_ENV} does the same. It is never taken on the command line (other users' `ps` shows that)",
    )
    g.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also accept NAME (a host name or address, no port) in the Host header, e.g. the machine's DNS "
        "name when listening on 0.0.0.0 (repeatable)",
    )
    g.add_argument("--tls-cert", type=Path, metavar="PEM", help="serve HTTPS with this certificate chain")
    g.add_argument("--tls-key", type=Path, metavar="PEM", help="the certificate's private key")
    g.add_argument(
        "--max-sessions",
        type=int,
        default=4,
        metavar="N",
        help="browser tabs served at once, each its own falcotui process (default 4)",
    )
    g.add_argument(
        "--heartbeat",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="ping each browser this often; one that does not answer (a dead network, a suspended laptop) "
        "has its falcotui ended (default 15)",
    )
    before = len(p._actions)
    add_cluster_options(p)
    tui_cmd.add_tui_options(p, "terminal UI (what each tab runs; before or after `serve`)")
    forwarded = p._actions[before:]
    for action in forwarded:
        # a sub-parser's default would overwrite the same option typed before `serve`
        action.default = argparse.SUPPRESS
    # `falcotui --context a --context b` shows several clusters: each tab does the same
    p.set_defaults(handler=run, serve_forwarded=forwarded, many_contexts=True)


def forwarded_argv(args: argparse.Namespace) -> list[str]:
    """The options of `args` that the served falcotui takes, as command-line words (defaults left out)."""
    # every --context, typed before or after `serve` (apply_global_options gathers them in order)
    out = [f"--context={c}" for c in getattr(args, "contexts", None) or ()]
    for action in args.serve_forwarded:
        if action.dest in ("context", "context_after"):
            continue
        value = getattr(args, action.dest, None)
        if value is None or value is False or not action.option_strings:
            continue
        if action.dest in GLOBAL_DEFAULTS and value == GLOBAL_DEFAULTS[action.dest]:
            continue
        flag = next((f for f in action.option_strings if f.startswith("--")), action.option_strings[0])
        if action.nargs == 0:  # store_true
            out.append(flag)
        elif isinstance(value, list):  # append
            out += [f"{flag}={v}" for v in value]
        else:
            out.append(f"{flag}={value}")  # `=`: a value starting with '-' stays a value
    return out


def _is_secret(word: str) -> bool:
    flag, _, value = word.partition("=")
    if flag in SECRET_FLAGS:
        return True
    # nats://user:password@host (NatsSource.parse takes it as the nats CLI does): the URL is the secret
    return flag == "--alerts-from" and "@" in value


def split_secrets(argv: list[str]) -> tuple[list[str], list[str]]:
    """(public, secret): the words of `forwarded_argv` that may go on a command line, and those that may
    not (each a `--flag=value` word, in their order)."""
    public = [w for w in argv if not _is_secret(w)]
    return public, [w for w in argv if _is_secret(w)]


def secret_env(secret: list[str]) -> dict[str, str]:
    """The environment entry that carries `secret` to a served tab (none when there is nothing secret)."""
    return {SECRET_ARGS_ENV: json.dumps(secret)} if secret else {}


def served_argv(argv: list[str]) -> list[str]:
    """`argv` with the secret options serve handed this process in its environment appended; the entry
    is removed from the environment first, so that no process this one starts inherits it. A malformed
    entry, or one holding anything but the secret options, is refused (CliError, exit 2)."""
    raw = os.environ.pop(SECRET_ARGS_ENV, None)
    if raw is None:
        return argv
    try:
        words = json.loads(raw)
    except ValueError:
        words = None
    if not isinstance(words, list) or not all(isinstance(w, str) and _is_secret(w) for w in words):
        raise CliError(
            f"${SECRET_ARGS_ENV}: not a list of the options `falcotui serve` passes this way "
            f"({', '.join(SECRET_FLAGS)}, --alerts-from with user:password@)",
            EXIT_USAGE,
        )
    return [*argv, *words]


def _read_token(args: argparse.Namespace) -> tuple[str, bool]:
    """(token, supplied): from --token-file, else $FALCOTUI_SERVE_TOKEN, else a new random one."""
    from falcotui.cli.serve_guard import check_token, new_token

    env = os.environ.get(TOKEN_ENV)
    if args.token_file is not None and env:
        raise CliError(f"--token-file and ${TOKEN_ENV} both supply a token: use one", EXIT_USAGE)
    if args.token_file is not None:
        try:
            text = sys.stdin.readline() if str(args.token_file) == "-" else args.token_file.read_text()
        except OSError as exc:
            raise CliError(f"--token-file: {exc.strerror}: {args.token_file}", EXIT_USAGE) from None
        source, raw = "--token-file", (text.splitlines() or [""])[0]
    elif env:
        source, raw = f"${TOKEN_ENV}", env
    else:
        return new_token(), False
    try:
        return check_token(raw), True
    except ValueError as exc:
        raise CliError(f"{source}: {exc}", EXIT_USAGE) from None


def _tls(args: argparse.Namespace) -> ssl.SSLContext | None:
    if (args.tls_cert is None) != (args.tls_key is None):
        raise CliError("--tls-cert and --tls-key go together", EXIT_USAGE)
    if args.tls_cert is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(args.tls_cert, args.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise CliError(f"--tls-cert/--tls-key: {exc}", EXIT_USAGE) from None
    return context


def _check_tui_options(args: argparse.Namespace) -> None:
    """Refuse here, once, what the served falcotui would refuse in every tab."""
    from falcotui.cli import tui_cmd

    opts = tui_cmd.tui_options(argparse.Namespace(**vars(args)))
    if opts.max_alerts < 1:
        raise CliError("--max-alerts must be at least 1", EXIT_USAGE)
    if opts.demo and not 1 <= opts.nodes <= 500:
        raise CliError("--nodes must be between 1 and 500", EXIT_USAGE)
    if opts.keymap is not None and not opts.keymap.is_file():
        raise CliError(f"--keymap: no such file: {opts.keymap}", EXIT_USAGE)
    if not opts.demo:
        from falcotui.kube.client import list_contexts
        from falcotui.kube.errors import KubeError

        try:
            names = [c.name for c in list_contexts(args.kubeconfig)[0]]
        except KubeError as exc:
            raise CliError(f"{exc}\n  (no cluster at hand? `falcotui serve --demo`)") from None
        unknown = [c for c in args.contexts if c not in names]
        if unknown:
            raise CliError(f"--context: no context named {', '.join(unknown)} in the kubeconfig", EXIT_USAGE)


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: a free one, known before the guard's Host list is made)."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    try:
        return socket.create_server((host.strip("[]") or "0.0.0.0", port), family=family, backlog=64)
    except OSError as exc:
        raise CliError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def _url(scheme: str, host: str, port: int) -> str:
    from falcotui.cli.serve_guard import is_wildcard

    shown = "127.0.0.1" if is_wildcard(host) else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"{scheme}://{shown}:{port}/"


@cli_command
def run(args: argparse.Namespace) -> int:
    from falcotui.cli.serve_guard import GuardPolicy, allowed_hosts, is_loopback

    if args.max_sessions < 1:
        raise CliError("--max-sessions must be at least 1", EXIT_USAGE)
    if not args.heartbeat > 0:
        raise CliError("--heartbeat must be positive", EXIT_USAGE)
    if not 0 <= args.port <= 65535:
        raise CliError("--port must be between 0 and 65535", EXIT_USAGE)
    _check_tui_options(args)
    token, supplied = _read_token(args)
    ssl_context = _tls(args)
    scheme = "https" if ssl_context is not None else "http"
    if not is_loopback(args.host):
        warn(
            f"listening on {args.host}, not loopback: anyone who can reach this port and has the token "
            "drives falcotui with your cluster credentials"
            + (
                ""
                if ssl_context
                else "; without --tls-cert the token and the session cross the network in clear"
            )
        )

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("falcotui serve: %(message)s"))
    for name in ("falcotui.serve", "textual-serve"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False

    from falcotui.cli.serve_server import FalcotuiServer, serve_until_stopped

    public, secret = split_secrets(forwarded_argv(args))
    argv = [sys.executable, "-m", "falcotui", *public]
    sock = _bind(args.host, args.port)
    port = sock.getsockname()[1]
    tls = ssl_context is not None
    policy = GuardPolicy(
        token,
        allowed_hosts(args.host, port, args.allow_host, tls=tls),
        tls=tls,
        cookie_name=f"falcotui_serve_{port}",
    )
    server = FalcotuiServer(
        argv,
        sock=sock,
        policy=policy,
        env=secret_env(secret),
        ssl_context=ssl_context,
        max_sessions=args.max_sessions,
        heartbeat=args.heartbeat,
    )

    def listening() -> None:
        url = _url(scheme, args.host, port)
        if supplied:
            print(f"falcotui serve: {url} (add ?token= and the token you supplied)", flush=True)
        else:  # printed this once; nowhere else (not in the log lines, not to the served apps)
            print(f"falcotui serve: {url}?token={token}", flush=True)
        print(
            "  the first load swaps the token for a session cookie; each tab runs its own falcotui. "
            "Ctrl-C stops the server and every tab's falcotui.",
            file=sys.stderr,
            flush=True,
        )
        # textual-serve writes what a finished app printed on stderr to sys.stdout (app_service.py, run()):
        # stdout carries the address alone, so that goes to our stderr with the log lines
        sys.stdout = sys.stderr

    asyncio.run(serve_until_stopped(server, listening))
    return EXIT_OK
