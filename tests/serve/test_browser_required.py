"""Without chromium the browser tests skip, saying how to install it; under CI=true they fail instead (CI
must never lose them silently: .ci/run installs chromium first)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CONFTEST = """
import sys

sys.path.insert(0, {repo!r})
from tests.serve.conftest import chromium_binary  # noqa: F401 (the fixture under test)
"""


def _pytest_without_chromium(repo_root: Path, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """A fresh pytest, with tests/serve's `chromium_binary` fixture and a PATH holding no chromium, runs one
    test that needs the browser."""
    (tmp_path / "conftest.py").write_text(CONFTEST.format(repo=str(repo_root)))
    (tmp_path / "test_needs_chromium.py").write_text("def test_needs_chromium(chromium_binary):\n    pass\n")
    clean = {k: v for k, v in os.environ.items() if k not in ("CHROMIUM", "CI")}
    clean.update(PATH=str(tmp_path / "empty"), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", **env)
    cmd = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "test_needs_chromium.py"]
    return subprocess.run(cmd, cwd=tmp_path, env=clean, capture_output=True, text=True, timeout=60)


def test_browser_tests_skip_without_chromium_and_say_how_to_install_it(
    repo_root: Path, tmp_path: Path
) -> None:
    done = _pytest_without_chromium(repo_root, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 skipped" in done.stdout and "apt-get install -y chromium" in done.stdout


def test_under_ci_browser_tests_fail_instead_of_skipping(repo_root: Path, tmp_path: Path) -> None:
    done = _pytest_without_chromium(repo_root, tmp_path, CI="true")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 error" in done.stdout and "skipped" not in done.stdout
    assert "CI=true, the browser tests fail instead of skipping" in done.stdout
