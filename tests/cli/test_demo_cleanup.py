"""The demo cluster leaves nothing behind in the temp folder (one folder per demo: each `falcotui --demo`,
each tab of `falcotui serve --demo`, each test; 1,674 had gathered in /tmp on this machine), nor does
`falcotui --demo --clusters N` (its merged kubeconfig's folder, whichever way it ends)."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from falcotui.cli.common import CliError
from falcotui.cli.demo import DemoCluster
from falcotui.cli.tui_clusters import run_demo_many
from falcotui.cli.tui_cmd import SCENARIO_NAMES, build_parser, build_services, tui_options
from falcotui.kube.client import list_contexts
from falcotui.ops.alerts.action_log import ENV_PATH
from tests.support.tmux import Tmux


def test_a_stopped_demo_removes_its_kubeconfig_and_folder() -> None:
    demo = DemoCluster(nodes=1, tainted_node=False).start(deploy=False)
    try:
        kubeconfig = demo.kubeconfig
        assert kubeconfig is not None and kubeconfig.exists()
        assert yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
        folder = kubeconfig.parent
    finally:
        demo.stop()
    assert not folder.exists()


# ---------------------------------------------------------------- --demo --clusters N


def _many_args(**overrides) -> argparse.Namespace:
    args = tui_options(build_parser().parse_args(["--demo", "--clusters", "2", "--nodes", "1"]))
    return argparse.Namespace(**{**vars(args), **overrides})


def _left_in(tmp: Path) -> list[str]:
    return sorted(p.name for p in tmp.iterdir() if p.name.startswith("falcotui-demo"))


@pytest.mark.parametrize("ending", ["quit", "ctrl-c", "error"])
def test_many_demo_clusters_leave_no_folder_however_the_session_ends(
    ending: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The session is what `falcotui` runs (the app): here a stand-in that reads the merged kubeconfig the
    way the app connects, then ends as the app can: `q` (a status), Ctrl-C (KeyboardInterrupt) or an error."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.delenv(ENV_PATH, raising=False)
    seen: dict[str, object] = {}

    def session(connect, context, namespace, *, contexts, many, **_kwargs) -> int:
        kubeconfig = Path(os.environ[ENV_PATH]).parent / "kubeconfig"
        seen["contexts"] = [c.name for c in list_contexts(str(kubeconfig))[0]]
        seen["mode"] = kubeconfig.stat().st_mode & 0o777
        seen["folders"] = _left_in(tmp_path)
        if ending == "ctrl-c":
            raise KeyboardInterrupt
        if ending == "error":
            raise CliError("cannot reach the cluster")
        return 0

    def run() -> int:
        return run_demo_many(
            _many_args(), [], session=session, build_services=build_services, scenarios=SCENARIO_NAMES
        )

    if ending == "quit":
        assert run() == 0
    else:
        with pytest.raises(KeyboardInterrupt if ending == "ctrl-c" else CliError):
            run()
    assert seen["contexts"] == ["eu-west", "us-east"] and seen["mode"] == 0o600
    assert len(seen["folders"]) == 3  # the merged kubeconfig's and each cluster's, while it ran
    assert _left_in(tmp_path) == []


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
@pytest.mark.timeout(240)
def test_falcotui_demo_clusters_quit_in_a_terminal_leaves_no_folder(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    rc_file = tmp_path / "rc"
    command = (
        f"cd {tmp_path} && TMPDIR={tmp} TERM=xterm-256color {sys.executable} -m falcotui --demo --clusters 2 "
        f"--nodes 1; echo $? > {rc_file}; sleep 30"
    )
    tmux = Tmux(120, 30, name="falcotui-demo-clusters")
    try:
        tmux.start(f"sh -c '{command}'")
        tmux.wait_text("eu-west", "us-east", timeout=120)
        assert len(_left_in(tmp)) == 3
        tmux.keys("q")
        deadline = time.monotonic() + 60
        while not rc_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert rc_file.exists(), tmux.screen()
        assert rc_file.read_text().strip() == "0", tmux.screen()
    finally:
        tmux.close()
    assert _left_in(tmp) == []
