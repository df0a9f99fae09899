"""ctrl+e on the Rules screen in a real terminal: `falcotui --demo` runs in a private tmux server with
$EDITOR set to a small script written by the test, and the screen is read with capture-pane.

One session walks through what an editor can do: fail to start (no `#!` line: the exec fails inside the
suspended app), exit non-zero after changing the file, not exist at all, and finally edit the file and
exit 0. Only the last one changes the editor's text; every failure says so clearly, loses nothing, and
leaves the app responding to keys."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import pytest

from tests.support.tmux import Tmux

pytestmark = [
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
    pytest.mark.timeout(240),
]

REPO = Path(__file__).resolve().parents[2]
ADDED_RULE = """
- rule: Added by the external editor
  desc: nc started in a container
  condition: spawned_process and container and proc.name = nc
  output: nc started (cmd=%proc.cmdline container=%container.name)
  priority: WARNING
"""
EDITOR_SCRIPT = """#!/bin/sh
echo "$@" >> "{dir}/calls"
case "$(cat "{dir}/mode")" in
  edit)
    sed -i 's/Host processes/EDITED-BY-EDITOR processes/' "$1"
    cat "{dir}/rule.yaml" >> "$1"
    ;;
  fail)
    echo '# a half-done edit' >> "$1"
    exit 3
    ;;
esac
"""


def toasts(screen: str) -> str:
    """The notifications' words in one line: a toast is drawn at the right edge behind a `▌` border and
    wraps its message over several rows."""
    rows = [line.rsplit("▌", 1)[1] for line in screen.splitlines() if "▌" in line]
    return " ".join(" ".join(row.strip(" │─╯").split()) for row in rows)


def test_external_editor_edits_and_failures_in_tmux(tmp_path: Path) -> None:
    script = tmp_path / "editor.sh"
    mode = tmp_path / "mode"
    (tmp_path / "rule.yaml").write_text(ADDED_RULE)
    calls = tmp_path / "calls"
    rc_file = tmp_path / "rc"
    app = f"{sys.executable} -m falcotui.cli.tui_cmd --demo --nodes 1 --seed 1 --scenario quiet"
    # COLUMNS/LINES from pytest's environment would pin Textual to 80x24 whatever the pane's size
    env = f"unset VISUAL COLUMNS LINES && EDITOR={script} TMPDIR={tmp_path} TERM=xterm-256color"
    command = f"sh -c 'cd {REPO} && {env} {app}; echo $? > {rc_file}; sleep 30'"
    tmux = Tmux(150, 42, name="falcotui-editor")
    try:
        tmux.start(command)
        tmux.wait_text("Fleet ·", "Running 1/1", timeout=90)
        tmux.keys("F3")
        tmux.wait_text("custom-rules.yaml", "✓ valid", "no changes to push")

        # 1. the exec itself fails (no #! line): reported, and the app is back (keys still work)
        script.write_text("echo 'no shebang'\n")
        script.chmod(0o755)
        tmux.keys("C-e")
        shown = tmux.wait(lambda t: "Exec format error" in toasts(t), "exec failure message")
        assert "cannot run $EDITOR" in toasts(shown) and "nothing changed" in toasts(shown)
        assert "modified" not in shown

        # 2. the editor changes the file, then exits 3: the change is not loaded, its copy is kept
        script.write_text(EDITOR_SCRIPT.format(dir=tmp_path))
        script.chmod(0o755)
        mode.write_text("fail")
        tmux.keys("C-e")
        shown = tmux.wait(lambda t: "exited with status 3" in toasts(t), "non-zero exit message")
        assert "changes were not loaded" in toasts(shown) and "modified" not in shown
        [edited_path] = calls.read_text().split()
        kept = Path(edited_path)
        assert kept.name == "custom-rules.yaml" and kept.read_text().endswith("# a half-done edit\n")
        assert "no changes to push" in shown

        # 3. an editor that does not exist: said so before anything runs
        script.unlink()
        tmux.keys("C-e")
        shown = tmux.wait(lambda t: "was not found" in toasts(t), "missing editor message")
        assert "set VISUAL or EDITOR" in toasts(shown) and "modified" not in shown
        assert len(calls.read_text().split()) == 1  # it never ran

        # 4. a working editor: its edit is in the editor, the screen says modified, the lint passed
        script.write_text(EDITOR_SCRIPT.format(dir=tmp_path))
        script.chmod(0o755)
        mode.write_text("edit")
        tmux.keys("C-e")
        shown = tmux.wait_text("EDITED-BY-EDITOR processes", "modified")
        tmux.wait_text("✓ valid", "ctrl+u push")
        assert len(calls.read_text().split()) == 2
        # the appended rule: the diff against the live rules shows it
        tmux.keys("C-d")
        shown = tmux.wait_text("+- rule: Added by the external editor")
        assert "+  condition: spawned_process and container and proc.name = nc" in shown
        tmux.keys("Escape")
        tmux.wait_gone("+- rule: Added by the external editor")

        # undo (one step, in the focused editor) takes the whole external edit back
        tmux.keys("C-z")
        tmux.wait_gone("EDITED-BY-EDITOR")
        tmux.wait_text("no changes to push")

        tmux.keys("F1")
        tmux.wait_text("Fleet ·")
        tmux.keys("q")
        deadline = time.monotonic() + 30
        while not rc_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert rc_file.exists(), f"falcotui did not exit:\n{tmux.screen()}"
        assert rc_file.read_text().strip() == "0", tmux.screen()
        assert "Traceback" not in tmux.screen()
    finally:
        tmux.close()
