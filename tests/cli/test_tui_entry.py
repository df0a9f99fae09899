"""`falcotui` with no command when there is no cluster to talk to: a clear message that points at --demo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_no_kubeconfig_points_at_the_demo(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST")}
    env["HOME"] = str(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "falcotui"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 1
    assert "no kubeconfig found" in proc.stderr and "falcotui --demo" in proc.stderr
    assert "Traceback" not in proc.stderr
