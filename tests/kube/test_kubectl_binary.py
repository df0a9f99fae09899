"""Which kubectl the tests and benches run: KUBECTL, then PATH, then the Google Cloud CLI's versioned
binaries; without one the kubectl tests skip naming how to install it, and fail under CI=true.

The kubectls here are small scripts that answer `kubectl version --client -o json` the way kubectl does
(a dispatcher's gitVersion ends in `-dispatcher`, as the Google Cloud CLI's does), so every case runs on
any machine; the last tests run pytest itself on a real kubectl test to see it skip or fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from falcotui.kube.kubectl_binary import INSTALL_HINT, KubectlNotFound, find_kubectl, missing_fails


def fake_kubectl(path: Path, minor: int, *, dispatcher: bool = False) -> Path:
    """An executable that answers only `version --client -o json`, as kubectl 1.`minor` does."""
    git = f"v1.{minor}.4-dispatcher" if dispatcher else f"v1.{minor}.2"
    suffix = "+" if dispatcher else ""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "#!/bin/sh\n"
        '[ "$1 $2 $3 $4" = "version --client -o json" ] || exit 3\n'
        f'echo \'{{"clientVersion": {{"major": "1", "minor": "{minor}{suffix}", "gitVersion": "{git}"}}}}\'\n'
    )
    path.chmod(0o755)
    return path


def gcloud_bundle(root: Path, minors: tuple[int, ...] = (29, 31, 32, 33)) -> Path:
    """A Google Cloud CLI bin/ directory: the dispatcher `kubectl`, `gcloud` and `kubectl.1.N` beside them."""
    bin_dir = root / "google-cloud-sdk" / "bin"
    fake_kubectl(bin_dir / "kubectl", 32, dispatcher=True)
    (bin_dir / "gcloud").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "gcloud").chmod(0o755)
    for minor in minors:
        fake_kubectl(bin_dir / f"kubectl.1.{minor}", minor)
    return bin_dir


def linked(path_dir: Path, target: Path, name: str) -> Path:
    """`name` in `path_dir` as a symlink to `target` (how /usr/bin/kubectl points into the bundle)."""
    path_dir.mkdir(parents=True, exist_ok=True)
    (path_dir / name).symlink_to(target)
    return path_dir


def test_the_kubectl_environment_variable_wins_over_path(tmp_path):
    on_path = fake_kubectl(tmp_path / "bin" / "kubectl", 33)
    chosen = fake_kubectl(tmp_path / "elsewhere" / "my-kubectl", 31)
    found = find_kubectl({"KUBECTL": str(chosen), "PATH": str(on_path.parent)})
    assert (found.path, found.minor, found.source) == (str(chosen), 31, "KUBECTL")


@pytest.mark.parametrize("minor", [None, 29])
def test_a_kubectl_variable_that_cannot_be_used_is_a_mistake_not_a_skip(tmp_path, minor):
    bad = tmp_path / "absent" if minor is None else fake_kubectl(tmp_path / "old", minor)
    with pytest.raises(KubectlNotFound) as caught:
        find_kubectl({"KUBECTL": str(bad), "PATH": ""})
    assert caught.value.explicit and f"KUBECTL={bad}" in str(caught.value)


def test_a_recent_kubectl_on_path_is_used_as_it_is(tmp_path):
    on_path = fake_kubectl(tmp_path / "bin" / "kubectl", 30)
    found = find_kubectl({"PATH": f"{tmp_path / 'empty'}:{on_path.parent}"})
    assert (found.path, found.minor, found.source) == (str(on_path), 30, "PATH")


def test_the_gcloud_dispatcher_on_path_gives_way_to_its_versioned_1_32(tmp_path):
    bundle = gcloud_bundle(tmp_path)
    path_dir = linked(tmp_path / "usr-bin", bundle / "kubectl", "kubectl")
    found = find_kubectl({"PATH": str(path_dir)})
    assert (found.path, found.minor) == (str(bundle / "kubectl.1.32"), 32)
    assert found.source == "Google Cloud CLI bundle"


def test_without_1_32_the_newest_versioned_binary_of_at_least_1_30_is_used(tmp_path):
    bundle = gcloud_bundle(tmp_path, minors=(29, 30, 31))
    found = find_kubectl({"PATH": str(linked(tmp_path / "usr-bin", bundle / "kubectl", "kubectl"))})
    assert found.path == str(bundle / "kubectl.1.31")


def test_an_old_kubectl_on_path_falls_back_to_the_bundle_beside_gcloud(tmp_path):
    bundle = gcloud_bundle(tmp_path, minors=(32,))
    old = fake_kubectl(tmp_path / "old-bin" / "kubectl", 28)
    path_dir = linked(tmp_path / "usr-bin", bundle / "gcloud", "gcloud")
    found = find_kubectl({"PATH": f"{old.parent}:{path_dir}"})
    assert found.path == str(bundle / "kubectl.1.32")


def test_with_nothing_usable_the_error_says_what_was_tried_and_how_to_install(tmp_path):
    bundle = gcloud_bundle(tmp_path, minors=(27, 29))
    path_dir = linked(tmp_path / "usr-bin", bundle / "kubectl", "kubectl")
    with pytest.raises(KubectlNotFound) as caught:
        find_kubectl({"PATH": str(path_dir)})
    message = str(caught.value)
    assert not caught.value.explicit
    assert "a dispatcher" in message and INSTALL_HINT in message
    with pytest.raises(KubectlNotFound, match="no kubectl on PATH; no Google Cloud CLI on PATH"):
        find_kubectl({"PATH": str(tmp_path / "empty")})


@pytest.mark.parametrize(("value", "fails"), [("true", True), ("1", True), ("false", False), (None, False)])
def test_ci_decides_whether_a_missing_kubectl_fails(value, fails):
    assert missing_fails({} if value is None else {"CI": value}) is fails


CONFTEST = """\
import importlib.util
import sys

sys.path.insert(0, {support!r})  # the repository's conftest imports simkit (pyproject's pythonpath)
spec = importlib.util.spec_from_file_location("repo_conftest", {conftest!r})
repo_conftest = importlib.util.module_from_spec(spec)
spec.loader.exec_module(repo_conftest)
kubectl_path = repo_conftest.kubectl_path
"""


def _pytest_without_kubectl(repo_root: Path, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """A fresh pytest, with the repository's `kubectl_path` fixture and a PATH holding no kubectl and no
    gcloud, runs one test that needs kubectl (plugins not autoloaded: a second's start instead of six)."""
    tests = repo_root / "tests"
    (tmp_path / "conftest.py").write_text(
        CONFTEST.format(conftest=str(tests / "conftest.py"), support=str(tests / "support"))
    )
    (tmp_path / "test_needs_kubectl.py").write_text("def test_needs_kubectl(kubectl_path):\n    pass\n")
    clean = {k: v for k, v in os.environ.items() if k not in ("KUBECTL", "CI")}
    clean.update(PATH=str(tmp_path / "empty"), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", **env)
    cmd = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "test_needs_kubectl.py"]
    return subprocess.run(cmd, cwd=tmp_path, env=clean, capture_output=True, text=True, timeout=60)


def test_kubectl_tests_skip_without_kubectl_and_say_how_to_install_it(repo_root, tmp_path):
    done = _pytest_without_kubectl(repo_root, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 skipped" in done.stdout and "install kubectl >= 1.30" in done.stdout


def test_under_ci_kubectl_tests_fail_instead_of_skipping(repo_root, tmp_path):
    done = _pytest_without_kubectl(repo_root, tmp_path, CI="true")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 error" in done.stdout and "skipped" not in done.stdout
    assert "CI=true: kubectl tests fail instead of skipping" in done.stdout
