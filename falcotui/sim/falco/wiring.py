"""Plug the simulated Falco into a simulated cluster: the runtime for Falco images and the pod
subresources that reach into it (`log` with the `flaky` cuts, `exec`, `portforward`)."""

from __future__ import annotations

from falcotui.sim.falco.runtime import FalcoRuntime
from falcotui.sim.nodes.pod_exec import make_exec_handler
from falcotui.sim.nodes.pod_logs import make_log_handler
from falcotui.sim.nodes.portforward import make_portforward_handler
from falcotui.sim.scenarios import make_scenario


def runtime_from_config(config) -> FalcoRuntime:
    """A FalcoRuntime for a `SimConfig` (`scenario`, `storm_rate`, `seed`)."""
    return FalcoRuntime(make_scenario(config.scenario, seed=config.seed, rate=config.storm_rate))


def install(server, store, controllers, runtime: FalcoRuntime) -> None:
    """Register `pods/log`, `pods/exec` and `pods/portforward` on a running `ApiServer`."""
    server.add_pod_subresource("log", make_log_handler(store, controllers, runtime.cut_generation))
    server.add_pod_subresource("exec", make_exec_handler(store, controllers))
    server.add_pod_subresource("portforward", make_portforward_handler(store, runtime.port_target))
