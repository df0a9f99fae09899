"""Fixtures every test area shares: where the repository and the shared test data live, the real kubectl."""

from __future__ import annotations

from pathlib import Path

import pytest

from falcotui.kube.kubectl_binary import KubectlNotFound, find_kubectl, missing_fails

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared test data not found at {SHARED_DATA} (CI lays ../shared beside the clone)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def kubectl_path() -> str:
    """The real kubectl the tests run (falcotui.kube.kubectl_binary says where it comes from). Without
    one the test skips, saying how to install it; under CI=true, or with a KUBECTL that fails, it fails."""
    try:
        return find_kubectl().path
    except KubectlNotFound as exc:
        if exc.explicit:
            pytest.fail(str(exc), pytrace=False)
        if missing_fails():
            pytest.fail(f"{exc} (CI=true: kubectl tests fail instead of skipping)", pytrace=False)
        pytest.skip(str(exc))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI=true a run in which no test passed is not green: pytest's own exit 5 covers "nothing
    collected", this covers "everything skipped or deselected"."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if missing_fails() and exitstatus == 0 and reporter is not None and not reporter.stats.get("passed"):
        session.exitstatus = pytest.ExitCode.NO_TESTS_COLLECTED
