"""Find the real kubectl to run (tests, benches, the `falcotui sim` hint), looked up at run time.

Order: the `KUBECTL` environment variable (used as given, but it must run and be >= 1.30); then a
`kubectl` >= 1.30 on PATH; then the Google Cloud CLI bundle's versioned binaries (`kubectl.1.32`,
`kubectl.1.33`, ... beside the `kubectl` or `gcloud` found on PATH), preferring 1.32, the version the
simulated API server reports (falcotui/sim/api/discovery.py) and the tests were written against.

The Google Cloud CLI's own `kubectl` is a dispatcher: it "retrieves the server version from a cluster, and
delegates to the appropriate kubectl version", `kubectl.<major>.<minor>` in the same directory
(github.com/GoogleCloudPlatform/kubectl-dispatcher, README). Its `version --client` answers without a
server (gitVersion `v1.32.4-dispatcher` here), but against a cluster the kubectl that runs depends on
what that cluster reports, so a dispatcher is never chosen itself: its versioned binaries are.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

#: the oldest kubectl minor the tests accept (server-side apply, `--show-managed-fields`, AppArmor fields)
MIN_MINOR = 30
#: the versioned binary chosen first: the simulated API server reports v1.32.4
PREFERRED_MINOR = 32
INSTALL_HINT = (
    "install kubectl >= 1.30 (https://kubernetes.io/docs/tasks/tools/, or the Google Cloud CLI's "
    "`kubectl` component: `apt-get install google-cloud-cli-kubectl` / `gcloud components install kubectl`) "
    "or point KUBECTL at one"
)
_VERSIONED = re.compile(r"kubectl\.1\.(\d+)")


class KubectlNotFound(Exception):
    """No usable kubectl; the message says what was tried and how to install one."""

    def __init__(self, message: str, *, explicit: bool = False) -> None:
        super().__init__(message)
        #: the KUBECTL environment variable named a kubectl that cannot be used (a mistake, never a skip)
        self.explicit = explicit


@dataclass(frozen=True)
class Kubectl:
    """A kubectl binary: its path, client version (1, minor) and how it was found."""

    path: str
    minor: int
    source: str


def client_minor(path: str) -> tuple[int, bool] | None:
    """(minor version, is a dispatcher) from `path version --client -o json`; None if it does not answer."""
    try:
        done = subprocess.run(
            [path, "version", "--client", "-o", "json"],
            capture_output=True,
            text=True,
            timeout=20,
            env={**os.environ, "KUBECONFIG": os.devnull},
        )
        info = json.loads(done.stdout)["clientVersion"]
        major = int(re.sub(r"\D", "", str(info["major"])))
        minor = int(re.sub(r"\D", "", str(info["minor"])))
    except (OSError, subprocess.SubprocessError, ValueError, KeyError, TypeError):
        return None
    if done.returncode != 0 or major != 1:
        return None
    return minor, str(info.get("gitVersion", "")).endswith("-dispatcher")


def _versioned_beside(directory: Path) -> Iterator[tuple[int, Path]]:
    """The `kubectl.1.N` binaries in `directory`, N >= MIN_MINOR, PREFERRED_MINOR first, then newest first."""
    found = []
    for entry in directory.glob("kubectl.1.*"):
        match = _VERSIONED.fullmatch(entry.name)
        if match and int(match.group(1)) >= MIN_MINOR and os.access(entry, os.X_OK):
            found.append((int(match.group(1)), entry))
    found.sort(key=lambda item: (item[0] != PREFERRED_MINOR, -item[0]))
    yield from found


def find_kubectl(environ: Mapping[str, str] | None = None) -> Kubectl:
    """The kubectl to run, in the order the module docstring gives; raises KubectlNotFound."""
    env = os.environ if environ is None else environ
    explicit = env.get("KUBECTL", "")
    if explicit:
        answer = client_minor(explicit)
        if answer is None:
            raise KubectlNotFound(
                f"KUBECTL={explicit} does not run `kubectl version --client`", explicit=True
            )
        if answer[0] < MIN_MINOR:
            raise KubectlNotFound(f"KUBECTL={explicit} is kubectl 1.{answer[0]}, older than 1.{MIN_MINOR}",
                                  explicit=True)  # fmt: skip
        return Kubectl(explicit, answer[0], "KUBECTL")
    search_path = env.get("PATH", "")
    tried: list[str] = []
    bundle_dirs: list[Path] = []
    on_path = shutil.which("kubectl", path=search_path)
    if on_path:
        answer = client_minor(on_path)
        real = Path(on_path).resolve()
        if answer is not None and not answer[1] and answer[0] >= MIN_MINOR:
            return Kubectl(on_path, answer[0], "PATH")
        tried.append(f"{on_path} ({_describe(answer)})")
        bundle_dirs.append(real.parent)
    gcloud = shutil.which("gcloud", path=search_path)
    if gcloud:
        bundle_dirs.append(Path(gcloud).resolve().parent)
    for directory in dict.fromkeys(bundle_dirs):
        for _minor, binary in _versioned_beside(directory):
            answer = client_minor(str(binary))
            if answer is not None and not answer[1] and answer[0] >= MIN_MINOR:
                return Kubectl(str(binary), answer[0], "Google Cloud CLI bundle")
            tried.append(f"{binary} ({_describe(answer)})")
    if not on_path:
        tried.append("no kubectl on PATH")
    if not bundle_dirs:
        tried.append("no Google Cloud CLI on PATH")
    raise KubectlNotFound(f"no kubectl >= 1.{MIN_MINOR} found ({'; '.join(tried)}): {INSTALL_HINT}")


def _describe(answer: tuple[int, bool] | None) -> str:
    if answer is None:
        return "does not answer `version --client`"
    if answer[1]:
        return f"a dispatcher (1.{answer[0]}) that picks a kubectl by each server's version"
    return f"kubectl 1.{answer[0]}, older than 1.{MIN_MINOR}"


def missing_fails(environ: Mapping[str, str] | None = None) -> bool:
    """Whether a missing kubectl fails the run instead of skipping its tests: under CI (`CI=true`) coverage
    must never drop silently."""
    env = os.environ if environ is None else environ
    return env.get("CI", "").strip().lower() in ("true", "1", "yes")
