"""Fixtures every test area shares: where the repository and the shared test data live, the real kubectl,
the simulated cluster on the demo's fast timings (`make_sim_cluster`, `falco_sim`, `clients_for`,
`deployed_falco`; the
helpers behind them are `tests/support/simkit.py`) and the hostile corpus."""

from __future__ import annotations

import re
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from simkit import FalcoSim, connect, falco_runtime, new_sim_cluster

from falcotui.kube.client import KubeClients
from falcotui.kube.kubectl_binary import KubectlNotFound, find_kubectl, missing_fails
from falcotui.sim.cluster import SimCluster

REPO = Path(__file__).resolve().parent.parent

# Several tests press Ctrl-C on a command they started (SIGINT to `falcotui sim`, `alerts -f`, ...), as a
# user at a terminal would. A shell without job control starts a background job (`make test &`, a nohup'd
# soak) with SIGINT ignored, every child inherits that, and CPython then installs no KeyboardInterrupt
# handler: those commands would ignore the tests' Ctrl-C (the soak of 2d26395 failed three tests so).
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
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


# ---------------------------------------------------------------- the simulated cluster (fast timings)


@pytest.fixture
def make_sim_cluster() -> Iterator[Callable[..., SimCluster]]:
    """`make_sim_cluster(nodes=5, tls=True, bookmark_interval=0.1, runtime=falco_runtime(...))`: a started
    cluster on the demo's fast timings (any SimConfig field as a keyword); stopped after the test."""
    started: list[SimCluster] = []

    def make(**kw: Any) -> SimCluster:
        started.append(new_sim_cluster(**kw))
        return started[-1]

    yield make
    for cluster in reversed(started):
        cluster.stop()


@pytest.fixture
def falco_sim(make_sim_cluster: Callable[..., SimCluster], tmp_path: Path) -> Callable[..., FalcoSim]:
    """`falco_sim(nodes=2, per_minute=600)`: a started cluster (no control-plane node) whose Falco pods run
    the simulated Falco, nothing deployed yet, and its kubeconfig file."""
    made: list[FalcoSim] = []

    def make(*, nodes: int = 2, per_minute: float = 600.0, seed: int = 1, **config: Any) -> FalcoSim:
        runtime = falco_runtime("quiet", seed=seed, per_minute=per_minute)
        config = {"control_plane_nodes": 0, **config}
        cluster = make_sim_cluster(runtime=runtime, bookmark_interval=0.2, nodes=nodes, **config)
        path = cluster.write_kubeconfig(tmp_path / f"kubeconfig-{len(made) + 1}")
        made.append(FalcoSim(cluster, path, runtime))
        return made[-1]

    return make


@pytest.fixture
def clients_for(tmp_path: Path) -> Iterator[Callable[[FalcoSim | SimCluster | Path], KubeClients]]:
    """`clients_for(falco_sim, cluster or kubeconfig path)`: falcotui's KubeClients through that kubeconfig
    (a cluster's written to tmp_path); closed after the test."""
    made: list[KubeClients] = []

    def make(sim: FalcoSim | SimCluster | Path) -> KubeClients:
        if isinstance(sim, SimCluster):
            path = sim.write_kubeconfig(tmp_path / f"clients-kubeconfig-{len(made) + 1}")
        else:
            path = sim if isinstance(sim, Path) else sim.kubeconfig
        made.append(connect(path))
        return made[-1]

    yield make
    for clients in made:
        clients.close()


@pytest.fixture
def deployed_falco(
    make_sim_cluster: Callable[..., SimCluster], clients_for: Callable[[SimCluster], KubeClients]
) -> Callable[..., tuple[SimCluster, KubeClients]]:
    """`deployed_falco(scenario="flaky", per_minute=600, cut_every=0.3, nodes=3, grpc=True)`: a cluster whose
    Falco pods run the simulated Falco, with falcotui's clients and its manifests (or the gRPC profile)
    applied — not waited for (`deploy=False`: nothing applied)."""
    from falcotui.kube.apply import Applier
    from falcotui.ops.deploy import manifests

    def make(*, scenario: str = "quiet", seed: int = 1, nodes: int = 3, grpc: bool = False,
             policy: Any = None, deploy: bool = True, extra_nodes: list | None = None,
             **params: Any) -> tuple[SimCluster, KubeClients]:  # fmt: skip
        runtime = falco_runtime(scenario, seed=seed, **params)
        cluster = make_sim_cluster(runtime=runtime, bookmark_interval=0.2, policy=policy, nodes=nodes,
                                   extra_nodes=list(extra_nodes or []))  # fmt: skip
        clients = clients_for(cluster)
        if deploy:
            Applier(clients).apply(manifests.render(grpc=grpc))
        return cluster, clients

    return make


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI=true a run in which no test passed is not green: pytest's own exit 5 covers "nothing
    collected", this covers "everything skipped or deselected"."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if missing_fails() and exitstatus == 0 and reporter is not None and not reporter.stats.get("passed"):
        session.exitstatus = pytest.ExitCode.NO_TESTS_COLLECTED


# ---------------------------------------------------------------- the hostile corpus (issue 13, finding 3)

# ESC/CSI, OSC 52 (clipboard write), OSC 8 (hyperlink), screen clear, C1 (CSI, OSC, ST, NEL), DEL, bidi
# embeddings/overrides/isolates, zero-width characters, Rich/Textual markup, a lone surrogate.
CORPUS = (
    "PWNED\x1b[31mred\x1b[0m \x1b]52;c;SGVsbG8gY2xpcGJvYXJk\x07 \x1b[2J\x1b[H "
    "\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\ \x9b2J \x9d0;title\x9c \x85 \x7f "
    "\u202aa\u202bb\u202cc\u202dd\u202ee \u2066f\u2067g\u2068h\u2069 "
    "z\u200bw\u200cj\u200dn\u2060b\ufeff "
    "[bold red]MARKUP[/] [link=http://evil.example/]link[/link] :skull: \udc80END"
)
# What must never reach a terminal raw: C0 except newline, DEL, C1, bidi controls, zero-width and
# invisible formatting characters, line/paragraph separators, lone surrogates.
FORBIDDEN = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ud800-\udfff]"
)


def assert_clean(text: str, where: str) -> None:
    bad = FORBIDDEN.search(text)
    if bad is not None:
        around = text[max(0, bad.start() - 40) : bad.end() + 40]
        raise AssertionError(f"{where}: raw {bad[0]!r} at {bad.start()}: {around!r}")


def assert_clean_bytes(data: bytes, where: str) -> None:
    assert_clean(data.decode("utf-8"), where)  # strict: a lone surrogate could not even be decoded


@pytest.fixture(scope="session")
def hostile() -> SimpleNamespace:
    """The hostile corpus every output path is tested with: `CORPUS`, `assert_clean(text, where)`,
    `assert_clean_bytes(data, where)`."""
    return SimpleNamespace(CORPUS=CORPUS, assert_clean=assert_clean, assert_clean_bytes=assert_clean_bytes)
