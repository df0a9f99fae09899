"""Where the TUI's engine runs: in a child process, unless the exec credential plugin may have to ask the
user (interactiveMode Always, or IfAvailable with a terminal): a child has no terminal to lend, so then the
engine stays on a thread of the UI process. The plugin is the simulator's real exec plugin."""

from __future__ import annotations

import sys
from pathlib import Path

from falcotui.kube.credentials import ExecCredentials, ExecPlugin, NoTerminal
from falcotui.ops.engine_placement import needs_terminal


def credentials(tmp_path: Path, mode: str) -> ExecCredentials:
    cfg = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "command": sys.executable,
        "args": ["-m", "falcotui.sim.exec_plugin", "--log", str(tmp_path / "log")],
        "env": [{"name": "SIM_TOKEN_SECRET", "value": "s3cret"}],
        "interactiveMode": mode,
    }
    return ExecCredentials(ExecPlugin.from_kubeconfig(cfg, user="alice"), terminal=NoTerminal())


def test_a_plugin_that_may_prompt_keeps_the_engine_in_the_ui_process(tmp_path: Path) -> None:
    assert needs_terminal(credentials(tmp_path, "Always"), tty=False)
    assert needs_terminal(credentials(tmp_path, "IfAvailable"), tty=True)


def test_a_silent_plugin_or_none_lets_the_engine_run_in_a_child(tmp_path: Path) -> None:
    assert not needs_terminal(credentials(tmp_path, "Never"), tty=True)
    assert not needs_terminal(credentials(tmp_path, "IfAvailable"), tty=False)
    assert not needs_terminal(None, tty=True)
