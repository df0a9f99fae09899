"""Pure kubelet pieces: back-off, image references, QoS, status shape, volume files and env."""

from __future__ import annotations

import base64

import pytest
from kubernetes.client import ApiClient

from falcotui.sim.nodes.kubelet_status import (
    Conditions,
    ContainerState,
    backoff_delay,
    go_duration,
    image_exists,
    pod_status,
    qos_class,
    split_image,
)
from falcotui.sim.nodes.kubelet_volumes import (
    MountedFiles,
    VolumeError,
    container_env,
    mounted_files,
    referenced_objects,
    refreshed_files,
)

REGISTRY = {"falcosecurity/falco": {"0.45.0"}}


def test_backoff_doubles_and_caps():
    assert [backoff_delay(n, 0.2, 1.0) for n in range(6)] == [0.0, 0.2, 0.4, 0.8, 1.0, 1.0]
    assert backoff_delay(100, 10, 300) == 300


def test_go_duration():
    assert [go_duration(s) for s in (0.2, 10, 160, 300)] == ["200ms", "10s", "2m40s", "5m0s"]


def test_image_references_and_registry():
    assert split_image("falcosecurity/falco:0.45.0") == ("falcosecurity/falco", "0.45.0", None)
    assert split_image("localhost:5000/falco") == ("localhost:5000/falco", "latest", None)
    assert split_image("falco@sha256:ab") == ("falco", None, "sha256:ab")
    assert image_exists(REGISTRY, "falcosecurity/falco:0.45.0")
    assert image_exists(REGISTRY, "docker.io/falcosecurity/falco:0.45.0")
    assert not image_exists(REGISTRY, "falcosecurity/falco:9.9.9")
    assert not image_exists(REGISTRY, "falcosecurity/falco")  # latest is not in the registry
    assert image_exists(REGISTRY, "busybox:1.36")  # repositories the registry does not list always pull


def test_qos_classes():
    assert qos_class({"containers": [{"name": "a"}]}) == "BestEffort"
    burst = {"requests": {"cpu": "100m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
    assert qos_class({"containers": [{"resources": burst}]}) == "Burstable"
    same = {"limits": {"cpu": "1", "memory": "1Gi"}}
    assert qos_class({"containers": [{"resources": same}]}) == "Guaranteed"


def test_pod_status_deserializes_into_the_official_models():
    cs = ContainerState("falco", "falcosecurity/falco:0.45.0")
    conds = Conditions()
    pending = pod_status(
        [cs], conds, host_ip="127.0.0.2", pod_ip=None, start_time=1e9, qos="Burstable", now=1e9
    )
    assert pending["phase"] == "Pending"
    assert pending["containerStatuses"][0]["state"] == {"waiting": {"reason": "ContainerCreating"}}
    ready = next(c for c in pending["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "ContainersNotReady")
    assert ready["message"] == "containers with unready status: [falco]"
    cs.state, cs.started_at, cs.ever_started, cs.ready, cs.container_id = (
        "running",
        1e9,
        True,
        True,
        "containerd://1",
    )
    cs.last_terminated = {
        "exitCode": 1,
        "reason": "Error",
        "startedAt": "2026-01-01T00:00:00Z",
        "finishedAt": "2026-01-01T00:00:05Z",
    }
    running = pod_status(
        [cs], conds, host_ip="127.0.0.2", pod_ip="10.244.1.2", start_time=1e9, qos="Burstable", now=2e9
    )
    assert running["phase"] == "Running" and running["podIP"] == "10.244.1.2"
    types = {c["type"]: c["status"] for c in running["conditions"]}
    assert types == {
        "PodReadyToStartContainers": "True",
        "Initialized": "True",
        "Ready": "True",
        "ContainersReady": "True",
        "PodScheduled": "True",
    }
    client = ApiClient()
    model = client._ApiClient__deserialize(running, "V1PodStatus")
    assert model.container_statuses[0].last_state.terminated.exit_code == 1
    client._ApiClient__deserialize(pending, "V1PodStatus")


CM = {"data": {"falco.yaml": "a: 1\n", "extra.yaml": "b: 2\n"}}
SECRET = {"data": {"tls.crt": base64.b64encode(b"CERT").decode()}}


def lookup_from(objs):
    return lambda resource, name: objs.get((resource, name))


POD_SPEC = {
    "volumes": [
        {"name": "cfg", "configMap": {"name": "falco-config"}},
        {
            "name": "one",
            "configMap": {"name": "falco-config", "items": [{"key": "falco.yaml", "path": "f.yaml"}]},
        },
        {"name": "certs", "secret": {"secretName": "falco-certs"}},
        {"name": "proc", "hostPath": {"path": "/proc"}},
    ],
    "containers": [
        {
            "name": "falco",
            "volumeMounts": [
                {"name": "cfg", "mountPath": "/etc/falco-config"},
                {"name": "one", "mountPath": "/etc/one/"},
                {"name": "certs", "mountPath": "/etc/certs"},
                {"name": "cfg", "mountPath": "/etc/falco/falco.yaml", "subPath": "falco.yaml"},
                {"name": "proc", "mountPath": "/host/proc"},
            ],
        }
    ],
}


def test_volume_files_items_secrets_and_subpath():
    objs = {("configmaps", "falco-config"): CM, ("secrets", "falco-certs"): SECRET}
    mf = mounted_files(POD_SPEC, POD_SPEC["containers"][0], lookup_from(objs))
    assert mf.files == {
        "/etc/falco-config/falco.yaml": "a: 1\n",
        "/etc/falco-config/extra.yaml": "b: 2\n",
        "/etc/one/f.yaml": "a: 1\n",
        "/etc/certs/tls.crt": "CERT",
        "/etc/falco/falco.yaml": "a: 1\n",
    }
    assert mf.subpath_files == {"/etc/falco/falco.yaml"}
    assert referenced_objects(POD_SPEC) == {("configmaps", "falco-config"), ("secrets", "falco-certs")}

    objs[("configmaps", "falco-config")] = {"data": {"falco.yaml": "a: 2\n"}}
    fresh = refreshed_files(POD_SPEC, POD_SPEC["containers"][0], lookup_from(objs), mf)
    assert fresh is not None
    assert fresh.files["/etc/falco-config/falco.yaml"] == "a: 2\n"
    assert "/etc/falco-config/extra.yaml" not in fresh.files
    assert fresh.files["/etc/falco/falco.yaml"] == "a: 1\n"  # subPath: never updated
    assert refreshed_files(POD_SPEC, POD_SPEC["containers"][0], lookup_from(objs), fresh) is None


def test_missing_configmap_is_a_mount_failure_unless_optional():
    with pytest.raises(VolumeError) as err:
        mounted_files(POD_SPEC, POD_SPEC["containers"][0], lookup_from({}))
    assert err.value.reason == "FailedMount"
    assert 'configmap "falco-config" not found' in err.value.message
    spec = {"volumes": [{"name": "v", "configMap": {"name": "x", "optional": True}}]}
    container = {"volumeMounts": [{"name": "v", "mountPath": "/x"}]}
    assert mounted_files(spec, container, lookup_from({})) == MountedFiles()


def test_env_field_refs_and_key_refs():
    pod = {
        "metadata": {"name": "falco-abcde", "namespace": "falco", "labels": {"app": "falco"}},
        "spec": {"nodeName": "n1"},
    }
    container = {
        "env": [
            {"name": "HOST_ROOT", "value": "/host"},
            {"name": "ROOT2", "value": "$(HOST_ROOT)/x"},
            {"name": "FALCO_HOSTNAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "HOST_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "CFG", "valueFrom": {"configMapKeyRef": {"name": "falco-config", "key": "extra.yaml"}}},
            {"name": "CRT", "valueFrom": {"secretKeyRef": {"name": "falco-certs", "key": "tls.crt"}}},
        ]
    }
    objs = {("configmaps", "falco-config"): CM, ("secrets", "falco-certs"): SECRET}
    env = container_env(container, pod, "127.0.0.3", "10.244.1.2", lookup_from(objs))
    assert env == {
        "HOST_ROOT": "/host",
        "ROOT2": "/host/x",
        "FALCO_HOSTNAME": "n1",
        "POD": "falco-abcde",
        "HOST_IP": "127.0.0.3",
        "POD_IP": "10.244.1.2",
        "APP": "falco",
        "CFG": "b: 2\n",
        "CRT": "CERT",
    }
    with pytest.raises(VolumeError) as err:
        container_env(container, pod, "h", "p", lookup_from({}))
    assert err.value.reason == "CreateContainerConfigError"
