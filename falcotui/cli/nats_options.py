"""The options of a `nats://` alert source (Falcosidekick's JetStream stream), shared by `falcotui`,
`falcotui alerts` and `falcotui status`: the server URL list, the nats CLI's credential options and the
stream to read; and, for the CLI, `--create-stream` (the stream's configuration shown, then y/N or --yes)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TextIO

from falcotui.cli.common import EXIT_FAILURE, EXIT_USAGE, CliError, duration, run_async
from falcotui.falco.sanitize import sanitize

#: option -> (dest suffix, metavar, help); the credential options are named as the nats CLI names them
_OPTIONS = {
    "--creds": ("creds", "FILE", "NATS user credentials file (JWT + NKey seed), as `nats --creds`"),
    "--nkey": ("nkey", "FILE", "NATS NKey seed file, as `nats --nkey`"),
    "--user": ("user", "USER", "NATS user name (or token), as `nats --user`"),
    "--password": ("password", "PASSWORD", "NATS password, as `nats --password`"),
    "--tlscert": ("tlscert", "FILE", "TLS client certificate for NATS"),
    "--tlskey": ("tlskey", "FILE", "TLS client key for NATS"),
    "--tlsca": ("tlsca", "FILE", "CA certificate to verify the NATS server with"),
    "--stream": ("stream", "NAME", "JetStream stream to read (default: the one that captures --subject)"),
    "--subject": (
        "subject",
        "SUBJ",
        "subject filter (default falco.>, Falcosidekick's falco.<priority>.<rule>)",
    ),
    "--cluster-from": (
        "cluster_from",
        "field:NAME|subject:N",
        "where an alert's cluster comes from: an output field (default field:cluster, e.g. Falcosidekick's "
        "customfields) or the N-th token of its subject",
    ),
}


#: the credential options' environment variables, as the nats CLI reads them (nats.docs nats-tools/natscli.md:
#: `--user=NATS_USER`, `--password=NATS_PASSWORD`, …): a secret in the environment stays out of `ps`
ENVIRONMENT = {
    "creds": "NATS_CREDS",
    "nkey": "NATS_NKEY",
    "user": "NATS_USER",
    "password": "NATS_PASSWORD",
    "tlscert": "NATS_CERT",
    "tlskey": "NATS_KEY",
    "tlsca": "NATS_CA",
}


def _size(text: str) -> int:
    from falcotui.ops.channels.nats_stream import parse_bytes

    try:
        return parse_bytes(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _replicas(text: str) -> int:
    from falcotui.ops.channels.nats_stream import MAX_REPLICAS

    if not (text.isdigit() and 1 <= int(text) <= MAX_REPLICAS):
        raise argparse.ArgumentTypeError(f"1 to {MAX_REPLICAS}")
    return int(text)


#: the stream-creation options of the CLI (dest `nats_<name>`): flag -> (name, argparse keywords)
_CREATE = {
    "--create-stream": ("create_stream", {"action": "store_true", "help": "when the stream is missing, "
                        "create it (its configuration is shown first; asks y/N, or --yes)"}),
    "--yes": ("yes", {"action": "store_true", "help": "with --create-stream: do not ask (for scripts)"}),
    "--stream-max-age": ("max_age", {"type": duration, "metavar": "DURATION",
                         "help": "with --create-stream: how long the stream keeps an alert (default 7d)"}),
    "--stream-max-bytes": ("max_bytes", {"type": _size, "metavar": "SIZE",
                           "help": "with --create-stream: the stream's size limit (default 10G)"}),
    "--stream-replicas": ("replicas", {"type": _replicas, "metavar": "N",
                          "help": "with --create-stream: copies in a clustered JetStream (default 1)"}),
}  # fmt: skip


def add_nats_options(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, prefix: str = "", *, create: bool = False
) -> None:
    """The source options; each one's dest is `prefix + nats_<name>` (default None); with `create`, the
    CLI's --create-stream and its companions too."""
    for flag, (name, metavar, text) in _OPTIONS.items():
        if name in ENVIRONMENT:
            text = f"{text} (default ${ENVIRONMENT[name]})"
        parser.add_argument(flag, dest=f"{prefix}nats_{name}", metavar=metavar, help=text)
    if create:
        for flag, (name, keywords) in _CREATE.items():
            parser.add_argument(flag, dest=f"{prefix}nats_{name}", **keywords)  # type: ignore[arg-type]


def add_nats_source(parser: argparse.ArgumentParser, text: str, *, create: bool = False) -> None:
    """A command's `--from nats://…` (dest `source`, its help `text` saying what the command does with the
    stream) and the source options in their own group, as `add_nats_options`."""
    parser.add_argument("--from", dest="source", metavar="URL", help=text)
    add_nats_options(parser.add_argument_group("NATS source (with --from nats://…)"), create=create)


def typed_nats_options(args: argparse.Namespace, prefix: str = "") -> list[str]:
    names = [*((f, n) for f, (n, _m, _h) in _OPTIONS.items()), *((f, n) for f, (n, _k) in _CREATE.items())]
    return [flag for flag, name in names if getattr(args, f"{prefix}nats_{name}", None)]


def ensure_stream(
    args: argparse.Namespace, source, *, err: TextIO | None = None, stdin: TextIO | None = None
) -> None:
    """Before reading `source`: the stream is there (go on), or missing (CliError naming --create-stream;
    with it, its exact configuration, then y/N on a terminal or --yes, refused in --read-only), or wrong
    (CliError: explained, never changed). An unreachable server is left to the reader (it retries)."""
    from falcotui.cli.apply_cmd import confirm
    from falcotui.ops.channels.nats_stream import StreamProblem, check_stream, create_stream, plan_for

    err = err or sys.stderr
    where = sanitize(",".join(source.servers), max_len=200)
    create = bool(getattr(args, "nats_create_stream", False))
    if not create and any(
        getattr(args, f"nats_{n}", None) for n in ("yes", "max_age", "max_bytes", "replicas")
    ):
        raise CliError("--yes and --stream-*: only with --create-stream", EXIT_USAGE)
    if create and getattr(args, "read_only", False):
        raise CliError(
            "--read-only: --create-stream would create a JetStream stream on the NATS server", EXIT_USAGE
        )
    check = run_async(check_stream(source))
    if check.unreachable:
        if create:
            err.write(f"falcotui: NATS {where}: {sanitize(check.unreachable, max_len=300)}: the stream "
                      "could not be looked for (nothing created)\n")  # fmt: skip
        return
    if check.stream:
        if create:
            err.write(f"falcotui: stream {sanitize(check.stream, max_len=100)} already captures "
                      f"{sanitize(source.subject, max_len=200)}: nothing to create\n")  # fmt: skip
        return
    explanation = sanitize(check.explanation, max_len=600)
    if not check.missing:
        raise CliError(f"NATS {where}: {explanation}", EXIT_FAILURE)
    if not create:
        raise CliError(
            f"NATS {where}: {explanation}, so Falcosidekick's alerts are not being kept. Pass "
            "--create-stream to create it (falcotui shows its configuration and asks first)",
            EXIT_FAILURE,
        )
    try:
        chosen = {
            "max_age_s": args.nats_max_age,
            "max_bytes": args.nats_max_bytes,
            "replicas": args.nats_replicas,
        }
        plan = plan_for(source, **{k: v for k, v in chosen.items() if v is not None})
    except ValueError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    err.write(f"NATS {where}: {explanation}. falcotui would create this stream:\n")
    err.write(sanitize(plan.text(), max_len=4000, multiline=True))
    answer = argparse.Namespace(yes=bool(args.nats_yes))
    if not confirm(f"Create stream {plan.name} on {where}?", answer, err, stdin):
        raise CliError(f"stream {plan.name} not created", EXIT_FAILURE)
    try:
        run_async(create_stream(source, plan))
    except StreamProblem as exc:
        raise CliError(f"NATS {where}: {sanitize(str(exc), max_len=600)}", EXIT_FAILURE) from None
    except Exception as exc:
        raise CliError(
            f"NATS {where}: stream {plan.name} not created: {sanitize(str(exc), max_len=300)}"
        ) from None
    err.write(f"falcotui: created stream {plan.name} ({', '.join(plan.subjects)})\n")
    err.flush()


def nats_source(args: argparse.Namespace, url: str, *, since_ns: int | None = None, prefix: str = ""):
    """The NatsSource for `url` and the typed options (CliError, exit 2, when they do not make one)."""
    from falcotui.ops.channels.nats import DEFAULT_CLUSTER_FROM, DEFAULT_SUBJECT, NatsSource, NatsSourceError

    def get(name: str):
        given = getattr(args, f"{prefix}nats_{name}", None)
        if given is None and name in ENVIRONMENT:
            return os.environ.get(ENVIRONMENT[name]) or None
        return given

    try:
        return NatsSource.parse(
            url,
            stream=get("stream") or "",
            subject=get("subject") or DEFAULT_SUBJECT,
            since_ns=since_ns,
            creds=get("creds"),
            nkey=get("nkey"),
            user=get("user"),
            password=get("password"),
            tlscert=get("tlscert"),
            tlskey=get("tlskey"),
            tlsca=get("tlsca"),
            cluster_from=get("cluster_from") or DEFAULT_CLUSTER_FROM,
        )
    except NatsSourceError as exc:
        raise CliError(f"--from: {exc}", EXIT_USAGE) from None
