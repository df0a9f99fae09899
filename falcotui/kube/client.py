"""The HTTP client of one cluster: kubeconfig/context/in-cluster credentials loaded into clients that always
carry timeouts, credentials that refresh, a client-side rate limit, and retries the server asks for.

The official client has no global read timeout, so `KubeClients` wraps an `ApiClient` subclass that puts
`(connect, read)` timeouts on every call that does not choose its own. Every REST request, typed or raw,
passes through its `call_api`, which also takes a token from the rate limiter (`falcotui.kube.throttle`),
retries once with a fresh credential after a 401 when an exec plugin gives the credentials (client-go's
exec roundTripper does the same), and waits out `Retry-After` on 429/503 (client-go: at most 10 retries).
`KubeClients` also offers raw JSON requests (`request`, `open_stream`) that skip typed models: the rest of
`falcotui.kube` works on plain dicts. The error types live in `falcotui.kube.errors`, kubeconfig files in
`falcotui.kube.kubeconfig`, where each kind lives in `falcotui.kube.resources`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import urllib3
from kubernetes import client as k8s
from kubernetes.client.rest import should_bypass_proxies
from kubernetes.config import ConfigException
from kubernetes.config.incluster_config import (
    SERVICE_HOST_ENV_NAME,
    SERVICE_TOKEN_FILENAME,
    load_incluster_config,
)

from falcotui.kube.credentials import ExecCredentials, Terminal
from falcotui.kube.errors import (
    KubeApiError,
    KubeConfigError,
    KubeConnectionError,
)
from falcotui.kube.kubeconfig import (
    DEFAULT_KUBECONFIG,
    SOCKS_SCHEMES,
    ContextInfo,
    kubeconfig_paths,
    load_context,
    merged_contexts,
    proxy_display,
)
from falcotui.kube.throttle import Pushback, RateLimits, RetryRules, TokenBucket, current_priority

__all__ = ["KubeClients", "Timeouts", "list_contexts", "load_clients"]

T = TypeVar("T")
IN_CLUSTER_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds; `read` bounds every socket read of a request (streams choose their own)."""

    connect: float = 5.0
    read: float = 30.0


class TimeoutApiClient(k8s.ApiClient):
    """An `ApiClient` whose every request gets `(connect, read)` timeouts unless the caller passes some,
    waits for the rate limiter, refreshes a rejected exec credential once and honours `Retry-After`."""

    def __init__(
        self,
        configuration: k8s.Configuration,
        timeouts: Timeouts,
        *,
        limits: RateLimits | None = None,
        credentials: ExecCredentials | None = None,
    ):
        super().__init__(configuration)
        self.timeouts = timeouts
        self.limits = limits or RateLimits()
        self.bucket = TokenBucket(self.limits.qps, self.limits.burst)
        self.pushback = Pushback()
        self.credentials = credentials

    def call_api(self, method, url, header_params=None, body=None, post_params=None, _request_timeout=None):
        if _request_timeout is None:
            _request_timeout = (self.timeouts.connect, self.timeouts.read)
        priority = current_priority()
        rules = RetryRules(self)
        while True:
            self.bucket.acquire(priority)
            resp = super().call_api(method, url, header_params, body, post_params, _request_timeout)
            again = rules.next_try(resp.status, resp.getheader("Retry-After"), header_params or {})
            if again is None:
                return resp
            _discard(resp)
            if again.refresh:
                header_params["authorization"] = self.configuration.get_api_key_with_prefix("BearerToken")
            else:
                time.sleep(again.wait)


def _discard(resp: Any) -> None:
    """Read a small error answer to its end so its connection can carry the next request."""
    with contextlib.suppress(Exception):
        resp.read()
    with contextlib.suppress(Exception):
        resp.response.release_conn()


_NETWORK_ERRORS = (urllib3.exceptions.HTTPError, OSError)


@dataclass(eq=False)
class KubeClients:
    """Everything needed to talk to one cluster: the ApiClient, typed APIs, context, default namespace."""

    api_client: TimeoutApiClient
    context: str | None
    namespace: str
    in_cluster: bool = False
    timeouts: Timeouts = field(default_factory=Timeouts)
    user: str = ""  # the kubeconfig context's user name ("" in-cluster): who response actions are logged as

    # The typed APIs load the client's pydantic models on first use — seconds of start-up on a busy
    # machine — while falcotui itself talks raw JSON through `request`/`open_stream`.
    @functools.cached_property
    def core(self) -> Any:
        return k8s.CoreV1Api(self.api_client)

    @functools.cached_property
    def apps(self) -> Any:
        return k8s.AppsV1Api(self.api_client)

    @functools.cached_property
    def rbac(self) -> Any:
        return k8s.RbacAuthorizationV1Api(self.api_client)

    @functools.cached_property
    def authz(self) -> Any:
        return k8s.AuthorizationV1Api(self.api_client)

    @functools.cached_property
    def aio(self) -> Any:
        """The same client for coroutines (`falcotui.kube.aio.AsyncApi`): long-running reads without a
        thread each (pod log streams)."""
        from falcotui.kube.aio import AsyncApi

        return AsyncApi(self)

    @property
    def host(self) -> str:
        return self.api_client.configuration.host

    @property
    def credentials(self) -> ExecCredentials | None:
        """The exec credential plugin's cache (None for static tokens, certificates, in-cluster)."""
        return self.api_client.credentials

    @property
    def rate_limits(self) -> RateLimits:
        return self.api_client.limits

    def throttle_state(self) -> str:
        """ "throttled …" while the server pushes back or requests queue in the client's rate limiter
        (for a status line), else ""."""
        api, parts = self.api_client, []
        if api.pushback.active():
            parts.append(f"API server answered {api.pushback.last_status} Retry-After")
        waiting = api.bucket.waiting()
        if waiting > api.limits.burst:
            parts.append(f"{waiting} requests queued at {api.limits.qps:g}/s")
        return "throttled: " + "; ".join(parts) if parts else ""

    @property
    def request_timeout(self) -> tuple[float, float]:
        return (self.timeouts.connect, self.timeouts.read)

    def close(self) -> None:
        self.api_client.close()

    def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a typed API method (`clients.call(clients.core.read_namespaced_config_map, name, ns)`),
        turning its failures into `KubeApiError` (with the server's Status) or `KubeConnectionError`."""
        what = getattr(fn, "__name__", "request")
        try:
            return fn(*args, **kwargs)
        except k8s.ApiException as exc:
            if not exc.status:
                raise KubeConnectionError(f"{what}: {exc.reason}") from exc
            raise KubeApiError.from_status(exc.status, exc.body, what) from exc
        except _NETWORK_ERRORS as exc:
            raise KubeConnectionError(f"{what}: cannot reach the API server at {self.host}: {exc}") from exc

    def _send(
        self,
        method: str,
        path: str,
        query: list[tuple[str, Any]] | None,
        body: Any,
        content_type: str | None,
        accept: str,
        timeout: Any,
    ):
        headers = {"Accept": accept}
        if content_type:
            headers["Content-Type"] = content_type
        req = self.api_client.param_serialize(
            method=method,
            resource_path=path,
            query_params=list(query or []),
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        try:
            return self.api_client.call_api(*req, _request_timeout=timeout or self.request_timeout)
        except _NETWORK_ERRORS as exc:
            raise KubeConnectionError(
                f"{method} {path}: cannot reach the API server at {self.host}: {exc}"
            ) from exc
        except k8s.ApiException as exc:  # the REST layer reports TLS failures this way
            raise KubeConnectionError(f"{method} {path}: {exc.reason}") from exc

    def request(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, Any]] | None = None,
        body: Any = None,
        content_type: str | None = None,
        timeout: float | tuple[float, float] | None = None,
    ) -> dict:
        """One JSON request; returns the decoded body, raises `KubeApiError` on a failure status."""
        if body is not None and content_type is None:
            content_type = "application/json"
        resp = self._send(method, path, query, body, content_type, "application/json", timeout)
        try:
            data = resp.read()
        except _NETWORK_ERRORS as exc:
            raise KubeConnectionError(f"{method} {path}: connection lost: {exc}") from exc
        if not 200 <= resp.status <= 299:
            raise KubeApiError.from_status(resp.status, data, f"{method} {path}")
        if not data:
            return {}
        try:
            return json.loads(data)
        except ValueError as exc:
            raise KubeApiError(f"{method} {path}: the server sent invalid JSON", code=resp.status) from exc

    def open_stream(
        self,
        path: str,
        *,
        query: list[tuple[str, Any]] | None = None,
        read_timeout: float,
        accept: str = "*/*",
    ) -> urllib3.HTTPResponse:
        """A GET whose body the caller reads bit by bit (watch, logs); each read waits <= `read_timeout`.

        `release_conn()` of a response not read to its end closes its connection: the rest of that body
        would otherwise be read as the answer to the next request sent on it.
        """
        resp = self._send("GET", path, query, None, None, accept, (self.timeouts.connect, read_timeout))
        if not 200 <= resp.status <= 299:
            try:
                data = resp.read()
            except _NETWORK_ERRORS:
                data = b""
            raise KubeApiError.from_status(resp.status, data, f"GET {path}")
        raw = resp.response
        release = raw.release_conn

        def release_conn() -> None:
            if not raw.isclosed():
                with contextlib.suppress(Exception):
                    raw.close()
            release()

        raw.release_conn = release_conn
        return raw

    def check_websocket_proxy(self) -> None:
        """Raise KubeConfigError when exec/port-forward would have to go through a SOCKS proxy."""
        cfg = self.api_client.configuration
        proxy = cfg.proxy or ""
        if proxy.split("://", 1)[0].lower() in SOCKS_SCHEMES and not should_bypass_proxies(
            cfg.host, cfg.no_proxy or ""
        ):
            # kubernetes.stream hands websocket-client only an HTTP CONNECT proxy (ws_client.py
            # websocket_proxycare passes no proxy_type): a SOCKS server would be spoken to in HTTP.
            raise KubeConfigError(
                f"exec and port-forward cannot go through the SOCKS proxy {proxy_display(proxy)}: "
                "use an HTTP proxy (proxy-url: http://…) for them"
            )

    def open_websocket(self, open_fn: Callable[[], T]) -> T:
        """Open a websocket (exec, port-forward) with `open_fn` once the rate limiter allows (a long-running
        stream counts once, at open); after a 401 with an exec credential, once more with a fresh one."""
        self.check_websocket_proxy()
        creds = self.credentials
        for attempt in range(2):
            self.api_client.bucket.acquire(current_priority())
            sent = creds.token() if creds is not None else ""
            try:
                return open_fn()
            except k8s.ApiException as exc:
                if attempt or creds is None or "Handshake status 401" not in str(exc.reason or exc):
                    raise
                creds.rejected(sent)
        raise AssertionError("unreachable")

    def can_i(
        self,
        verb: str,
        resource: str,
        namespace: str | None = None,
        *,
        group: str = "",
        subresource: str = "",
        name: str = "",
    ) -> bool:
        """Ask the server (SelfSubjectAccessReview) whether our credentials may do `verb` on `resource`."""
        attrs: dict[str, str] = {"verb": verb, "resource": resource, "group": group}
        if namespace:
            attrs["namespace"] = namespace
        if subresource:
            attrs["subresource"] = subresource
        if name:
            attrs["name"] = name
        review = self.request(
            "POST",
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            body={
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": attrs},
            },
        )
        return bool((review.get("status") or {}).get("allowed"))


def list_contexts(
    kubeconfig: str | os.PathLike | None = None, environ: Mapping[str, str] = os.environ
) -> tuple[list[ContextInfo], str | None]:
    """All contexts of the merged kubeconfig and the current context's name."""
    contexts, current = merged_contexts(kubeconfig_paths(kubeconfig, environ))
    return list(contexts.values()), current


def _in_cluster_available(environ: Mapping[str, str]) -> bool:
    return bool(environ.get(SERVICE_HOST_ENV_NAME)) and Path(SERVICE_TOKEN_FILENAME).is_file()


def load_clients(
    kubeconfig: str | os.PathLike | None = None,
    context: str | None = None,
    *,
    timeouts: Timeouts | None = None,
    environ: Mapping[str, str] = os.environ,
    pool_size: int = 64,
    limits: RateLimits | None = None,
    terminal: Terminal | None = None,
) -> KubeClients:
    """Clients for `--kubeconfig`/`--context`, else `KUBECONFIG`/default file, else in-cluster credentials.

    An exec credential plugin runs here once (with `terminal`, default: the process's own), so a broken
    plugin is reported before anything starts; later refreshes run when a request needs one."""
    timeouts = timeouts or Timeouts()
    configuration = k8s.Configuration()
    credentials: ExecCredentials | None = None
    paths = kubeconfig_paths(kubeconfig, environ)
    if paths:
        contexts, current = merged_contexts(paths)
        chosen = context or current
        if not chosen:
            raise KubeConfigError(f"no current context in {', '.join(map(str, paths))}; pass --context")
        if chosen not in contexts:
            known = ", ".join(sorted(contexts)) or "none"
            raise KubeConfigError(f"context {chosen!r} not found in kubeconfig (known contexts: {known})")
        loaded = load_context(paths, chosen, configuration, terminal, environ)
        credentials = loaded.credentials
        namespace = contexts[chosen].namespace or "default"
        user = contexts[chosen].user
        in_cluster = False
    elif _in_cluster_available(environ):
        if context:
            raise KubeConfigError("--context needs a kubeconfig; none found (running in-cluster)")
        try:
            load_incluster_config(client_configuration=configuration)
        except ConfigException as exc:
            raise KubeConfigError(f"in-cluster configuration failed: {exc}") from exc
        try:
            namespace = Path(IN_CLUSTER_NAMESPACE_FILE).read_text().strip() or "default"
        except OSError:
            namespace = "default"
        chosen, in_cluster, user = None, True, "in-cluster service account"
    else:
        where = kubeconfig or environ.get("KUBECONFIG") or DEFAULT_KUBECONFIG
        raise KubeConfigError(f"no kubeconfig found ({where}) and not running inside a cluster")
    configuration.connection_pool_maxsize = max(configuration.connection_pool_maxsize or 0, pool_size)
    # urllib3 would retry 3 times, logging a warning each time; informers and followers back off themselves
    configuration.retries = 0
    if credentials is not None:
        _use_exec_credentials(configuration, credentials)
    api_client = TimeoutApiClient(configuration, timeouts, limits=limits, credentials=credentials)
    return KubeClients(api_client, chosen, namespace, in_cluster, timeouts, user)


def _use_exec_credentials(configuration: k8s.Configuration, credentials: ExecCredentials) -> None:
    """Every request asks `credentials` for its bearer token (cached until it expires); the first is
    fetched now. A client certificate from the plugin is written to files the TLS layer reads."""
    cert_files: list[str] = []
    lock = threading.Lock()

    def refresh(cfg: k8s.Configuration) -> None:
        cred = credentials.credential()
        if cred.token:
            cfg.api_key["BearerToken"] = f"Bearer {cred.token}"
        if cred.client_certificate:
            with lock:
                _write_client_cert(cfg, cred.client_certificate, cred.client_key, cert_files)

    configuration.api_key["BearerToken"] = ""
    configuration.refresh_api_key_hook = refresh
    refresh(configuration)
    if not configuration.api_key.get("BearerToken"):
        # a certificate-only plugin: no Authorization header at all (the client would send an empty one);
        # its certificate is the one fetched now (renewing it needs a restart of falcotui)
        configuration.api_key.pop("BearerToken", None)
        configuration.refresh_api_key_hook = None


def _write_client_cert(cfg: k8s.Configuration, cert: str, key: str, files: list[str]) -> None:
    """Put the plugin's client certificate and key (PEM) where urllib3 and the websocket client read them;
    each new connection loads them again, so a rotated certificate is used from then on."""
    import tempfile

    if not files:
        for suffix in (".crt", ".key"):
            fd, name = tempfile.mkstemp(prefix="falcotui-exec-", suffix=suffix)
            os.close(fd)
            files.append(name)
        cfg.cert_file, cfg.key_file = files
    for name, pem in zip(files, (cert, key), strict=True):
        with open(name, "w") as f:
            f.write(pem)
