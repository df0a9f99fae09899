"""A simulated Falco 0.43's gRPC endpoint: read `grpc`/`grpc_output` from falco.yaml, load the mounted TLS
files, and run `falcotui.sim.falco.grpc`'s server where the pod's port really is (node IP with
hostNetwork, else a private loopback port the port-forward handler looks up)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from falcotui.falco.alerts import Alert, Priority
from falcotui.sim.falco.alerts_gen import Emitted
from falcotui.sim.falco.config import FalcoConfig, FalcoStartupError, FalcoVersion
from falcotui.sim.falco.grpc import FalcoGrpcServer
from falcotui.sim.falco.startup import engine_version
from falcotui.sim.nodes.runtime import ContainerContext


@dataclass(frozen=True, slots=True)
class GrpcSettings:
    bind_address: str
    threadiness: int
    private_key: str
    cert_chain: str
    root_certs: str
    outputs: bool  # grpc_output.enabled: alerts go to the server's queue

    @property
    def tcp_port(self) -> int | None:
        """The TCP port of a `host:port` bind address; None for `unix://` sockets."""
        if self.bind_address.startswith("unix://"):
            return None
        _host, sep, port = self.bind_address.rpartition(":")
        return int(port) if sep and port.isdigit() else None


def grpc_settings(cfg: FalcoConfig, version: FalcoVersion) -> GrpcSettings | None:
    """The gRPC server this Falco runs, if any (0.43.x with `grpc.enabled`)."""
    if not version.has_grpc or not cfg.flag("grpc.enabled", False):
        return None
    threads = cfg.get("grpc.threadiness", 0)
    return GrpcSettings(
        bind_address=str(cfg.get("grpc.bind_address", "unix:///run/falco/falco.sock")),
        threadiness=threads if isinstance(threads, int) and threads > 0 else 2,
        private_key=str(cfg.get("grpc.private_key", "/etc/falco/certs/server.key")),
        cert_chain=str(cfg.get("grpc.cert_chain", "/etc/falco/certs/server.crt")),
        root_certs=str(cfg.get("grpc.root_certs", "/etc/falco/certs/ca.crt")),
        outputs=cfg.flag("grpc_output.enabled", False),
    )


class GrpcEndpoint:
    """One run of the gRPC server (a hot reload stops it and boots a new one)."""

    def __init__(
        self,
        settings: GrpcSettings,
        ctx: ContainerContext,
        files: Mapping[str, str],
        version: FalcoVersion,
        loopback_port: int = 0,
    ) -> None:
        self.settings = settings
        self.ctx = ctx
        self.files = files
        self.version = version
        self.container_port = settings.tcp_port
        self.address: tuple[str, int] | None = None
        # Without hostNetwork the pod's port lives on a private loopback port; a restart keeps it.
        self.loopback_port = loopback_port
        self._server = None

    async def start(self) -> list[str]:
        """Start serving; returns Falco's log lines for it. Raises FalcoStartupError like Falco."""
        s = self.settings
        lines = [
            f"gRPC server threadiness equals to {s.threadiness}",
            f"Starting gRPC server at {s.bind_address}",
        ]
        if s.tcp_port is None:
            return lines  # a unix socket inside the pod: nothing outside can reach it
        creds = {}
        for name, path in (
            ("private_key", s.private_key),
            ("cert_chain", s.cert_chain),
            ("root_certs", s.root_certs),
        ):
            if path not in self.files:
                raise FalcoStartupError(f"gRPC server: could not read {name.replace('_', ' ')} file {path}")
            creds[name] = self.files[path].encode()
        host = self.ctx.node_ip if self.ctx.host_network else "127.0.0.1"
        server = FalcoGrpcServer(
            version=self.version.text,
            engine_version=engine_version(self.version),
            host=host,
            port=s.tcp_port if self.ctx.host_network else self.loopback_port,
            ca_crt=creds["root_certs"],
            server_crt=creds["cert_chain"],
            server_key=creds["private_key"],
        )
        try:
            port = await server.start()
        except (OSError, RuntimeError) as exc:
            raise FalcoStartupError(f"gRPC server: could not listen on {s.bind_address}: {exc}") from None
        self._server = server
        self.address = (host, port)
        return lines

    def publish(self, alert: Emitted) -> None:
        if self._server is not None and self.settings.outputs:
            self._server.publish(
                Alert(
                    time_ns=alert.time_ns,
                    priority=Priority.parse(alert.priority),
                    rule=alert.rule,
                    # the formatted message every output gets, the stdout line included: with
                    # json_output the whole JSON document (outputs_grpc.cpp `*output = msg->msg`, 0.43.1)
                    output=alert.line,
                    source=alert.source,
                    hostname=alert.hostname,
                    output_fields=alert.output_fields,
                    tags=alert.tags,
                )
            )

    async def cut(self) -> None:
        """Drop every client connection (the `flaky` scenario): the server restarts on the same port."""
        if self._server is not None:
            await self._server.restart()

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await server.stop()
