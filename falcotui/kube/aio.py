"""The cluster's REST API for coroutines: long-running reads (pod log streams) without an OS thread each.

`AsyncApi` (one per `KubeClients`, reached as `clients.aio`) sends requests through one aiohttp session
per event loop, made from the very `Configuration` the sync client uses, never a second copy of it: the
URL, query encoding, default headers and bearer token come from the client's own `param_serialize` (so
a static token, an exec plugin's or in-cluster's refreshing one is the same here); TLS from its CA,
client certificate and `verify_ssl`/`tls_server_name`/`assert_hostname` (`ssl_context`); the proxy
from its `proxy`/`no_proxy`/`proxy_headers` as the sync client picks them (`kubernetes.client.rest`:
an HTTP proxy tunnels HTTPS with CONNECT). Requests take a token from the same client-side bucket, and
401 and 429/503 `Retry-After` answers follow the same `throttle.RetryRules`.

A SOCKS proxy (`socks5://`, `socks5h://`, `socks4://`, `socks4a://`) carries these streams too, through
aiohttp-socks' connector (the `socks` extra, beside the PySocks the sync client needs): the `h`/`a` schemes
resolve the API server's name at the proxy, the others locally, as urllib3's SOCKSProxyManager does
(urllib3 2.x contrib/socks.py, `rdns`). Exec and port-forward still refuse SOCKS (kube/client.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import ssl
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import aiohttp
from kubernetes.client.rest import should_bypass_proxies
from yarl import URL

from falcotui.kube.errors import KubeApiError, KubeConfigError, KubeConnectionError
from falcotui.kube.kubeconfig import SOCKS_EXTRA, SOCKS_SCHEMES, proxy_display
from falcotui.kube.throttle import Priority, RetryRules

if TYPE_CHECKING:
    from kubernetes import client as k8s

    from falcotui.kube.client import KubeClients

_NETWORK_ERRORS = (aiohttp.ClientError, OSError, TimeoutError)
_CHUNK = 65536


def ssl_context(configuration: k8s.Configuration) -> ssl.SSLContext:
    """The TLS settings the official client's urllib3 pool uses (kubernetes/client/rest.py
    `RESTClientObject`: `cert_reqs` from `verify_ssl`, `ca_certs`/`ca_cert_data`, `cert_file`/`key_file`,
    `assert_hostname`), as an `SSLContext`: the kubeconfig's CA alone when it names one, else the system's."""
    cfg = configuration
    if cfg.verify_ssl:
        ctx = ssl.create_default_context(cafile=cfg.ssl_ca_cert or None, cadata=cfg.ca_cert_data or None)
        if cfg.assert_hostname is False:
            ctx.check_hostname = False
    else:  # insecure-skip-tls-verify
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if cfg.cert_file:
        ctx.load_cert_chain(cfg.cert_file, cfg.key_file or None)
    return ctx


@functools.cache
def _socks_connector_type() -> type[aiohttp.TCPConnector]:
    """aiohttp-socks' ProxyConnector that opens the tunnel in plain TCP and then starts TLS itself, with
    aiohttp's own `_start_tls_connection` (what aiohttp does through an HTTP proxy's CONNECT tunnel): the
    ProxyConnector would start TLS with the target's host name, ignoring the request's `server_hostname`,
    so a kubeconfig's `tls-server-name` would fail the certificate check."""
    from aiohttp_socks import ProxyConnector

    class SocksConnector(ProxyConnector):
        async def _wrap_create_connection(self, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
            tls = kwargs.pop("ssl", None)
            transport, proto = await super()._wrap_create_connection(*args, ssl=None, **kwargs)
            if tls is None:
                return transport, proto
            client_error = kwargs.get("client_error", aiohttp.ClientConnectorError)
            tls_transport, tls_proto = await self._start_tls_connection(
                transport, kwargs["req"], kwargs["timeout"], client_error
            )
            # the tunnel's StreamWriter closes the socket when it is collected (Python >= 3.11.5): it is
            # kept alive by the protocol aiohttp-socks attached (its issue 27); hand it to the TLS one
            tls_proto._socks_tunnel = proto  # type: ignore[attr-defined]
            return tls_transport, tls_proto

    return SocksConnector


def _file_stamp(path: str | None) -> tuple[int, int] | None:
    try:
        st = os.stat(path) if path else None
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size) if st else None


@dataclass(eq=False)
class _Session:
    session: aiohttp.ClientSession
    users: int = 0


class AsyncStream:
    """An open response whose body arrives in chunks (`async for chunk in stream.chunks()`); `close()`
    drops its connection (the rest of the body is not read)."""

    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self._resp = resp
        self.status = resp.status

    async def chunks(self) -> AsyncIterator[bytes]:
        """Chunks as they arrive until the end of the body; a read silent longer than the stream's read
        timeout raises (aiohttp's `ServerTimeoutError`), as does a broken connection."""
        content = self._resp.content
        while True:
            chunk = await content.readany()
            if not chunk:
                return
            yield chunk

    async def read(self) -> bytes:
        return await self._resp.read()

    def close(self) -> None:
        self._resp.close()


class AsyncApi:
    """See the module docstring. Coroutines hold a `lease()` while they use it; the loop's session is
    closed when the last lease ends."""

    def __init__(self, clients: KubeClients) -> None:
        self.clients = clients
        self._sessions: dict[asyncio.AbstractEventLoop, _Session] = {}
        self._ssl_cached: tuple[object, ssl.SSLContext] | None = None
        self._ssl_lock = threading.Lock()

    # ------------------------------------------------------------ session per loop

    @contextlib.asynccontextmanager
    async def lease(self) -> AsyncIterator[AsyncApi]:
        loop = asyncio.get_running_loop()
        held = self._sessions.get(loop)
        if held is None or held.session.closed:
            try:
                factory = self._connector_class()
            except KubeConfigError:  # no aiohttp-socks: every request refuses, saying so (_send)
                factory = aiohttp.TCPConnector
            connector = factory(limit=0, limit_per_host=0, enable_cleanup_closed=True)
            # trust_env off: the proxy is the one the sync client chose (kubeconfig, then the environment)
            held = self._sessions[loop] = _Session(
                aiohttp.ClientSession(connector=connector, trust_env=False)
            )
        held.users += 1
        try:
            yield self
        finally:
            held.users -= 1
            if held.users == 0 and self._sessions.get(loop) is held:
                del self._sessions[loop]
                await held.session.close()

    def _session(self) -> aiohttp.ClientSession:
        held = self._sessions.get(asyncio.get_running_loop())
        if held is None or held.session.closed:
            raise RuntimeError("AsyncApi used outside lease()")
        return held.session

    # ------------------------------------------------------------ what the sync client would do

    def _ssl(self) -> ssl.SSLContext:
        """The context for the current client certificate: an exec plugin may write a new one into the
        same files (config._write_client_cert), and a new context picks it up."""
        cfg = self.clients.api_client.configuration
        key = (cfg.ssl_ca_cert, cfg.ca_cert_data, cfg.verify_ssl, cfg.assert_hostname, cfg.cert_file,
               cfg.key_file, _file_stamp(cfg.cert_file), _file_stamp(cfg.key_file))  # fmt: skip
        with self._ssl_lock:
            if self._ssl_cached is None or self._ssl_cached[0] != key:
                self._ssl_cached = (key, ssl_context(cfg))
            return self._ssl_cached[1]

    def _chosen_proxy(self) -> str:
        """The proxy the sync client would use for the API server ("" for none)."""
        cfg = self.clients.api_client.configuration
        proxy = cfg.proxy or ""
        if not proxy or should_bypass_proxies(cfg.host, cfg.no_proxy or ""):
            return ""
        return proxy

    def _proxy(self) -> tuple[str | None, dict | None]:
        """aiohttp's per-request HTTP proxy; (None, None) without one, or for SOCKS (the connector's)."""
        proxy = self._chosen_proxy()
        if not proxy or proxy.split("://", 1)[0].lower() in SOCKS_SCHEMES:
            return None, None
        cfg = self.clients.api_client.configuration
        return proxy, dict(cfg.proxy_headers) if cfg.proxy_headers else None

    def _connector_class(self) -> Callable[..., aiohttp.TCPConnector]:
        """aiohttp's TCPConnector, or for a SOCKS proxy aiohttp-socks' ProxyConnector bound to it."""
        proxy = self._chosen_proxy()
        scheme = proxy.split("://", 1)[0].lower()
        if scheme not in SOCKS_SCHEMES:
            return aiohttp.TCPConnector
        try:
            from aiohttp_socks import ProxyType

            socks_connector = _socks_connector_type()
        except ImportError:
            raise KubeConfigError(
                f"log streams through the SOCKS proxy {proxy_display(proxy)} need aiohttp-socks: "
                f"pip install '{SOCKS_EXTRA}'"
            ) from None
        parts = urlsplit(proxy)
        kind = ProxyType.SOCKS5 if scheme.startswith("socks5") else ProxyType.SOCKS4

        def connector(**options: Any) -> aiohttp.TCPConnector:
            return socks_connector(
                host=parts.hostname or "",
                port=parts.port or 1080,  # PySocks' default port, as the sync client's
                proxy_type=kind,
                username=unquote(parts.username) if parts.username else None,
                password=unquote(parts.password) if parts.password else None,
                rdns=scheme in ("socks5h", "socks4a"),  # urllib3 contrib/socks.py: h/a = the proxy resolves
                **options,
            )

        return connector

    async def _prepare(self, method: str, path: str, query: list[tuple[str, Any]], accept: str):
        """(url, headers) as the sync client builds them; an exec plugin that must run first (expired
        credential) runs in a thread, off the loop."""
        api = self.clients.api_client
        creds = api.credentials

        def build() -> tuple[str, dict[str, str]]:
            _, url, headers, _, _ = api.param_serialize(
                method=method,
                resource_path=path,
                query_params=list(query),
                header_params={"Accept": accept},
                auth_settings=["BearerToken"],
            )
            return url, headers

        hook = api.configuration.refresh_api_key_hook
        if hook is None or (creds is not None and creds.fresh()):
            return build()
        return await asyncio.to_thread(build)

    # ------------------------------------------------------------ requests

    async def _send(
        self, method: str, path: str, query: list[tuple[str, Any]], accept: str, read_timeout: float
    ) -> aiohttp.ClientResponse:
        api = self.clients.api_client
        session = self._session()
        self._connector_class()  # a SOCKS proxy without aiohttp-socks: KubeConfigError, said to the caller
        proxy, proxy_headers = self._proxy()
        host = api.configuration.host
        tls = self._ssl() if host.startswith("https:") else None
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self.clients.timeouts.connect, sock_read=read_timeout
        )
        rules = RetryRules(api)
        while True:
            await api.bucket.acquire_async(Priority.BACKGROUND)
            url, headers = await self._prepare(method, path, query, accept)
            try:
                resp = await session.request(
                    method,
                    URL(url, encoded=True),
                    headers=headers,
                    proxy=proxy,
                    proxy_headers=proxy_headers,
                    ssl=tls if tls is not None else True,
                    server_hostname=api.configuration.tls_server_name or None,
                    timeout=timeout,
                    allow_redirects=False,
                    auto_decompress=False,
                )
            except _NETWORK_ERRORS as exc:
                why = str(exc) or type(exc).__name__
                raise KubeConnectionError(
                    f"{method} {path}: cannot reach the API server at {host}: {why}"
                ) from exc
            again = rules.next_try(resp.status, resp.headers.get("Retry-After"), headers)
            if again is None:
                return resp
            with contextlib.suppress(*_NETWORK_ERRORS):
                await resp.read()  # a small error answer: read it so the connection can be reused
            resp.release()
            if not again.refresh:
                await asyncio.sleep(again.wait)

    async def _failed(self, resp: aiohttp.ClientResponse, what: str) -> KubeApiError:
        try:
            data = await resp.read()
        except _NETWORK_ERRORS:
            data = b""
        finally:
            resp.release()
        return KubeApiError.from_status(resp.status, data, what)

    async def open_stream(
        self,
        path: str,
        *,
        query: list[tuple[str, Any]] | None = None,
        read_timeout: float,
        accept: str = "*/*",
    ) -> AsyncStream:
        """A GET whose body the caller reads chunk by chunk (`KubeClients.open_stream` for coroutines);
        each read waits <= `read_timeout` seconds. Raises `KubeApiError` on a failure status."""
        resp = await self._send("GET", path, list(query or []), accept, read_timeout)
        if not 200 <= resp.status <= 299:
            raise await self._failed(resp, f"GET {path}")
        return AsyncStream(resp)

    async def get_json(self, path: str, *, query: list[tuple[str, Any]] | None = None) -> dict:
        """One GET of a JSON object (`KubeClients.request("GET", …)` for coroutines)."""
        read = self.clients.timeouts.read
        resp = await self._send("GET", path, list(query or []), "application/json", read)
        if not 200 <= resp.status <= 299:
            raise await self._failed(resp, f"GET {path}")
        try:
            data = await resp.read()
        except _NETWORK_ERRORS as exc:
            raise KubeConnectionError(
                f"GET {path}: connection lost: {str(exc) or type(exc).__name__}"
            ) from exc
        finally:
            resp.release()
        try:
            return json.loads(data) if data else {}
        except ValueError as exc:
            raise KubeApiError(f"GET {path}: the server sent invalid JSON", code=resp.status) from exc
