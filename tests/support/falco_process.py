"""Helpers for the tests of the simulated Falco process on its own, no cluster (tests/sim/
test_falco_runtime.py, test_falco_reload.py): the falco.yaml falcotui's manifests mount, a custom and a
broken rules file, a container context, and reading what the process wrote (startup lines without their
timestamps, JSON alerts).
The `storm_runtime` fixture is in tests/sim/conftest.py.
"""

from __future__ import annotations

import asyncio
import re
import time

import orjson

from falcotui.sim.falco.process import FalcoContainer
from falcotui.sim.falco.runtime import FalcoRuntime
from falcotui.sim.nodes.runtime import ContainerContext, ContainerLog

# logger.cpp: `%a %b %d %H:%M:%S %Y`, or `%FT%T%z` with time_format_iso_8601 (the image's config.d sets it)
LOG_TIME = re.compile(
    r"^(?:[A-Z][a-z]{2} [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d \d{4}|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000): "
)
# What falcotui's manifests mount: a falco.yaml replacing the image's, so it carries the container plugin's
# definition and suggested output itself (the image's config.d drop-in only says `load_plugins: [container]`).
CONFIG = """\
config_files: [/etc/falco/config.d]
plugins:
  - name: container
    library_path: libcontainer.so
    init_config: {label_max_len: 100, with_size: false}
append_output:
  - suggested_output: true
watch_config_files: true
rules_files: [/etc/falco/falco_rules.yaml, /etc/falco/rules.d]
json_output: true
json_include_output_property: true
json_include_tags_property: true
json_include_output_fields_property: true
stdout_output: {enabled: true}
webserver: {enabled: true, threadiness: 0, listen_port: 8765, listen_address: 0.0.0.0}
"""
CUSTOM = """\
- rule: Shell in payments pod
  desc: a shell ran in the payments namespace
  condition: spawned_process and container and k8s.ns.name = payments and proc.name in (shell_binaries)
  output: Shell in payments (user=%user.name pod=%k8s.pod.name cmd=%proc.cmdline)
  priority: ERROR
  tags: [payments, shell]
"""
BROKEN = """\
- rule: Suspicious shell in container
  desc: broken on purpose
  condition: container and proc.name = sh or
  output: shell %proc.name
  priority: WARNING
"""


def ctx(files: dict[str, str], *, image: str = "falcosecurity/falco:0.45.0", args: list[str] | None = None,
        node: str = "node-a", restart_count: int = 0) -> ContainerContext:  # fmt: skip
    return ContainerContext(
        namespace="falco",
        pod_name="falco-x7k2p",
        pod_uid="uid-1",
        node_name=node,
        node_ip="127.0.0.2",
        container_name="falco",
        image=image,
        args=args if args is not None else ["/usr/bin/falco", "-c", "/etc/falco-config/falco.yaml"],
        env={"FALCO_HOSTNAME": node},
        files=files,
        host_network=False,
        restart_count=restart_count,
        log=ContainerLog(),
    )


def base_files(**extra: str) -> dict[str, str]:
    return {"/etc/falco-config/falco.yaml": CONFIG, **extra}


async def until(predicate, what: str, timeout: float = 30.0) -> None:
    # A deadline, not a timed assert: a loaded 2-core CI box may take many seconds to boot a Falco.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def stderr(log: ContainerLog) -> list[str]:
    return [LOG_TIME.sub("", r.text) for r in log.records() if r.stream == "stderr"]


def alerts(log: ContainerLog) -> list[dict]:
    return [orjson.loads(r.text) for r in log.records() if r.stream == "stdout" and r.text.startswith("{")]


async def start(rt: FalcoRuntime, c: ContainerContext) -> FalcoContainer:
    handle = await rt.start(c)
    return handle
