"""The options of a `nats://` alert source (Falcosidekick's JetStream stream), shared by `falcotui` and
`falcotui alerts`: the server URL list, the nats CLI's credential options and the stream to read."""

from __future__ import annotations

import argparse

from falcotui.cli.common import EXIT_USAGE, CliError

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


def add_nats_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup, prefix: str = "") -> None:
    """The source options; each one's dest is `prefix + nats_<name>` (default None)."""
    for flag, (name, metavar, text) in _OPTIONS.items():
        parser.add_argument(flag, dest=f"{prefix}nats_{name}", metavar=metavar, help=text)


def typed_nats_options(args: argparse.Namespace, prefix: str = "") -> list[str]:
    return [flag for flag, (name, _m, _h) in _OPTIONS.items() if getattr(args, f"{prefix}nats_{name}", None)]


def nats_source(args: argparse.Namespace, url: str, *, since_ns: int | None = None, prefix: str = ""):
    """The NatsSource for `url` and the typed options (CliError, exit 2, when they do not make one)."""
    from falcotui.ops.nats_channel import DEFAULT_CLUSTER_FROM, DEFAULT_SUBJECT, NatsSource, NatsSourceError

    def get(name: str):
        return getattr(args, f"{prefix}nats_{name}", None)

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
