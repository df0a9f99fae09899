"""Exec credential plugins (client.authentication.k8s.io/v1, v1beta1) run the way client-go runs them, but
never writing into a full-screen UI.

client-go (plugin/pkg/client/auth/exec/exec.go) caches the plugin's credential until its
`expirationTimestamp`, runs the plugin again when it has expired or when a request using it got 401 (unless
another thread has already replaced it), serialises runs with one lock per plugin, and decides whether the
plugin may use the terminal from the kubeconfig's `interactiveMode`: `Never`; `IfAvailable` (the default for
v1beta1; v1 requires the field) = when standard input is a terminal; `Always` = fail unless it is. The
decision goes to the plugin as `spec.interactive` in `KUBERNETES_EXEC_INFO`; an interactive plugin gets the
terminal as stdin and stderr, a non-interactive one no stdin and, here, a captured stderr.

The official Python client (kubernetes/config/exec_provider.py, v37) differs in ways that hurt inside a TUI:
it runs the plugin when the config is loaded, decides `interactive` from `sys.stdout.isatty()` alone (so
under a TUI the plugin inherits the screen), ignores `interactiveMode`, only logs a failing plugin and goes on
with no token, and never re-runs it on a 401. `ExecCredentials` replaces it: who owns the terminal is a
`Terminal` — the process itself (`ProcessTerminal`: the CLI, or the TUI before it starts), or a UI that must
step aside first (`ops` installs the TUI's suspend hook, as for `$EDITOR`). Under a UI an `IfAvailable`
plugin is first run without the terminal (most refresh silently from their own cache); only when that fails
is the UI suspended and the plugin run again with the terminal, so a re-login prompt appears on a clean
screen instead of inside the TUI. A failure is a `CredentialError` naming the plugin, its exit status and
its stderr; nothing is sent unauthenticated after one, because the caller raises instead of sending.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

from falcotui.falco.sanitize import sanitize
from falcotui.kube.errors import KubeConfigError, KubeError

API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")
INTERACTIVE_MODES = ("Never", "IfAvailable", "Always")
EXEC_INFO_ENV = "KUBERNETES_EXEC_INFO"
#: A plugin that has not answered in this long is stuck (a prompt nobody sees); client-go has no limit,
#: but a headless run with no terminal to answer on can only be waiting for nothing.
HEADLESS_TIMEOUT = 120.0
_STDERR_SHOWN = 2000
#: After a failure, requests fail with the same error for this long instead of each running the plugin
#: again (a thousand log followers would otherwise each run it, or each suspend the UI for a login).
FAILURE_HOLD = 10.0
#: ... and this long when the failed run had the terminal under a UI, so a plugin whose backend is down does
#: not take the screen away every few seconds
LENT_FAILURE_HOLD = 60.0

T = TypeVar("T")


class CredentialError(KubeError):
    """The exec credential plugin could not give a credential; no request was sent without one."""


class Terminal(Protocol):
    """Who can hand the terminal to a plugin."""

    #: True when a full-screen UI owns the screen: handing the terminal over interrupts the user.
    shared: bool

    def available(self) -> bool: ...

    def run(self, fn: Callable[[], T]) -> T:
        """Run `fn` while the plugin may use the terminal (stdin, stderr) and return its result."""
        ...


def stdin_is_terminal() -> bool:
    """Whether the process's stdin is a terminal a plugin could prompt on (False when it is closed)."""
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (ValueError, OSError):
        return False


@dataclass
class ProcessTerminal:
    """The process's own terminal, with nothing drawn on it: available when stdin is a terminal."""

    shared: bool = False

    def available(self) -> bool:
        return stdin_is_terminal()

    def run(self, fn: Callable[[], T]) -> T:
        return fn()


@dataclass
class NoTerminal:
    """No terminal at all (tests, services)."""

    shared: bool = False

    def available(self) -> bool:
        return False

    def run(self, fn: Callable[[], T]) -> T:
        raise CredentialError("no terminal is available")


@dataclass(frozen=True, slots=True)
class ExecPlugin:
    """The `user.exec` stanza of a kubeconfig, validated like client-go's clientcmd."""

    command: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    api_version: str = API_VERSIONS[0]
    interactive_mode: str = "IfAvailable"
    install_hint: str = ""
    cluster: dict | None = None  # `spec.cluster` when provideClusterInfo is set
    cwd: str | None = None
    user: str = ""

    @classmethod
    def from_kubeconfig(
        cls, exec_cfg: Mapping[str, Any], *, user: str = "", cluster: Mapping[str, Any] | None = None,
        base_path: str | None = None,
    ) -> ExecPlugin:  # fmt: skip
        where = f"user {user!r}: exec" if user else "exec"
        command = exec_cfg.get("command")
        if not command or not isinstance(command, str):
            raise KubeConfigError(f"{where}: command is required")
        api_version = exec_cfg.get("apiVersion") or ""
        if api_version not in API_VERSIONS:
            raise KubeConfigError(
                f"{where}: apiVersion {api_version!r} is not supported (use one of {', '.join(API_VERSIONS)})"
            )
        mode = exec_cfg.get("interactiveMode")
        if not mode:
            # clientcmd: "interactiveMode must be specified for <user> to use exec authentication plugin"
            # for v1; v1beta1 defaults to IfAvailable.
            if api_version.endswith("/v1"):
                raise KubeConfigError(f"{where}: interactiveMode must be specified for apiVersion v1")
            mode = "IfAvailable"
        if mode not in INTERACTIVE_MODES:
            raise KubeConfigError(f"{where}: invalid interactiveMode {mode!r} (Never, IfAvailable, Always)")
        env = []
        for item in exec_cfg.get("env") or []:
            if not isinstance(item, Mapping) or "name" not in item:
                raise KubeConfigError(f"{where}: env entries need a name and a value")
            env.append((str(item["name"]), str(item.get("value", ""))))
        info = None
        if exec_cfg.get("provideClusterInfo") and cluster is not None:
            info = _cluster_info(cluster)
        return cls(
            command=command,
            args=tuple(str(a) for a in exec_cfg.get("args") or ()),
            env=tuple(env),
            api_version=api_version,
            interactive_mode=mode,
            install_hint=str(exec_cfg.get("installHint") or ""),
            cluster=info,
            cwd=base_path or None,
            user=user,
        )

    @property
    def name(self) -> str:
        return os.path.basename(self.command)


def _cluster_info(cluster: Mapping[str, Any]) -> dict:
    """`spec.cluster` (client.authentication.k8s.io Cluster): the kubeconfig cluster minus file paths."""
    info: dict[str, Any] = {"server": cluster.get("server", "")}
    for key in ("tls-server-name", "insecure-skip-tls-verify", "certificate-authority-data", "proxy-url",
                "disable-compression"):  # fmt: skip
        if key in cluster:
            info[key] = cluster[key]
    for ext in cluster.get("extensions") or []:
        if isinstance(ext, Mapping) and ext.get("name") == "client.authentication.k8s.io/exec":
            info["config"] = ext.get("extension")
    return info


@dataclass(frozen=True, slots=True)
class Credential:
    token: str
    expiry: float | None  # unix seconds; None: until the server says 401
    client_certificate: str = ""
    client_key: str = ""


def parse_rfc3339(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@dataclass(eq=False)
class ExecCredentials:
    """The cached credential of one exec plugin; `token()` gives a valid bearer token or raises."""

    plugin: ExecPlugin
    terminal: Terminal = field(default_factory=ProcessTerminal)
    clock: Callable[[], float] = time.time
    environ: Mapping[str, str] | None = None  # the plugin's base environment (default: os.environ)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._cached: Credential | None = None
        self._failed: tuple[float, CredentialError] | None = None
        self._hold = FAILURE_HOLD
        self.runs = 0  # plugin executions (headless and interactive)
        self.last_error = ""

    # -- the client side --------------------------------------------------------------------------------
    def token(self) -> str:
        """The cached token while it has not expired, else the plugin's new one."""
        with self._lock:
            cred = self._cached
            if cred is None or self._expired(cred):
                cred = self._refresh_locked()
            return cred.token

    def credential(self) -> Credential:
        self.token()
        with self._lock:
            assert self._cached is not None
            return self._cached

    def fresh(self) -> bool:
        """A cached credential is still valid: `token()` returns at once, without running the plugin."""
        cred = self._cached
        return cred is not None and not self._expired(cred)

    def rejected(self, token: str) -> None:
        """A request sent with `token` got 401: forget it so the next `token()` runs the plugin again —
        unless another thread has already replaced it (client-go's maybeRefreshCreds)."""
        with self._lock:
            if self._cached is not None and self._cached.token == token:
                self._cached = None

    @property
    def expiry(self) -> float | None:
        cred = self._cached
        return cred.expiry if cred else None

    def _expired(self, cred: Credential) -> bool:
        return cred.expiry is not None and self.clock() >= cred.expiry

    # -- running the plugin -------------------------------------------------------------------------------
    def _refresh_locked(self) -> Credential:
        if self._failed is not None and self.clock() - self._failed[0] < self._hold:
            raise CredentialError(self._failed[1].message)
        mode, term = self.plugin.interactive_mode, self.terminal
        try:
            if mode == "Never":
                cred = self._run(interactive=False)
            elif mode == "Always":
                if not term.available():
                    raise CredentialError(
                        f"{self._what()} cannot run: interactiveMode is Always but standard input is not a "
                        "terminal"
                    )
                cred = term.run(lambda: self._run(interactive=True))
            elif not term.available():
                cred = self._run(interactive=False)
            elif not term.shared:
                cred = term.run(lambda: self._run(interactive=True))
            else:
                try:
                    cred = self._run(interactive=False)
                except CredentialError:
                    # It may need the user (a re-login): give it the terminal, the UI steps aside.
                    cred = term.run(lambda: self._run(interactive=True))
        except Exception as exc:
            if not isinstance(exc, CredentialError):  # the terminal could not be handed over
                exc = CredentialError(f"{self._what()} needs the terminal, which could not be lent: {exc}")
            self.last_error = str(exc)
            self._failed = (self.clock(), exc)
            lent = term.shared and mode != "Never" and term.available()
            self._hold = LENT_FAILURE_HOLD if lent else FAILURE_HOLD
            raise exc from None
        self._cached = cred
        self._failed = None
        self.last_error = ""
        return cred

    def _what(self) -> str:
        who = f" for user {self.plugin.user!r}" if self.plugin.user else ""
        return f"exec credential plugin {self.plugin.command!r}{who}"

    def _run(self, *, interactive: bool) -> Credential:
        plugin = self.plugin
        info: dict[str, Any] = {
            "apiVersion": plugin.api_version,
            "kind": "ExecCredential",
            "spec": {"interactive": interactive},
        }
        if plugin.cluster is not None:
            info["spec"]["cluster"] = plugin.cluster
        env = dict(os.environ if self.environ is None else self.environ)
        env.update(plugin.env)
        env[EXEC_INFO_ENV] = json.dumps(info)
        self.runs += 1
        try:
            proc = subprocess.run(
                [plugin.command, *plugin.args],
                stdin=None if interactive else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=None if interactive else subprocess.PIPE,
                cwd=plugin.cwd,
                env=env,
                timeout=None if interactive else HEADLESS_TIMEOUT,
                check=False,
            )
        except FileNotFoundError:
            hint = f": {sanitize(plugin.install_hint, multiline=True)}" if plugin.install_hint else ""
            raise CredentialError(f"{self._what()} was not found{hint}") from None
        except subprocess.TimeoutExpired:
            raise CredentialError(
                f"{self._what()} did not answer within {HEADLESS_TIMEOUT:g}s without a terminal"
            ) from None
        except OSError as exc:
            raise CredentialError(f"{self._what()} could not be run: {exc}") from None
        stderr = (proc.stderr or b"").decode(errors="replace").strip()
        if proc.returncode != 0:
            detail = f": {sanitize(stderr[-_STDERR_SHOWN:])}" if stderr else ""
            raise CredentialError(f"{self._what()} failed with exit status {proc.returncode}{detail}")
        return self._parse(proc.stdout)

    def _parse(self, stdout: bytes) -> Credential:
        try:
            data = json.loads(stdout)
        except ValueError as exc:
            raise CredentialError(f"{self._what()} printed no ExecCredential JSON: {exc}") from None
        if not isinstance(data, dict) or data.get("kind") != "ExecCredential":
            raise CredentialError(f"{self._what()} printed something other than an ExecCredential")
        if data.get("apiVersion") != self.plugin.api_version:
            raise CredentialError(
                f"{self._what()} is configured to use API version {self.plugin.api_version}, "
                f"plugin returned version {sanitize(str(data.get('apiVersion')))}"
            )
        status = data.get("status")
        if not isinstance(status, dict):
            raise CredentialError(f"{self._what()} didn't return a status field")
        token = str(status.get("token") or "")
        cert, key = str(status.get("clientCertificateData") or ""), str(status.get("clientKeyData") or "")
        if not token and not cert and not key:
            raise CredentialError(f"{self._what()} didn't return a token or cert/key pair")
        if bool(cert) != bool(key):
            raise CredentialError(f"{self._what()} returned only certificate or key, not both")
        expiry = None
        if status.get("expirationTimestamp"):
            try:
                expiry = parse_rfc3339(str(status["expirationTimestamp"]))
            except ValueError:
                raise CredentialError(
                    f"{self._what()} returned an unreadable expirationTimestamp "
                    f"{sanitize(str(status['expirationTimestamp']))!r}"
                ) from None
        return Credential(token, expiry, cert, key)
