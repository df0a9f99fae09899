"""What a simulated Falco can see of the node it runs on: whether modern_ebpf may attach its tracepoints
(`kernel.perf_event_paranoid` against the container's capabilities) and which container runtime sockets the
container plugin reaches through the pod's hostPath mounts.

Every rule here names the upstream fact it rests on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from falcotui.sim.config import NodeSpec
from falcotui.sim.falco.config import FalcoConfig
from falcotui.sim.nodes.runtime import ContainerContext

# falcosecurity/charts#921 (Falco 0.42.0, chart 7.0.0, Ubuntu 22.04, capabilities BPF SYS_RESOURCE PERFMON
# SYS_PTRACE), verbatim: libs PR 2581 made modern_ebpf attach TOCTOU-mitigation programs to the
# `syscalls/sys_enter_*` tracepoints (libs userspace/libpman/src/sc_set.c, programs.c), which libbpf does with
# perf_event_open(); Debian/Ubuntu kernels refuse that without CAP_SYS_ADMIN when perf_event_paranoid > 2
# (`if (perf_paranoid_any() && !capable(CAP_SYS_ADMIN)) return -EACCES;`, quoted in falcosecurity/falco#2487
# and falco-website#1015). `connect` is the first TOCTOU program pman_enforce_sc_set attaches.
PERF_EVENT_DENIED_LINES = (
    "[libs]: libbpf: tracepoint 'syscalls/sys_enter_connect' perf_event_open() failed: Permission denied",
    "[libs]: libbpf: prog 'connect_e': failed to create tracepoint 'syscalls/sys_enter_connect' perf event: "
    "Permission denied",
)
# Falco then exits: sinsp::start_capture() throws sinsp_exception(scap_getlasterr()) (libs
# userspace/libsinsp/sinsp.cpp), process_events turns it into a fatal result and falco.cpp prints
# `Error: <what>` and returns EXIT_FAILURE. scap_modern_bpf__start_capture returns pman_enforce_sc_set's errno
# without writing the engine's last-error buffer, so <what> is empty as far as the source shows (charts#921
# quotes only the two libbpf lines above).
PERF_EVENT_DENIED_ERROR = ""
PARANOID_NEEDS_SYS_ADMIN = 2  # perf_paranoid_any(): sysctl_perf_event_paranoid > 2

# The container plugin's default sockets when `init_config.engines` names none (the image's falco.yaml says
# "We use default config values for "engines" key"): falcosecurity/plugins plugins/container/src/
# plugin_config.cpp (and its README, "By default, all engines are enabled on default sockets"). Each is
# looked up under $HOST_ROOT (plugin_config.h, `host_root + socket`).
DEFAULT_ENGINE_SOCKETS: dict[str, tuple[str, ...]] = {
    "docker": ("/var/run/docker.sock",),
    "podman": ("/run/podman/podman.sock",),
    "cri": (
        "/run/containerd/containerd.sock",
        "/run/crio/crio.sock",
        "/run/k3s/containerd/containerd.sock",
        "/run/host-containerd/containerd.sock",
    ),
    "containerd": ("/run/host-containerd/containerd.sock",),
}


def _capabilities(security: Mapping) -> set[str]:
    caps = security.get("capabilities") if isinstance(security.get("capabilities"), Mapping) else {}
    return {str(c).upper().removeprefix("CAP_") for c in (caps or {}).get("add") or []}


def perf_event_denied(ctx: ContainerContext, cfg: FalcoConfig) -> bool:
    """Would modern_ebpf's tracepoint attach fail with EACCES on this node (see PERF_EVENT_DENIED_LINES)?"""
    node = ctx.node
    if node is None or node.perf_event_paranoid <= PARANOID_NEEDS_SYS_ADMIN:
        return False
    if str(cfg.get("engine.kind", "modern_ebpf")) != "modern_ebpf":
        return False  # the kmod engine does not use perf_event_open (only modern_ebpf is simulated)
    security = ctx.security
    return not security.get("privileged") and "SYS_ADMIN" not in _capabilities(security)


def _norm(path: str) -> str:
    # /var/run is a symlink to /run on current distributions (FHS 3.0, systemd's tmpfiles.d/var.conf).
    return "/run" + path[len("/var/run") :] if path == "/var/run" or path.startswith("/var/run/") else path


def _engine_sockets(cfg: FalcoConfig) -> list[str]:
    """Sockets the container plugin would try: its init_config's `engines` or the defaults above."""
    plugins = cfg.get("plugins") or []
    init: object = {}
    for p in plugins if isinstance(plugins, list) else []:
        if isinstance(p, Mapping) and p.get("name") == "container":
            init = p.get("init_config") or {}
    engines = init.get("engines") if isinstance(init, Mapping) else None
    engines = engines if isinstance(engines, Mapping) else {}
    out: list[str] = []
    for name, defaults in DEFAULT_ENGINE_SOCKETS.items():
        conf = engines.get(name) if isinstance(engines.get(name), Mapping) else {}
        if conf.get("enabled", True) is False:
            continue
        sockets = conf.get("sockets") or defaults
        out.extend(str(s) for s in sockets if isinstance(s, str))
    return out


def _host_path(container_path: str, host_paths: Mapping[str, str]) -> str | None:
    """Where a path inside the container lives on the host, through the longest matching hostPath mount."""
    best: tuple[int, str] | None = None
    for mount, host in host_paths.items():
        if container_path == mount or container_path.startswith(mount.rstrip("/") + "/"):
            if best is None or len(mount) > best[0]:
                best = (len(mount), host.rstrip("/") + container_path[len(mount.rstrip("/")) :])
    return None if best is None else best[1]


def reachable_sockets(ctx: ContainerContext, cfg: FalcoConfig) -> list[str]:
    """The runtime sockets (paths inside the container) the container plugin can connect to."""
    node = ctx.node or NodeSpec(ctx.node_name)
    present = {_norm(s) for s in node.runtime_sockets}
    host_root = ctx.env.get("HOST_ROOT", "")
    found = []
    for socket in _engine_sockets(cfg):
        inside = host_root + socket
        on_host = _host_path(inside, ctx.host_paths)
        if on_host is not None and _norm(on_host) in present and inside not in found:
            found.append(inside)
    return found


# Without container metadata the container plugin still knows what the kernel gives it (the container id from
# the cgroup, the start time from the pid namespace's init); every other container.* and k8s.* field has no
# value (plugins/container/src/caps/extract/extract.cpp: "Can't return anything but those fields without
# containers metadata"). Falco prints a missing value as `<NA>` in text and null in JSON (libs
# userspace/libsinsp/eventformatter.cpp, s_not_available_str / tojson).
KERNEL_CONTAINER_FIELDS = frozenset(
    {
        "container.id",
        "container.start_ts",
        "container.duration",
        "container.healthcheck",
        "container.liveness_probe",
        "container.readiness_probe",
    }
)


def metadata_fields(names: Iterable[str]) -> list[str]:
    """The fields of `names` that only the container runtime's socket can fill in."""
    return [
        n
        for n in names
        if n.startswith(("container.", "k8s.")) and n.split("[", 1)[0] not in KERNEL_CONTAINER_FIELDS
    ]
