"""interactiveMode as client-go reads it, and who gets the terminal: the plugin is told `interactive` and
gets stdin only when it may use the terminal; under a UI it first runs without, and only a plugin that
fails then is given the terminal (the UI suspended around it)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from falcotui.kube.credentials import CredentialError, ExecCredentials, ExecPlugin
from falcotui.kube.errors import KubeConfigError
from falcotui.ops.terminal import SuspendingTerminal
from falcotui.sim.api.tokens import TokenAuthority, expiry_of

T = TypeVar("T")


class LentTerminal:
    """A terminal that is there (`available`) and records each time it is lent."""

    def __init__(self, shared: bool, available: bool = True) -> None:
        self.shared, self._available, self.lent = shared, available, 0

    def available(self) -> bool:
        return self._available

    def run(self, fn: Callable[[], T]) -> T:
        self.lent += 1
        return fn()


def plugin(tmp_path: Path, *args: str, mode: str | None = "IfAvailable", version: str = "v1") -> ExecPlugin:
    cfg: dict = {
        "apiVersion": f"client.authentication.k8s.io/{version}",
        "command": sys.executable,
        "args": ["-m", "falcotui.sim.exec_plugin", "--log", str(tmp_path / "log"), *args],
        "env": [{"name": "SIM_TOKEN_SECRET", "value": "s3cret"}],
    }
    if mode is not None:
        cfg["interactiveMode"] = mode
    return ExecPlugin.from_kubeconfig(cfg, user="alice")


def told(tmp_path: Path) -> list[dict]:
    return [json.loads(x) for x in (tmp_path / "log").read_text().splitlines()]


def test_never_runs_without_the_terminal_even_when_there_is_one(tmp_path: Path) -> None:
    term = LentTerminal(shared=False)
    creds = ExecCredentials(plugin(tmp_path, mode="Never"), terminal=term)
    token = creds.token()
    assert expiry_of("s3cret", token) is not None
    assert term.lent == 0 and told(tmp_path) == [
        {**told(tmp_path)[0], "interactive": False, "stdin_tty": False}
    ]


def test_if_available_uses_a_free_terminal_like_kubectl(tmp_path: Path) -> None:
    term = LentTerminal(shared=False)
    ExecCredentials(plugin(tmp_path), terminal=term).token()
    assert term.lent == 1 and told(tmp_path)[0]["interactive"] is True


def test_if_available_under_a_ui_runs_headless_first_and_lends_the_terminal_only_for_a_login(
    tmp_path: Path,
) -> None:
    term = LentTerminal(shared=True)
    ExecCredentials(plugin(tmp_path), terminal=term).token()
    assert term.lent == 0, "a plugin that refreshes silently never disturbs the UI"
    login = ExecCredentials(plugin(tmp_path, "--prompt"), terminal=term)
    login.token()
    assert [r["interactive"] for r in told(tmp_path)] == [False, False, True] and term.lent == 1


def test_always_needs_a_terminal(tmp_path: Path) -> None:
    creds = ExecCredentials(plugin(tmp_path, mode="Always"), terminal=LentTerminal(False, available=False))
    with pytest.raises(CredentialError, match="Always but standard input is not a terminal"):
        creds.token()
    term = LentTerminal(shared=True)
    ExecCredentials(plugin(tmp_path, mode="Always"), terminal=term).token()
    assert term.lent == 1


def test_kubeconfig_validation_follows_clientcmd(tmp_path: Path) -> None:
    with pytest.raises(KubeConfigError, match="interactiveMode must be specified"):
        plugin(tmp_path, mode=None)
    assert plugin(tmp_path, mode=None, version="v1beta1").interactive_mode == "IfAvailable"
    with pytest.raises(KubeConfigError, match="invalid interactiveMode"):
        plugin(tmp_path, mode="Sometimes")
    with pytest.raises(KubeConfigError, match=r"v1alpha1.*not supported"):
        plugin(tmp_path, version="v1alpha1")


def test_cached_until_expiry_and_a_401_replaces_only_the_rejected_token(tmp_path: Path) -> None:
    now = [1000.0]
    creds = ExecCredentials(plugin(tmp_path, "--lifetime", "3600"), terminal=LentTerminal(False, False))
    first = creds.token()
    assert creds.token() == first and creds.runs == 1
    creds.rejected("some-older-token")
    assert creds.token() == first and creds.runs == 1, "another thread already replaced that one"
    creds.rejected(first)
    second = creds.token()
    assert second != first and creds.runs == 2
    creds.clock = lambda: now[0] + 10_000_000_000  # far past the expiry
    assert creds.token() != second and creds.runs == 3


def test_a_failure_is_remembered_briefly_instead_of_rerunning_the_plugin_per_request(tmp_path: Path) -> None:
    creds = ExecCredentials(
        plugin(tmp_path, "--fail", "4", "--stderr", "nope"), terminal=LentTerminal(False, False)
    )
    for _ in range(5):
        with pytest.raises(CredentialError, match="exit status 4: nope"):
            creds.token()
    assert creds.runs == 1 and "exit status 4" in creds.last_error


def test_the_plugin_answer_is_checked(tmp_path: Path) -> None:
    creds = ExecCredentials(
        plugin(tmp_path, "--api-version", "client.authentication.k8s.io/v1beta1"),
        terminal=LentTerminal(False, False),
    )
    with pytest.raises(CredentialError, match=r"returned version client\.authentication\.k8s\.io/v1beta1"):
        creds.token()


def test_a_suspending_terminal_hands_the_plugin_to_the_ui_hook(tmp_path: Path, monkeypatch) -> None:
    calls: list[str] = []

    def suspend(fn: Callable[[], T]) -> T:
        calls.append("suspended")
        try:
            return fn()
        finally:
            calls.append("resumed")

    term = SuspendingTerminal(suspend)
    monkeypatch.setattr(term, "available", lambda: True)
    ExecCredentials(plugin(tmp_path, "--prompt"), terminal=term).token()
    assert calls == ["suspended", "resumed"]
    assert [r["interactive"] for r in told(tmp_path)] == [False, True]


def test_token_authority_counts_expired_tokens() -> None:
    from falcotui.sim.api.tokens import mint

    authority = TokenAuthority("k")
    token, expiry = mint("k", 1.0, now=100.0)
    assert authority.valid(token, now=100.5) and not authority.valid(token, now=expiry)
    assert not authority.valid(token.replace("simtok", "fake"), now=100.5)
    assert (authority.accepted, authority.expired, authority.rejected) == (1, 1, 1)
