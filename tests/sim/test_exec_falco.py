"""`pods/exec` into a simulated Falco pod: `cat` of its files, `falco -V` / `--version`, through the official
client's websocket stream, the real kubectl 1.32 and a raw v4 websocket."""

from __future__ import annotations

import subprocess
from pathlib import Path

import aiohttp
import orjson
import pytest
from kubernetes import client as k8s
from kubernetes.stream import stream

from falcotui.falco.image import image_plugin_settings
from falcotui.sim.falco.runtime import FalcoRuntime
from falcotui.sim.scenarios import make_scenario

# our falco.yaml replaces the image's, so it carries the image's plugin definition and suggested output
FALCO_YAML = (
    "config_files: [/etc/falco/config.d]\nrules_files: [/etc/falco/falco_rules.yaml, /etc/falco/rules.d]\n"
    + image_plugin_settings("main-2026-07-31")
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
    """One simulated Falco 0.45 pod (the quiet scenario, the real default rules) in a simulated cluster."""

    def __init__(self, falco_cluster, shared_data: Path) -> None:
        """`falco_cluster` is the conftest fixture of that name."""
        self.default_rules = (shared_data / "falco_rules.yaml").read_text()
        fc = falco_cluster(FalcoRuntime(make_scenario("quiet", seed=1), default_rules=self.default_rules))
        self.fc, self.cluster, self.core, self.wait = fc, fc.cluster, fc.core, fc.wait
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
        k8s.AppsV1Api(fc.api).create_namespaced_daemon_set("falco", {
            "metadata": {"name": "falco"},
            "spec": {"selector": {"matchLabels": {"app": "falco"}}, "template": {
                "metadata": {"labels": {"app": "falco"}},
                "spec": {"containers": [container], "volumes": volumes}}},
        })  # fmt: skip
        self.pod: str = fc.wait(fc.ready_pods, "the Falco pod ready")[0].metadata.name

    def exec(self, *command: str) -> str:
        return stream(self.core.connect_get_namespaced_pod_exec, self.pod, "falco", command=list(command),
                      stderr=True, stdin=False, stdout=True, tty=False)  # fmt: skip

    def kubectl(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(self.fc.kubectl_command(*args), capture_output=True, text=True, timeout=60)


@pytest.fixture
def env(falco_cluster, shared_data: Path) -> Env:
    return Env(falco_cluster, shared_data)


def test_cat_returns_the_images_default_rules_and_mounted_files(env: Env) -> None:
    assert env.exec("cat", "/etc/falco/falco_rules.yaml") == env.default_rules
    assert env.exec("cat", "/etc/falco/rules.d/custom-rules.yaml") == GOOD
    assert env.exec("ls", "/etc/falco/rules.d") == "custom-rules.yaml\n"


def test_kubectl_exec_reports_the_exit_code_and_stderr(env: Env) -> None:
    ok = env.kubectl("exec", "-n", "falco", env.pod, "--", "cat", "/etc/falco-config/falco.yaml")
    assert ok.returncode == 0 and ok.stdout == FALCO_YAML, ok.stderr
    bad = env.kubectl("exec", "-n", "falco", env.pod, "--", "cat", "/etc/shadow")
    assert bad.returncode == 1
    # busybox cat: open_or_warn -> bb_perror_msg("can't open '%s'") (libbb/xfuncs_printf.c)
    assert "cat: can't open '/etc/shadow': No such file or directory" in bad.stderr
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
    assert by_channel[2] == b"cat: can't open '/nope': No such file or directory\n"
    status = orjson.loads(by_channel[3])
    assert status["status"] == "Failure" and status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "1"}]
