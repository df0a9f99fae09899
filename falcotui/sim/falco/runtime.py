"""The simulated Falco's container runtime: which images are Falco's (`falcosecurity/falco:<tag>`), the
running Falco processes by pod (for exec and port-forward), scenario switches and the counts a bench waits
on. Each process is a `FalcoContainer` (process.py).
"""

from __future__ import annotations

from falcotui.sim.falco.config import FalcoVersion, falco_image_version, image_files
from falcotui.sim.falco.process import FalcoContainer
from falcotui.sim.nodes.runtime import ContainerContext
from falcotui.sim.scenarios import Scenario, make_scenario


class FalcoRuntime:
    """Runs a simulated Falco for every container of a Falco image; other images get None."""

    def __init__(
        self,
        scenario: Scenario | None = None,
        *,
        default_rules: str | None = None,
        tick: float = 0.05,
    ) -> None:
        self.scenario = scenario or make_scenario("quiet")
        self._default_rules = default_rules
        self.tick = tick
        self._containers: dict[tuple[str, str], dict[str, FalcoContainer]] = {}

    def image_files(self, version: FalcoVersion) -> dict[str, str]:
        """/etc/falco of the image that runs `version` (with the test's ruleset, if one was given)."""
        return image_files(version, self._default_rules)

    def handles(self, image: str) -> bool:
        return falco_image_version(image) is not None

    def runtime_for_image(self, image: str) -> FalcoRuntime | None:
        """What `start_controllers(..., runtime_for_image=...)` wants."""
        return self if self.handles(image) else None

    async def start(self, ctx: ContainerContext) -> FalcoContainer:
        version = falco_image_version(ctx.image)
        if version is None:
            raise ValueError(f"not a Falco image: {ctx.image}")
        container = FalcoContainer(self, ctx, version)
        self._containers.setdefault((ctx.namespace, ctx.pod_name), {})[ctx.container_name] = container
        container.start()
        return container

    def find(self, namespace: str, pod: str, container: str | None = None) -> FalcoContainer | None:
        """The running (or last) Falco container of a pod, for exec and port-forward."""
        by_name = self._containers.get((namespace, pod)) or {}
        if container is not None:
            return by_name.get(container)
        return next(iter(by_name.values()), None)

    def port_target(self, namespace: str, pod: str, port: int) -> tuple[str, int] | None:
        """Where a pod's container port really listens (for the port-forward handler)."""
        for c in (self._containers.get((namespace, pod)) or {}).values():
            target = c.port_target(port)
            if target is not None:
                return target
        return None

    def set_scenario(self, scenario: Scenario) -> None:
        """Switch every running Falco to another scenario from now on (call on the cluster's loop)."""
        self.scenario = scenario
        for by_name in self._containers.values():
            for container in by_name.values():
                container.scenario_changed()

    def running(self) -> int:
        """How many Falco containers are up and ready (a bench waits for all of them)."""
        return sum(c.ready() for by_name in self._containers.values() for c in by_name.values())

    def alerts_emitted(self) -> int:
        """Alerts the running Falco containers have printed or published since they started."""
        return sum(c.alerts_emitted for by_name in self._containers.values() for c in by_name.values())

    def cut_generation(self, namespace: str, pod: str) -> int:
        """Bumped by the `flaky` scenario whenever this pod's streams should be cut."""
        return sum(c.cut_generation for c in (self._containers.get((namespace, pod)) or {}).values())

    def forget(self, container: FalcoContainer) -> None:
        """Drop an exited container (its `_finish` calls this)."""
        key = (container.ctx.namespace, container.ctx.pod_name)
        by_name = self._containers.get(key)
        if by_name and by_name.get(container.ctx.container_name) is container:
            del by_name[container.ctx.container_name]
            if not by_name:
                del self._containers[key]
