"""Connect to a cluster: kubeconfig/context/in-cluster loading into clients that always carry timeouts.

The official client has no global read timeout, so `KubeClients` wraps an `ApiClient` subclass that puts
`(connect, read)` timeouts on every call that does not choose its own. It also offers raw JSON requests
(`request`, `open_stream`) that skip typed models: the rest of `falcotui.kube` works on plain dicts.
This module also defines the error types of the whole `kube` layer.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import urllib3
import yaml
from kubernetes import client as k8s
from kubernetes.config import ConfigException
from kubernetes.config.incluster_config import (
    SERVICE_HOST_ENV_NAME,
    SERVICE_TOKEN_FILENAME,
    load_incluster_config,
)
from kubernetes.config.kube_config import load_kube_config

IN_CLUSTER_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
DEFAULT_KUBECONFIG = "~/.kube/config"


class KubeError(Exception):
    """Any failure of cluster I/O; `str()` is a readable one-line explanation."""

    def __init__(
        self, message: str, *, code: int | None = None, reason: str = "", details: dict | None = None
    ):
        super().__init__(message)
        self.message = message
        self.code = code
        self.reason = reason
        self.details = details or {}

    @property
    def short(self) -> str:
        """The message with a network failure cut down to its cause (see `short_reason`)."""
        return short_reason(self)


_ERRNO = re.compile(r"\[Errno -?\d+\] ([^\"')\]]+)")
_CAUSES = ("timed out", "refused", "reset", "name or service not known", "certificate verify failed")


def short_reason(exc: BaseException) -> str:
    """`connection refused`, `timed out` … instead of urllib3's nested retry report (else the message)."""
    text = str(exc)
    if m := _ERRNO.search(text):
        return m[1].strip().lower()
    lowered = text.lower()
    for word in _CAUSES:
        if word in lowered:
            return word
    return text


class KubeConfigError(KubeError):
    """No usable kubeconfig/context/in-cluster credentials."""


class KubeConnectionError(KubeError):
    """The API server could not be reached or stopped answering (refused, reset, timed out)."""


class KubeApiError(KubeError):
    """The API server answered with a failure `Status` (code, reason, message, details)."""

    @classmethod
    def from_status(cls, code: int, body: bytes | str | None, what: str = "") -> KubeApiError:
        status: dict = {}
        if body:
            try:
                status = json.loads(body)
            except ValueError:
                status = {}
        if not isinstance(status, dict):
            status = {}
        message = status.get("message") or (
            body.decode(errors="replace") if isinstance(body, bytes) else body
        )
        message = (message or f"HTTP {code}").strip()
        if what:
            message = f"{what}: {message}"
        return cls(
            message,
            code=int(status.get("code") or code),
            reason=status.get("reason") or "",
            details=status.get("details"),
        )


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds; `read` bounds every socket read of a request (streams choose their own)."""

    connect: float = 5.0
    read: float = 30.0


@dataclass(frozen=True, slots=True)
class ContextInfo:
    name: str
    cluster: str
    user: str
    namespace: str | None


class TimeoutApiClient(k8s.ApiClient):
    """An `ApiClient` whose every request gets `(connect, read)` timeouts unless the caller passes some."""

    def __init__(self, configuration: k8s.Configuration, timeouts: Timeouts):
        super().__init__(configuration)
        self.timeouts = timeouts

    def call_api(self, method, url, header_params=None, body=None, post_params=None, _request_timeout=None):
        if _request_timeout is None:
            _request_timeout = (self.timeouts.connect, self.timeouts.read)
        return super().call_api(method, url, header_params, body, post_params, _request_timeout)


_NETWORK_ERRORS = (urllib3.exceptions.HTTPError, OSError)


@dataclass(eq=False)
class KubeClients:
    """Everything needed to talk to one cluster: the ApiClient, typed APIs, context, default namespace."""

    api_client: TimeoutApiClient
    context: str | None
    namespace: str
    in_cluster: bool = False
    timeouts: Timeouts = field(default_factory=Timeouts)

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

    @property
    def host(self) -> str:
        return self.api_client.configuration.host

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


def kubeconfig_paths(
    kubeconfig: str | os.PathLike | None = None, environ: Mapping[str, str] = os.environ
) -> list[Path]:
    """Kubeconfig files in kubectl's order: `--kubeconfig`, else `KUBECONFIG` (several), else the default."""
    if kubeconfig:
        path = Path(kubeconfig).expanduser()
        if not path.is_file():
            raise KubeConfigError(f"kubeconfig {path} does not exist")
        return [path]
    env = environ.get("KUBECONFIG")
    if env:
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p and Path(p).expanduser().is_file()]
    default = Path(DEFAULT_KUBECONFIG).expanduser()
    return [default] if default.is_file() else []


def _read_kubeconfig(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise KubeConfigError(f"cannot read kubeconfig {path}: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise KubeConfigError(f"kubeconfig {path} is not a mapping")
    return data


def _merged_contexts(paths: list[Path]) -> tuple[dict[str, ContextInfo], str | None]:
    """Merge like kubectl: the first file to define a context name or `current-context` wins."""
    contexts: dict[str, ContextInfo] = {}
    current: str | None = None
    for path in paths:
        data = _read_kubeconfig(path)
        if current is None and data.get("current-context"):
            current = str(data["current-context"])
        for entry in data.get("contexts") or []:
            if not isinstance(entry, dict) or "name" not in entry or entry["name"] in contexts:
                continue
            ctx = entry.get("context") or {}
            contexts[entry["name"]] = ContextInfo(
                name=entry["name"],
                cluster=str(ctx.get("cluster", "")),
                user=str(ctx.get("user", "")),
                namespace=ctx.get("namespace"),
            )
    return contexts, current


def list_contexts(
    kubeconfig: str | os.PathLike | None = None, environ: Mapping[str, str] = os.environ
) -> tuple[list[ContextInfo], str | None]:
    """All contexts of the merged kubeconfig and the current context's name."""
    contexts, current = _merged_contexts(kubeconfig_paths(kubeconfig, environ))
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
) -> KubeClients:
    """Clients for `--kubeconfig`/`--context`, else `KUBECONFIG`/default file, else in-cluster credentials."""
    timeouts = timeouts or Timeouts()
    configuration = k8s.Configuration()
    paths = kubeconfig_paths(kubeconfig, environ)
    if paths:
        contexts, current = _merged_contexts(paths)
        chosen = context or current
        if not chosen:
            raise KubeConfigError(f"no current context in {', '.join(map(str, paths))}; pass --context")
        if chosen not in contexts:
            known = ", ".join(sorted(contexts)) or "none"
            raise KubeConfigError(f"context {chosen!r} not found in kubeconfig (known contexts: {known})")
        try:
            load_kube_config(
                config_file=os.pathsep.join(map(str, paths)),
                context=chosen,
                client_configuration=configuration,
                persist_config=False,
            )
        except (ConfigException, OSError, ValueError, KeyError, TypeError) as exc:
            raise KubeConfigError(f"cannot use context {chosen!r}: {exc}") from exc
        namespace = contexts[chosen].namespace or "default"
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
        chosen, in_cluster = None, True
    else:
        where = kubeconfig or environ.get("KUBECONFIG") or DEFAULT_KUBECONFIG
        raise KubeConfigError(f"no kubeconfig found ({where}) and not running inside a cluster")
    configuration.connection_pool_maxsize = max(configuration.connection_pool_maxsize or 0, pool_size)
    # urllib3 would retry 3 times, logging a warning each time; informers and followers back off themselves
    configuration.retries = 0
    api_client = TimeoutApiClient(configuration, timeouts)
    return KubeClients(api_client, chosen, namespace, in_cluster, timeouts)
