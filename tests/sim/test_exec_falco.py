"""`pods/exec` into a simulated Falco pod: `cat` of its files, `falco -V` / `--version`, through the official
client's websocket stream, the real kubectl 1.32 and a raw v4 websocket."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import orjson
import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.stream import stream

from falcotui.sim.cluster import SimCluster
from falcotui.sim.config import SimConfig
from falcotui.sim.falco_process import FalcoRuntime
from falcotui.sim.falco_wiring import install
from falcotui.sim.scenarios import make_scenario

KUBECTL = Path("/usr/lib/google-cloud-sdk/bin/kubectl.1.32")
FAST = dict(image_pull_delay=0.01, container_start_delay=0.01, ready_delay=0.01, crash_backoff_base=0.05,
            crash_backoff_max=0.5, configmap_propagation_delay=0.05)  # fmt: skip
FALCO_YAML = (
    "config_files: [/etc/falco/config.d]\nrules_files: [/etc/falco/falco_rules.yaml, /etc/falco/rules.d]\n"
)
GOOD = """\
- rule: Shell in payments pod
  desc: a shell ran in the payments namespace
  condition: spawned_process and container and k8s.ns.name = payments and proc.name in (shell_binaries)
  output: Shell in payments (user=%user.name pod=%k8s.pod.name)
  priority: ERROR
"""
BROKEN = GOOD.replace("in (shell_binaries)", "in (shell_binaries) and")


class Env:
    def __init__(self, shared_data: Path, tmp: Path) -> None:
        self.default_rules = (shared_data / "falco_rules.yaml").read_text()
        self.runtime = FalcoRuntime(make_scenario("quiet", seed=1), default_rules=self.default_rules)
        self.cluster = SimCluster(
            SimConfig(nodes=1, control_plane_nodes=0, **FAST),  # type: ignore[arg-type]
            runtime_for_image=self.runtime.runtime_for_image,
            on_start=[lambda c: install(c.server, c.store, c.controllers, self.runtime)],
        ).start()
        self.api = k8s_config.new_client_from_config(config_file=str(self.cluster.kubeconfig_path))
        self.core = k8s.CoreV1Api(self.api)
        self.cache = tmp / "kubectl-cache"
        self.core.create_namespace({"metadata": {"name": "falco"}})
        for name, key, text in (
            ("falco-config", "falco.yaml", FALCO_YAML),
            ("falco-rules", "custom-rules.yaml", GOOD),
        ):
            self.core.create_namespaced_config_map("falco", {"metadata": {"name": name}, "data": {key: text}})
        container = {
            "name": "falco",
            "image": "falcosecurity/falco:0.45.0",
            "args": ["/usr/bin/falco", "-c", "/etc/falco-config/falco.yaml"],
            "volumeMounts": [
                {"name": "config", "mountPath": "/etc/falco-config"},
                {"name": "rules", "mountPath": "/etc/falco/rules.d"},
            ],
        }
        volumes = [
            {"name": "config", "configMap": {"name": "falco-config"}},
            {"name": "rules", "configMap": {"name": "falco-rules"}},
        ]
        k8s.AppsV1Api(self.api).create_namespaced_daemon_set("falco", {
            "metadata": {"name": "falco"},
            "spec": {"selector": {"matchLabels": {"app": "falco"}}, "template": {
                "metadata": {"labels": {"app": "falco"}},
                "spec": {"containers": [container], "volumes": volumes}}},
        })  # fmt: skip
        self.pod = self.wait(self._ready_pod, "the Falco pod ready")

    def _ready_pod(self) -> str | None:
        for p in self.core.list_namespaced_pod("falco").items:
            if p.status.container_statuses and p.status.container_statuses[0].ready:
                return p.metadata.name
        return None

    def wait(self, predicate, what: str, timeout: float = 60.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")

    def exec(self, *command: str) -> str:
        return stream(self.core.connect_get_namespaced_pod_exec, self.pod, "falco", command=list(command),
                      stderr=True, stdin=False, stdout=True, tty=False)  # fmt: skip

    def kubectl(self, *args: str) -> subprocess.CompletedProcess:
        if not KUBECTL.exists():
            pytest.skip(f"{KUBECTL} is not installed")
        cmd = [
            str(KUBECTL),
            "--kubeconfig",
            str(self.cluster.kubeconfig_path),
            "--cache-dir",
            str(self.cache),
            *args,
        ]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60)

    def close(self) -> None:
        self.api.close()
        self.cluster.stop()


@pytest.fixture
def env(shared_data: Path, tmp_path: Path) -> Iterator[Env]:
    e = Env(shared_data, tmp_path)
    yield e
    e.close()


def test_cat_returns_the_images_default_rules_and_mounted_files(env: Env) -> None:
    assert env.exec("cat", "/etc/falco/falco_rules.yaml") == env.default_rules
    assert env.exec("cat", "/etc/falco/rules.d/custom-rules.yaml") == GOOD
    assert env.exec("ls", "/etc/falco/rules.d") == "custom-rules.yaml\n"


def test_kubectl_exec_reports_the_exit_code_and_stderr(env: Env) -> None:
    ok = env.kubectl("exec", "-n", "falco", env.pod, "--", "cat", "/etc/falco-config/falco.yaml")
    assert ok.returncode == 0 and ok.stdout == FALCO_YAML, ok.stderr
    bad = env.kubectl("exec", "-n", "falco", env.pod, "--", "cat", "/etc/shadow")
    assert bad.returncode == 1
    assert "cat: /etc/shadow: No such file or directory" in bad.stderr
    assert "command terminated with exit code 1" in bad.stderr
    version = env.kubectl("exec", "-n", "falco", env.pod, "--", "falco", "--version")
    assert version.returncode == 0 and version.stdout.startswith("Falco version: 0.45.0\n")


def test_falco_validate_reports_a_broken_rule_in_text_and_json(env: Env) -> None:
    current = env.core.read_namespaced_config_map("falco-rules", "falco")
    current.data = {"custom-rules.yaml": BROKEN}
    env.core.replace_namespaced_config_map("falco-rules", "falco", current)
    env.wait(
        lambda: env.exec("cat", "/etc/falco/rules.d/custom-rules.yaml") == BROKEN, "the new rules mounted"
    )
    files = ["-V", "/etc/falco/falco_rules.yaml", "-V", "/etc/falco/rules.d/custom-rules.yaml"]
    text = env.kubectl("exec", "-n", "falco", env.pod, "--", "falco", *files)
    assert text.returncode == 1
    assert "/etc/falco/rules.d/custom-rules.yaml: Invalid\n1 Errors:\n" in text.stdout
    assert "LOAD_ERR_COMPILE_CONDITION (Error compiling condition): " in text.stdout
    raw = env.kubectl("exec", "-n", "falco", env.pod, "--", "falco", *files, "-o", "json_output=true")
    results = orjson.loads(raw.stdout)["falco_load_results"]
    assert [(r["name"], r["successful"]) for r in results] == [
        ("/etc/falco/falco_rules.yaml", True),
        ("/etc/falco/rules.d/custom-rules.yaml", False),
    ]
    assert results[1]["errors"][0]["code"] == "LOAD_ERR_COMPILE_CONDITION"
    # the running Falco refused the same rules and kept going
    assert env.core.read_namespaced_pod(env.pod, "falco").status.container_statuses[0].restart_count == 0


async def test_v4_websocket_channels_and_status(env: Env) -> None:
    url = f"{env.cluster.url}/api/v1/namespaces/falco/pods/{env.pod}/exec"
    params = [("command", "cat"), ("command", "/nope"), ("stdout", "true"), ("stderr", "true")]
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url, params=params, protocols=["v4.channel.k8s.io"]) as ws:
            assert ws.protocol == "v4.channel.k8s.io"
            frames = [msg.data async for msg in ws]
        async with session.get(url, params=params) as plain:
            assert plain.status == 400
            assert (await plain.json())["message"] == "Upgrade request required"
    by_channel = {f[0]: f[1:] for f in frames}
    assert by_channel[2] == b"cat: /nope: No such file or directory\n"
    status = orjson.loads(by_channel[3])
    assert status["status"] == "Failure" and status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "1"}]
