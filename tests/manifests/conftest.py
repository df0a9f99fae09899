"""Fixtures for the manifest tests: the shipped files, the default render and the CLI's gRPC render."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from falcotui.ops.deploy import manifests


@pytest.fixture(scope="session")
def manifest_dir(repo_root: Path) -> Path:
    return repo_root / "manifests"


@pytest.fixture(scope="session")
def shipped_docs(manifest_dir: Path) -> list[tuple[str, dict[str, Any]]]:
    """Every object of every YAML file in manifests/, read straight from disk, with its file name."""
    docs = []
    for path in sorted(manifest_dir.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is not None:
                docs.append((path.name, doc))
    return docs


@pytest.fixture(scope="session")
def grpc_cli_output() -> str:
    """`falcotui manifests render --grpc`, run as the installed console script."""
    script = Path(sys.executable).with_name("falcotui")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "falcotui"]
    result = subprocess.run(
        [*command, "manifests", "render", "--grpc"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="session")
def grpc_docs(grpc_cli_output: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(grpc_cli_output) if d is not None]


def find(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    matches = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(matches) == 1, f"expected exactly one {kind} {name or ''}, found {len(matches)}"
    return matches[0]


def falco_container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (container,) = find(docs, "DaemonSet")["spec"]["template"]["spec"]["containers"]
    return container


def falco_yaml(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return yaml.safe_load(find(docs, "ConfigMap", "falco-config")["data"]["falco.yaml"])


@pytest.fixture(scope="session")
def k8s() -> SimpleNamespace:
    """Helpers to pick objects out of a list of manifests (fixtures, as test modules cannot import here)."""
    return SimpleNamespace(find=find, falco_container=falco_container, falco_yaml=falco_yaml)


@pytest.fixture(scope="session")
def default_docs() -> list[dict[str, Any]]:
    return manifests.render()
