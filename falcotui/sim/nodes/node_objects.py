"""Node objects as a kubeadm-installed kubelet registers them: names, addresses, pod CIDRs, conditions."""

from __future__ import annotations

import ipaddress
import uuid

from falcotui.sim.config import NodeSpec, SimConfig
from falcotui.sim.controllers.events import rfc3339

KUBELET_VERSION = "v1.32.2"
CONTROL_PLANE_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}

# nodeInfo by operating system: a GKE Ubuntu node, and a Windows Server 2022 node (build 20348) as the
# Windows kubelet reports it (`kubectl get node -o wide` on GKE/AKS Windows pools shows these shapes).
OS_INFO = {
    "linux": {"kernelVersion": "6.8.0-1019-gcp", "osImage": "Ubuntu 24.04.1 LTS"},
    "windows": {"kernelVersion": "10.0.20348.2849", "osImage": "Windows Server 2022 Datacenter"},
}

HEALTHY_CONDITIONS = {
    "MemoryPressure": ("False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    "DiskPressure": ("False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    "PIDPressure": ("False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    "Ready": ("True", "KubeletReady", "kubelet is posting ready status"),
}


def node_ip(ordinal: int) -> str:
    """127.0.0.2, 127.0.0.3, ... one loopback address per node (all of 127/8 is loopback on Linux)."""
    return str(ipaddress.IPv4Address("127.0.0.2") + ordinal)


def pod_cidr_prefix(ordinal: int) -> str:
    """10.244.<n>. for the first 256 nodes, then 10.245.<n>. and so on (a /14 fits 1024 nodes)."""
    return f"10.{244 + (ordinal // 256) % 12}.{ordinal % 256}."


def generated_node_specs(config: SimConfig) -> list[NodeSpec]:
    cps = max(0, min(config.control_plane_nodes, config.nodes))
    workers = config.nodes - cps
    width = max(2, len(str(workers)))
    specs = [NodeSpec(f"sim-cp-{i + 1}", control_plane=True) for i in range(cps)]
    specs += [NodeSpec(f"sim-node-{i + 1:0{width}d}") for i in range(workers)]
    return specs + list(config.extra_nodes)


def node_conditions(now: str, heartbeat: str | None = None, ready: bool = True) -> list[dict]:
    out = []
    for type_, (status, reason, message) in HEALTHY_CONDITIONS.items():
        if not ready:
            status, reason, message = "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status."
        out.append(
            {
                "type": type_,
                "status": status,
                "lastHeartbeatTime": heartbeat or now,
                "lastTransitionTime": now,
                "reason": reason,
                "message": message,
            }
        )
    return out


def build_node(spec: NodeSpec, ordinal: int, seed: int) -> dict:
    """A Node object as a kubeadm-installed kubelet registers it."""
    ip = node_ip(ordinal)
    labels = {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": spec.os,
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": spec.name,
        "kubernetes.io/os": spec.os,
    }
    taints = [dict(t) for t in spec.taints]
    if spec.control_plane:
        labels["node-role.kubernetes.io/control-plane"] = ""
        labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
        if not any(t.get("key") == CONTROL_PLANE_TAINT["key"] for t in taints):
            taints.insert(0, dict(CONTROL_PLANE_TAINT))
    labels.update(spec.labels)
    os_info = OS_INFO.get(spec.os, OS_INFO["linux"])
    ident = uuid.uuid5(uuid.NAMESPACE_DNS, f"{seed}.{spec.name}.falcotui-sim")
    cidr = pod_cidr_prefix(ordinal) + "0/24"
    now = rfc3339()
    capacity = {
        "cpu": "8",
        "ephemeral-storage": "101430960Ki",
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "memory": "32863564Ki",
        "pods": "110",
    }
    node_spec: dict = {"podCIDR": cidr, "podCIDRs": [cidr]}
    if taints:
        node_spec["taints"] = taints
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": spec.name,
            "labels": labels,
            "annotations": {
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        },
        "spec": node_spec,
        "status": {
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": spec.name}],
            "capacity": capacity,
            "allocatable": {**capacity, "memory": "32761164Ki", "ephemeral-storage": "93478772582"},
            "conditions": node_conditions(now),
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": str(uuid.uuid5(ident, "boot")),
                "containerRuntimeVersion": "containerd://1.7.24",
                "kernelVersion": os_info["kernelVersion"],
                "kubeProxyVersion": KUBELET_VERSION,
                "kubeletVersion": KUBELET_VERSION,
                "machineID": ident.hex,
                "operatingSystem": spec.os,
                "osImage": os_info["osImage"],
                "systemUUID": str(ident),
            },
        },
    }
