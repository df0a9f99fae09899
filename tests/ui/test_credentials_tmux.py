"""An exec credential plugin that needs the user while the TUI runs, in a real terminal (a private tmux
server): the plugin first runs without the terminal and fails ("login required"); the app then suspends,
the plugin's prompt appears on the plain terminal — never inside the TUI — the answer typed there goes to
the plugin, and the app comes back, with requests carrying the fresh token."""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import pytest
import yaml

from falcotui.sim.api.tokens import TokenAuthority
from falcotui.sim.cluster import SimCluster
from falcotui.sim.config import SimConfig
from tests.support.tmux import Tmux

from .test_rules_external_editor_tmux import REPO

pytestmark = [
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
    pytest.mark.timeout(240),
]
PROMPT = "Re-login: type anything and press Enter:"


def test_a_plugin_that_needs_the_user_gets_the_terminal_with_the_app_suspended(tmp_path: Path) -> None:
    cluster = SimCluster(SimConfig(nodes=2)).start()
    authority = TokenAuthority()
    cluster.server.token, cluster.server.tokens = None, authority
    login_needed, log = tmp_path / "login-needed", tmp_path / "plugin.log"
    doc = yaml.safe_load(cluster.write_kubeconfig(tmp_path / "kc").read_text())
    doc["users"][0]["user"] = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": sys.executable,
            "args": [
                *("-m", "falcotui.sim.exec_plugin", "--lifetime", "3", "--log", str(log)),
                *("--prompt-if-exists", str(login_needed)),
            ],
            "env": [{"name": "SIM_TOKEN_SECRET", "value": authority.secret}],
            "interactiveMode": "IfAvailable",
        }
    }
    (tmp_path / "kc").write_text(yaml.safe_dump(doc))
    tmux = Tmux(120, 30)
    app = f"{sys.executable} -m falcotui.cli.tui_cmd --kubeconfig {tmp_path / 'kc'}"
    try:
        tmux.start(f"sh -c 'cd {REPO} && {app}; sleep 30'")
        tmux.wait_text("falcotui-sim", "logs")
        runs_before = len(log.read_text().splitlines())
        login_needed.write_text("")  # from now on the plugin wants the user
        shown = tmux.wait_text(PROMPT, timeout=60)
        assert "falcotui-sim" not in shown, "the prompt is on the plain terminal, the TUI is suspended"
        login_needed.unlink()
        tmux.keys("it-is-me", "Enter")
        tmux.wait_text("falcotui-sim", "logs", timeout=60)  # the app is back
        accepted = authority.accepted
        cluster.restart_api_server()  # the watches reconnect, with whatever token the client holds now
        deadline = time.monotonic() + 30
        while authority.accepted == accepted and time.monotonic() < deadline:
            time.sleep(0.2)
        assert authority.accepted > accepted, "requests go on with the new token"
        runs = [json.loads(x) for x in log.read_text().splitlines()][runs_before:]
        prompted = [r for r in runs if r.get("answer")]
        assert prompted and prompted[0]["answer"] == "it-is-me" and prompted[0]["interactive"]
        assert runs[0]["interactive"] is False, "first tried without the terminal"
        assert PROMPT not in tmux.screen()
    finally:
        tmux.close()
        cluster.stop()
