"""Settings of one simulated cluster: size, timings, registry contents, faults."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class NodeSpec:
    name: str
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[dict] = field(default_factory=list)  # [{"key","value","effect"}]
    control_plane: bool = False
    # What a real node has that its Node object does not show (falcotui can only learn it from Falco's log):
    # `sysctl kernel.perf_event_paranoid`. Mainline Linux defaults to 2; Debian/Ubuntu patch in higher levels
    # and Ubuntu defaults to 4, where perf_event_open() needs CAP_SYS_ADMIN (falcosecurity/charts#921,
    # falcosecurity/falco#2487). 2 here so the least-privilege manifests start, as on most distributions.
    perf_event_paranoid: int = 2
    # Container runtime sockets present on the host (absolute host paths). kubeadm nodes run containerd at
    # /run/containerd/containerd.sock (the first default of the container plugin's `cri` engine,
    # falcosecurity/plugins plugins/container/src/plugin_config.cpp). Empty: no socket Falco can reach.
    runtime_sockets: tuple[str, ...] = ("/run/containerd/containerd.sock",)
    # How far this node's clock is ahead of the true time, in seconds (NTP drift; negative: behind). It skews
    # what the node's processes write (Falco's own log timestamps, alert times), never what the kubelet or
    # the API server stamp.
    clock_offset: float = 0.0
    # The node's operating system: "linux" or "windows". The kubelet labels its node kubernetes.io/os with
    # its GOOS (kubernetes/kubernetes pkg/kubelet/kubelet_node_status.go, initialNode), and a Windows
    # node's container runtime can only run Windows images (see kubelet_status.pull_failure).
    os: str = "linux"


#: A GPU node as the NVIDIA GPU Operator / cloud GPU pools taint it, so only pods that ask for GPUs land
#: there (GKE: "nvidia.com/gpu=present:NoSchedule", cloud.google.com/kubernetes-engine/docs/how-to/gpus;
#: AKS/EKS document the same key). A DaemonSet without a matching toleration gets no pod on it: the
#: DaemonSet controller respects NoSchedule/NoExecute taints (kubernetes.io/docs/concepts/workloads/
#: controllers/daemonset/#taints-and-tolerations) and only adds the tolerations listed in scheduling.py.
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
#: Nodes reserved for critical add-ons (EKS/AKS system pools, and the rescheduler's old convention).
CRITICAL_ADDONS_TAINT = {"key": "CriticalAddonsOnly", "value": "true", "effect": "NoSchedule"}


@dataclass(frozen=True, slots=True)
class AdmissionRule:
    """An admission policy that refuses to create pods (in `namespace`, or every namespace when None).

    `kind` says which admission stage refuses and so how the API server words it (sim/admission.py):
    "webhook" (a validating webhook such as Kyverno, Gatekeeper or GKE Autopilot's Warden, named by
    `webhook`), "scc" (OpenShift's SecurityContextConstraints) or "quota" (critical priority classes
    limited to namespaces with a ResourceQuota covering them, as GKE ships it: falcotui's own
    20-resourcequota.yaml covers them, so that rule bites only where the quota is missing). `detail` is the
    policy's own explanation, quoted after the prefix its kind gets.
    """

    kind: str
    detail: str
    webhook: str = ""
    namespace: str | None = None


@dataclass(slots=True)
class SimConfig:
    nodes: int = 3
    extra_nodes: list[NodeSpec] = field(default_factory=list)  # appended after the generated ones
    control_plane_nodes: int = 1  # the first N generated nodes carry the control-plane taint
    seed: int = 0
    tls: bool = False
    token: str | None = None  # bearer token required when set (sent by kubectl only over TLS)
    host: str = "127.0.0.1"
    server_version: str | None = None  # what /version reports, e.g. "v1.29.10" (default v1.32.4)
    port: int = 0
    # kubelet timings, seconds
    image_pull_delay: float = 0.05
    container_start_delay: float = 0.05
    ready_delay: float = 0.05
    crash_backoff_base: float = 0.2  # doubles per restart, capped at crash_backoff_max
    crash_backoff_max: float = 5.0
    configmap_propagation_delay: float = 0.3
    # plus a uniform random 0..jitter per change and node (real clusters: 60 + 0..60 s, see Kubelet)
    configmap_propagation_jitter: float = 0.0
    # container log rotation: the kubelet's containerLogMaxSize (10Mi) and containerLogMaxFiles (5) defaults
    container_log_max_size: int = 10 * 1024 * 1024
    container_log_max_files: int = 5
    container_log_monitor_interval: float = 10.0  # containerLogMonitorInterval: how often sizes are looked at
    # registry: repository -> tags that exist; any other tag fails to pull
    registry: dict[str, set[str]] = field(
        default_factory=lambda: {
            "falcosecurity/falco": {"0.43.1", "0.44.0", "0.44.1", "0.45.0"},
            "docker.io/falcosecurity/falco": {"0.43.1", "0.44.0", "0.44.1", "0.45.0"},
        }
    )
    # admission policies that refuse pods (checked on every pod create; a list so tests can lift a rule)
    admission: list[AdmissionRule] = field(default_factory=list)
    # nodes whose image pulls the registry answers with 429 toomanyrequests (a registry limits per client
    # address; nodes behind one NAT share it)
    registry_rate_limited_nodes: set[str] = field(default_factory=set)
    watch_history: int = 5000  # events kept for watch resume; older RVs get 410 Expired
    scenario: str = "quiet"
    storm_rate: float = 100.0
