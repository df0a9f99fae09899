"""The cluster options take effect whether typed before or after the command, or are refused loudly.

Before the fix, `falcotui --context closed apply --dry-run` ran against the current context: argparse let
the sub-command's defaults overwrite what was typed before it. Each option is checked in both positions,
through the real entry point (a subprocess) where a wrong context shows in what the command does.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from falcotui import cli

CLI = [sys.executable, "-m", "falcotui"]


def run(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *argv], capture_output=True, text=True, timeout=timeout)


def parse(*argv: str):
    return cli.build_parser().parse_args(list(argv))


@pytest.fixture
def two_contexts(tmp_path: Path) -> Path:
    """A kubeconfig whose current context is `open` (its API at port 9, discard) and another, `closed`,
    whose API is at 127.0.0.1:1: which one a command talked to shows in its error message."""
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "open",
        "clusters": [
            {"name": "c-open", "cluster": {"server": "http://127.0.0.1:9"}},
            {"name": "c-closed", "cluster": {"server": "http://127.0.0.1:1"}},
        ],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [
            {"name": "open", "context": {"cluster": "c-open", "user": "u"}},
            {"name": "closed", "context": {"cluster": "c-closed", "user": "u"}},
        ],
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.parametrize(
    "argv",
    [
        ("--context", "closed", "status"),
        ("status", "--context", "closed"),
        ("--context", "closed", "apply", "--dry-run"),
        ("apply", "--dry-run", "--context", "closed"),
        ("--context", "closed", "rules", "pull", "-o", "x"),
    ],
)
def test_context_is_honoured_in_either_position(two_contexts: Path, argv: tuple[str, ...]) -> None:
    proc = run(*argv, "--kubeconfig", str(two_contexts), "--request-timeout", "5")
    assert proc.returncode != 0
    assert "127.0.0.1:1" in proc.stderr or "context closed" in proc.stderr, proc.stderr
    assert "127.0.0.1:9" not in proc.stderr


@pytest.mark.parametrize("position", ["before", "after"])
def test_kubeconfig_is_honoured_in_either_position(tmp_path: Path, position: str) -> None:
    missing = str(tmp_path / "no-such-kubeconfig")
    argv = (
        ["--kubeconfig", missing, "status"] if position == "before" else ["status", "--kubeconfig", missing]
    )
    proc = run(*argv)
    assert proc.returncode != 0
    assert "no-such-kubeconfig" in proc.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ("-n", "sec", "status"),
        ("--namespace", "sec", "status"),
        ("status", "-n", "sec"),
        ("status", "--falco-namespace", "sec"),
        ("--namespace", "sec", "rules", "push", "f"),
        ("--namespace", "sec", "alerts"),
        ("alerts", "-n", "sec"),
        ("-n", "sec", "restart"),
        ("-n", "sec", "manifests", "render"),
        ("manifests", "render", "-n", "sec"),
    ],
)
def test_namespace_is_falcos_namespace_in_either_position(argv: tuple[str, ...]) -> None:
    assert parse(*argv).falco_namespace == "sec"


def test_namespace_defaults_to_falco_everywhere() -> None:
    for argv in (("status",), ("alerts",), ("manifests", "render"), ()):
        assert parse(*argv).falco_namespace == "falco"


def test_rendered_manifests_use_the_namespace_typed_before_the_command() -> None:
    proc = run("-n", "sec-tools", "manifests", "render")
    assert proc.returncode == 0, proc.stderr
    docs = [d for d in yaml.safe_load_all(proc.stdout) if d]
    assert {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"} - {None} == {
        "sec-tools"
    }


@pytest.mark.parametrize("position", ["before", "after"])
def test_request_timeout_in_either_position(position: str) -> None:
    argv = (
        ("--request-timeout", "7", "status") if position == "before" else ("status", "--request-timeout", "7")
    )
    assert parse(*argv).request_timeout == 7.0
    assert parse("status").request_timeout == 30.0


@pytest.mark.parametrize(
    "argv",
    [
        ("--read-only", "rules", "push", "f"),
        ("rules", "push", "f", "--read-only"),
        ("--read-only", "rules", "rollback"),
        ("--read-only", "apply"),
        ("--read-only", "delete"),
        ("--read-only", "restart"),
    ],
)
def test_read_only_refuses_every_writing_command(argv: tuple[str, ...]) -> None:
    proc = run(*argv)
    assert proc.returncode == 2
    assert "--read-only" in proc.stderr and "would write to the cluster" in proc.stderr


def test_read_only_allows_reading_commands_and_dry_runs() -> None:
    for argv in (("status",), ("alerts",), ("rules", "pull"), ("rules", "history"), ("apply", "--dry-run")):
        assert parse("--read-only", *argv).read_only is True


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--context", "x", "rules", "lint", "f.yaml"), "--context has no effect on `falcotui rules lint`"),
        (
            ("--kubeconfig", "k", "manifests", "render"),
            "--kubeconfig has no effect on `falcotui manifests render`",
        ),
        (("--read-only", "manifests", "render"), "--read-only has no effect"),
        (("--demo", "status"), "--demo only applies to the terminal UI"),
        (("--nodes", "3", "sim"), "put it after the command"),
        (("--seed", "3", "alerts"), "--seed only applies to the terminal UI"),
    ],
)
def test_options_that_would_be_ignored_are_refused(argv: tuple[str, ...], message: str) -> None:
    proc = run(*argv)
    assert proc.returncode == 2
    assert message in proc.stderr, proc.stderr


def test_kubeconfig_before_sim_says_where_the_sim_writes() -> None:
    assert parse("--kubeconfig", "/tmp/k", "sim").kubeconfig == "/tmp/k"
    assert parse("sim", "--kubeconfig", "/tmp/k").kubeconfig == "/tmp/k"
    assert parse("sim", "--nodes", "4").nodes == 4


def test_alerts_workload_namespace_filter_is_its_own_option() -> None:
    args = parse("alerts", "-n", "falco-system", "--k8s-namespace", "shop")
    assert (args.falco_namespace, args.workload_namespace) == ("falco-system", "shop")
