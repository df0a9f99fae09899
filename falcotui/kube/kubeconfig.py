"""Read kubeconfig files the way kubectl does and load one context into a client `Configuration`.

kubectl's rules (k8s.io/client-go/tools/clientcmd/loader.go): `--kubeconfig` alone, else every file in
`KUBECONFIG` (missing ones skipped; the first to define a name or `current-context` wins), else
~/.kube/config. An empty file is an empty config (`Load`: "if len(data) == 0 { return config, nil }"),
where the official Python client raises "Invalid kube-config. ... file is empty"; empty files (and ones
holding only comments) are left out before the client sees them.

The context is loaded by the official client's `KubeConfigLoader` with one change: its exec plugin
handling (which runs the plugin at load time with the wrong terminal rules, only logs a failure and then
sends requests with no token) is replaced by `falcotui.kube.credentials.ExecCredentials`.

`proxy-url` and the `HTTPS_PROXY`/`NO_PROXY` environment are honoured by the official client for REST
requests (kubernetes/client/rest.py, client/configuration.py); a `socks5://` proxy needs PySocks
(`urllib3.contrib.socks`), which falcotui carries as the optional extra `falcotui[socks]`.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import yaml
from kubernetes import client as k8s
from kubernetes.config import ConfigException
from kubernetes.config.kube_config import KubeConfigLoader, KubeConfigMerger

from falcotui.kube.credentials import ExecCredentials, ExecPlugin, Terminal
from falcotui.kube.errors import KubeConfigError

DEFAULT_KUBECONFIG = "~/.kube/config"
SOCKS_SCHEMES = ("socks5", "socks5h", "socks4", "socks4a")
SOCKS_EXTRA = "falcotui[socks]"


@dataclass(frozen=True, slots=True)
class ContextInfo:
    name: str
    cluster: str
    user: str
    namespace: str | None


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


def kubeconfig_paths(
    kubeconfig: str | os.PathLike | None = None, environ: Mapping[str, str] = os.environ
) -> list[Path]:
    """Kubeconfig files in kubectl's order: `--kubeconfig`, else `KUBECONFIG` (several), else the default;
    missing and empty files are left out."""
    if kubeconfig:
        path = Path(kubeconfig).expanduser()
        if not path.is_file():
            raise KubeConfigError(f"kubeconfig {path} does not exist")
        candidates = [path]
    elif environ.get("KUBECONFIG"):
        candidates = [Path(p).expanduser() for p in environ["KUBECONFIG"].split(os.pathsep) if p]
    else:
        candidates = [Path(DEFAULT_KUBECONFIG).expanduser()]
    out: list[Path] = []
    for path in candidates:
        if path.is_file() and path not in out and _read_kubeconfig(path):
            out.append(path)
    return out


def merged_contexts(paths: list[Path]) -> tuple[dict[str, ContextInfo], str | None]:
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


class _Loader(KubeConfigLoader):
    """The official loader, with exec plugins left to `ExecCredentials` (see the module docstring)."""

    exec_plugin: ExecPlugin | None = None

    def _load_from_exec_plugin(self) -> bool | None:
        if "exec" not in self._user:
            return None
        user_name = self._current_context["context"].safe_get("user") or ""
        base = self._get_base_path(self._cluster.path)
        self.exec_plugin = ExecPlugin.from_kubeconfig(
            self._user["exec"].value, user=str(user_name), cluster=self._cluster.value, base_path=base
        )
        return True  # the loader stops looking for other credentials


@dataclass(frozen=True, slots=True)
class LoadedContext:
    credentials: ExecCredentials | None  # the exec plugin's, when the user has one


def load_context(
    paths: list[Path],
    context: str,
    configuration: k8s.Configuration,
    terminal: Terminal | None,
    environ: Mapping[str, str] = os.environ,
) -> LoadedContext:
    """Fill `configuration` from `context` of the merged files, with proxies as kubectl chooses them."""
    try:
        merger = KubeConfigMerger(os.pathsep.join(map(str, paths)))
        loader = _Loader(config_dict=merger.config, active_context=context, config_base_path=None)
        loader.load_and_set(configuration)
    except KubeConfigError:
        raise
    except (ConfigException, OSError, ValueError, KeyError, TypeError) as exc:
        raise KubeConfigError(f"cannot use context {context!r}: {exc}") from exc
    if "proxy-url" not in loader._cluster:
        configuration.proxy = env_proxy(configuration.host, environ)
    configuration.no_proxy = environ.get("NO_PROXY") or environ.get("no_proxy") or None
    check_proxy(configuration)
    if loader.exec_plugin is None:
        return LoadedContext(None)
    creds = ExecCredentials(loader.exec_plugin)
    if terminal is not None:
        creds.terminal = terminal
    return LoadedContext(creds)


def env_proxy(server: str, environ: Mapping[str, str]) -> str | None:
    """The proxy Go's `http.ProxyFromEnvironment` picks for `server` (what kubectl uses without
    `proxy-url`): HTTPS_PROXY for https, HTTP_PROXY for http (upper or lower case); never for localhost
    or a loopback address (golang.org/x/net/http/httpproxy `useProxy`). NO_PROXY is applied by the client."""
    parsed = urlparse(server)
    names = ("HTTPS_PROXY", "https_proxy") if parsed.scheme == "https" else ("HTTP_PROXY", "http_proxy")
    proxy = next((environ[n] for n in names if environ.get(n)), None)
    host = (parsed.hostname or "").lower()
    if not proxy or host == "localhost":
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass
    return proxy if "://" in proxy else f"http://{proxy}"


def check_proxy(configuration: k8s.Configuration) -> None:
    """A SOCKS proxy needs PySocks (REST) and aiohttp-socks (log streams): say which extra to install
    instead of failing later on an import."""
    proxy = configuration.proxy or ""
    scheme = proxy.split("://", 1)[0].lower() if "://" in proxy else ""
    if scheme not in SOCKS_SCHEMES:
        return
    try:
        import aiohttp_socks  # noqa: F401  (the log streams' connector: kube/aio.py)
        import socks  # noqa: F401  (PySocks, what urllib3.contrib.socks imports)
    except ImportError as exc:
        package = "PySocks" if exc.name == "socks" else "aiohttp-socks"
        raise KubeConfigError(
            f"the proxy {proxy_display(proxy)} is a SOCKS proxy, which needs the {package} package: "
            f"pip install '{SOCKS_EXTRA}'"
        ) from None


def proxy_display(proxy: str) -> str:
    """The proxy URL without a password."""
    scheme, sep, rest = proxy.partition("://")
    if "@" in rest:
        rest = "…@" + rest.rsplit("@", 1)[1]
    return f"{scheme}{sep}{rest}"
