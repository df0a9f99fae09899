"""Simulated Falco pods in a simulated cluster, read through `pods/log` by the real kubectl 1.32 and the
official client: startup lines then alerts, timestamps/since-time, restarts and --previous, flaky cuts."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable

import orjson
import pytest
from kubernetes import client as k8s
from kubernetes.client.rest import ApiException

from falcotui.falco.alerts import parse_iso8601_ns
from falcotui.falco.image import image_plugin_settings
from falcotui.sim.falco.runtime import FalcoRuntime
from falcotui.sim.scenarios import Scenario, make_scenario

FALCO_YAML = """\
config_files: [/etc/falco/config.d]
watch_config_files: true
rules_files: [/etc/falco/falco_rules.yaml, /etc/falco/rules.d]
json_output: true
json_include_output_fields_property: true
""" + image_plugin_settings("main-2026-07-31")  # ours replaces the image's falco.yaml
CUSTOM = """\
- rule: Shell in payments pod
  desc: a shell ran in the payments namespace
  condition: spawned_process and container and k8s.ns.name = payments and proc.name in (shell_binaries)
  output: Shell in payments (user=%user.name pod=%k8s.pod.name cmd=%proc.cmdline)
  priority: ERROR
"""
BROKEN = CUSTOM.replace("proc.name in (shell_binaries)", "proc.name in (shell_binaries) or")


class FalcoSim:
    """A running simulated cluster with Falco deployed as a DaemonSet, plus clients for it."""

    def __init__(self, fc, rules: str = CUSTOM, falco_yaml: str = FALCO_YAML) -> None:
        """`fc` is a cluster the conftest's `falco_cluster` fixture started."""
        self.fc, self.runtime, self.cluster, self.core = fc, fc.runtime, fc.cluster, fc.core
        self.nodes, self.wait = fc.nodes, fc.wait
        self.core.create_namespaced_config_map("falco", cm("falco-config", {"falco.yaml": falco_yaml}))
        self.core.create_namespaced_config_map("falco", cm("falco-rules", {"custom-rules.yaml": rules}))
        k8s.AppsV1Api(fc.api).create_namespaced_daemon_set("falco", DAEMONSET)

    def pods(self) -> list[k8s.V1Pod]:
        return self.core.list_namespaced_pod("falco").items

    def running_pods(self) -> list[k8s.V1Pod]:
        def ready() -> list[k8s.V1Pod] | None:
            ok = self.fc.ready_pods()
            return ok if len(ok) == self.nodes else None

        return self.wait(ready, "every Falco pod ready")

    def log(self, pod: str, **kw) -> str:
        return self.core.read_namespaced_pod_log(pod, "falco", **kw)

    def kubectl(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run(self.fc.kubectl_command(*args), capture_output=True, text=True, timeout=timeout)

    def kubectl_follow(self, *args: str) -> subprocess.Popen:
        cmd = self.fc.kubectl_command(*args)
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def set_rules(self, text: str) -> None:
        current = self.core.read_namespaced_config_map("falco-rules", "falco")
        current.data = {"custom-rules.yaml": text}
        self.core.replace_namespaced_config_map("falco-rules", "falco", current)

    def kill_falco(self, pod: str) -> None:
        """The container's process dies (as if OOM-killed); the kubelet restarts it."""
        handle = self.runtime.find("falco", pod)
        assert handle is not None
        self.cluster.call(handle.stop)


def cm(name: str, data: dict[str, str]) -> dict:
    return {"metadata": {"name": name, "namespace": "falco"}, "data": data}


DAEMONSET = {
    "metadata": {"name": "falco", "namespace": "falco"},
    "spec": {
        "selector": {"matchLabels": {"app": "falco"}},
        "template": {
            "metadata": {"labels": {"app": "falco"}},
            "spec": {
                "containers": [{
                    "name": "falco",
                    "image": "falcosecurity/falco:0.45.0",
                    "args": ["/usr/bin/falco", "-c", "/etc/falco-config/falco.yaml"],
                    "env": [{"name": "FALCO_HOSTNAME",
                             "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
                    "volumeMounts": [
                        {"name": "config", "mountPath": "/etc/falco-config"},
                        {"name": "rules", "mountPath": "/etc/falco/rules.d"},
                    ],
                }],
                "volumes": [
                    {"name": "config", "configMap": {"name": "falco-config"}},
                    {"name": "rules", "configMap": {"name": "falco-rules"}},
                ],
            },
        },
    },
}  # fmt: skip


@pytest.fixture
def falco_sim(falco_cluster) -> Callable[..., FalcoSim]:
    def make(
        scenario: Scenario | None = None, *, nodes: int = 2, rules: str = CUSTOM, falco_yaml: str = FALCO_YAML
    ) -> FalcoSim:
        runtime = FalcoRuntime(scenario or make_scenario("storm", rate=20, seed=1), tick=0.02)
        return FalcoSim(falco_cluster(runtime, nodes=nodes), rules, falco_yaml)

    return make


def stamp_and_text(line: str) -> tuple[str, str]:
    stamp, _, text = line.partition(" ")
    return stamp, text


def test_kubectl_logs_follow_shows_startup_then_alerts(falco_sim) -> None:
    sim = falco_sim()
    pod = sim.running_pods()[0]
    proc = sim.kubectl_follow("logs", "-f", "-n", "falco", pod.metadata.name)
    lines: list[str] = []
    watchdog = threading.Timer(30, proc.kill)  # ends the read below if alerts never come
    watchdog.start()
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if sum(1 for x in lines if x.startswith("{")) >= 5:
                break
    finally:
        watchdog.cancel()
        proc.kill()
        proc.wait()
    first_alert = next(i for i, x in enumerate(lines) if x.startswith("{"))
    startup = [x.split(": ", 1)[1] for x in lines[:first_alert]]
    assert startup[0] == "Falco version: 0.45.0 (x86_64)"
    assert "   /etc/falco/rules.d/custom-rules.yaml | schema validation: ok" in startup
    assert f"Hostname value has been overridden via environment variable to: {pod.spec.node_name}" in startup
    assert startup[-1] == "Starting health webserver with threadiness 2, listening on 0.0.0.0:8765"
    for x in lines[first_alert:]:
        doc = orjson.loads(x)
        assert doc["hostname"] == pod.spec.node_name and isinstance(doc["output_fields"]["evt.time"], int)


def test_timestamps_and_since_time_resume_where_asked(falco_sim) -> None:
    sim = falco_sim()
    pod = sim.running_pods()[0].metadata.name

    def two_seconds() -> bool:
        stamps = [x[:19] for x in sim.log(pod, timestamps=True).splitlines()]
        return len(set(stamps)) >= 3

    sim.wait(two_seconds, "log lines spread over three seconds")
    full = sim.kubectl("logs", "-n", "falco", pod, "--timestamps")
    assert full.returncode == 0, full.stderr
    rows = [stamp_and_text(x) for x in full.stdout.splitlines()]
    for stamp, _ in rows:
        assert len(stamp) == 30 and stamp[19] == "." and stamp.endswith("Z"), stamp
    # resume from the second of a line in the middle: every line from that second on, none before
    seconds = sorted({stamp[:19] for stamp, _ in rows})
    since = seconds[1] + "Z"
    part = sim.kubectl("logs", "-n", "falco", pod, "--timestamps", f"--since-time={since}")
    assert part.returncode == 0, part.stderr
    got = [stamp_and_text(x) for x in part.stdout.splitlines()]
    since_ns = parse_iso8601_ns(since)
    expected = [r for r in rows if parse_iso8601_ns(r[0]) >= since_ns]
    assert len(expected) < len(rows)
    assert got[: len(expected)] == expected
    # the last three lines are newer than everything read above once Falco has written three more
    newer = lambda: [x for x in sim.log(pod, timestamps=True).splitlines() if x[:30] > rows[-1][0]]  # noqa: E731
    sim.wait(lambda: len(newer()) >= 3, "three more log lines")
    tail = sim.kubectl("logs", "-n", "falco", pod, "--tail=3", "--timestamps")
    last = [stamp_and_text(x) for x in tail.stdout.splitlines()]
    assert len(last) == 3 and all(stamp >= rows[-1][0] for stamp, _ in last)


def test_restart_ends_the_follow_stream_and_previous_shows_the_old_log(falco_sim) -> None:
    sim = falco_sim()
    pod = sim.running_pods()[0].metadata.name
    sim.wait(lambda: sim.log(pod).count("\n{") >= 3, "alerts")
    proc = sim.kubectl_follow("logs", "-f", "-n", "falco", pod)
    assert proc.stdout is not None
    watchdog = threading.Timer(30, proc.kill)  # only fires if the stream failed to end by itself
    watchdog.start()
    first = proc.stdout.readline()  # kubectl is following the current instance now
    sim.kill_falco(pod)
    rest = proc.stdout.read()
    watchdog.cancel()
    assert proc.wait() == 0
    old = (first + rest).splitlines()
    assert old[0].endswith("Falco version: 0.45.0 (x86_64)")

    def restarted() -> bool:
        cs = sim.core.read_namespaced_pod(pod, "falco").status.container_statuses[0]
        return cs.restart_count == 1 and cs.ready

    sim.wait(restarted, "the container restarted")
    previous = sim.kubectl("logs", "-n", "falco", pod, "--previous")
    assert previous.returncode == 0, previous.stderr
    assert previous.stdout.splitlines()[: len(old)] == old
    current = sim.log(pod)
    assert current.splitlines()[0].endswith("Falco version: 0.45.0 (x86_64)")
    assert old[-1] not in current


def test_official_client_options_and_errors(falco_sim) -> None:
    sim = falco_sim()
    pod = sim.running_pods()[0].metadata.name
    sim.wait(lambda: sim.log(pod).count("\n{") >= 10, "alerts")
    assert len(sim.log(pod, tail_lines=4).splitlines()) == 4
    assert len(sim.log(pod, limit_bytes=100).encode()) == 100
    assert sim.log(pod, since_seconds=3600).startswith(sim.log(pod).splitlines()[0])
    with pytest.raises(ApiException) as err:
        sim.log(pod, previous=True)
    assert err.value.status == 400
    assert orjson.loads(err.value.body)["message"] == (
        f'previous terminated container "falco" in pod "{pod}" not found'
    )
    with pytest.raises(ApiException) as err:
        sim.log("falco-nope")
    assert err.value.status == 404
    with pytest.raises(ApiException) as err:
        sim.log(pod, container="sidecar")
    assert err.value.status == 400


def test_flaky_scenario_cuts_follow_streams_while_the_container_keeps_running(falco_sim) -> None:
    sim = falco_sim(make_scenario("flaky", seed=2, cut_every=0.5, per_minute=600), nodes=1)
    pod = sim.running_pods()[0].metadata.name
    proc = sim.kubectl_follow("logs", "-f", "-n", "falco", pod)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out.splitlines()[0].endswith("Falco version: 0.45.0 (x86_64)")
    cs = sim.core.read_namespaced_pod(pod, "falco").status.container_statuses[0]
    assert cs.restart_count == 0 and cs.state.running is not None


def test_valid_rules_pushed_to_the_configmap_reload_every_pod(falco_sim) -> None:
    sim = falco_sim(nodes=3)
    pods = [p.metadata.name for p in sim.running_pods()]
    sim.set_rules(CUSTOM.replace("priority: ERROR", "priority: CRITICAL"))
    for pod in pods:
        sim.wait(lambda pod=pod: "SIGHUP received, restarting..." in sim.log(pod), f"{pod} reloading")
        after = sim.log(pod).split("SIGHUP received, restarting...", 1)[1]
        assert "Falco version: 0.45.0 (x86_64)" in after
        assert "/etc/falco/rules.d/custom-rules.yaml | schema validation: ok" in after


def test_invalid_rules_keep_pods_running_with_the_hot_restart_failure_alert(falco_sim) -> None:
    sim = falco_sim(nodes=2)
    pods = [p.metadata.name for p in sim.running_pods()]
    sim.set_rules(BROKEN)

    def failure(pod: str) -> dict | None:
        for line in sim.log(pod).splitlines():
            if line.startswith("{") and '"source":"internal"' in line:
                return orjson.loads(line)
        return None

    for pod in pods:
        doc = sim.wait(lambda pod=pod: failure(pod), f"{pod} refusing the rules")
        assert doc["rule"] == "Falco internal: hot restart failure" and doc["priority"] == "Critical"
        assert "/etc/falco/rules.d/custom-rules.yaml: Invalid" in doc["output"]
        assert "SIGHUP received" not in sim.log(pod)
    for p in sim.pods():
        cs = p.status.container_statuses[0]
        assert p.status.phase == "Running" and cs.ready and cs.restart_count == 0


def test_recreated_pods_with_invalid_rules_crash_loop(falco_sim) -> None:
    sim = falco_sim(nodes=2)
    old = {p.metadata.name for p in sim.running_pods()}
    sim.set_rules(BROKEN)
    sim.core.delete_collection_namespaced_pod("falco")

    def crash_looping() -> list[k8s.V1Pod] | None:
        pods = [p for p in sim.pods() if p.metadata.name not in old]
        waiting = [
            p for p in pods
            if p.status.container_statuses
            and p.status.container_statuses[0].state.waiting is not None
            and p.status.container_statuses[0].state.waiting.reason == "CrashLoopBackOff"
        ]  # fmt: skip
        return waiting if len(waiting) == 2 else None

    for pod in sim.wait(crash_looping, "CrashLoopBackOff on both nodes"):
        cs = pod.status.container_statuses[0]
        assert cs.last_state.terminated.exit_code == 1
        text = sim.log(pod.metadata.name, previous=True)  # a finished attempt (back-off is short here)
        assert "Error: /etc/falco/rules.d/custom-rules.yaml: Invalid" in text
        assert "LOAD_ERR_COMPILE_CONDITION" in text


def test_logs_of_a_pod_that_cannot_pull_its_image(falco_sim) -> None:
    sim = falco_sim(nodes=1)
    node = sim.running_pods()[0].spec.node_name
    sim.core.create_namespaced_pod("falco", {
        "metadata": {"name": "falco-typo"},
        "spec": {"nodeName": node, "containers": [{"name": "falco", "image": "falcosecurity/falco:0.99.0"}]},
    })  # fmt: skip

    def pull_failing() -> bool:
        statuses = sim.core.read_namespaced_pod("falco-typo", "falco").status.container_statuses or []
        return (
            bool(statuses)
            and statuses[0].state.waiting is not None
            and (statuses[0].state.waiting.reason == "ImagePullBackOff")
        )

    sim.wait(pull_failing, "ImagePullBackOff")
    out = sim.kubectl("logs", "-n", "falco", "falco-typo")
    assert out.returncode == 1
    prefix = 'Error from server (BadRequest): container "falco" in pod "falco-typo" is waiting to start: '
    # the pod alternates between ErrImagePull and ImagePullBackOff; the kubelet words each its own way
    wordings = (f"{prefix}trying and failing to pull image", f"{prefix}image can't be pulled")
    assert out.stderr.strip() in wordings


def test_a_falco_yaml_without_the_plugin_definition_crash_loops_with_falcos_error(falco_sim) -> None:
    # What the old manifests did: a falco.yaml replacing the image's, keeping config.d (whose drop-in says
    # load_plugins: [container]) but not the image's `plugins:` entry (configuration.cpp load_yaml).
    without = FALCO_YAML.split("plugins:")[0]
    assert "config_files: [/etc/falco/config.d]" in without and "plugins" not in without
    sim = falco_sim(nodes=1, falco_yaml=without)

    def crash_looping() -> k8s.V1Pod | None:
        for p in sim.pods():
            statuses = p.status.container_statuses or []
            if (
                statuses
                and statuses[0].state.waiting
                and statuses[0].state.waiting.reason == "CrashLoopBackOff"
            ):
                return p
        return None

    pod = sim.wait(crash_looping, "CrashLoopBackOff")
    assert pod.status.container_statuses[0].last_state.terminated.exit_code == 1
    text = sim.log(pod.metadata.name, previous=True)
    assert text.splitlines() == [
        "Error: Cannot load plugin 'container': plugin config not found for given name"
    ]
