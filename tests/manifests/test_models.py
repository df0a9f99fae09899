"""Every manifest object deserializes into the official kubernetes client's models, losing nothing."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest
from kubernetes import client

from falcotui.ops.deploy import manifests

MODELS = {
    ("v1", "Namespace"): "V1Namespace",
    ("v1", "ServiceAccount"): "V1ServiceAccount",
    ("v1", "ConfigMap"): "V1ConfigMap",
    ("v1", "Secret"): "V1Secret",
    ("v1", "ResourceQuota"): "V1ResourceQuota",
    ("apps/v1", "DaemonSet"): "V1DaemonSet",
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): "V1ClusterRole",
    ("rbac.authorization.k8s.io/v1", "Role"): "V1Role",
    ("networking.k8s.io/v1", "NetworkPolicy"): "V1NetworkPolicy",
}


def _deserialize(doc: dict[str, Any]) -> Any:
    api = client.ApiClient()
    model = MODELS[(doc["apiVersion"], doc["kind"])]
    return api, api._ApiClient__deserialize(doc, model)


def _check_lossless(doc: dict[str, Any]) -> None:
    api, obj = _deserialize(doc)
    # from_dict() silently drops keys the model does not know, so a misspelled field would pass a plain
    # deserialize; serializing back and comparing catches it.
    assert api.sanitize_for_serialization(obj) == doc


def test_the_client_validates_required_fields() -> None:
    """Without this, the lossless checks below would prove little: a container must have a name."""
    api = client.ApiClient()
    broken = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "x"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {"spec": {"containers": [{"image": "falcosecurity/falco:0.45.0"}]}},
        },
    }
    with pytest.raises(pydantic.ValidationError, match="name"):
        api._ApiClient__deserialize(broken, "V1DaemonSet")


def test_the_round_trip_catches_a_misspelled_field(shipped_docs) -> None:
    daemonset = next(doc for _, doc in shipped_docs if doc["kind"] == "DaemonSet")
    container = daemonset["spec"]["template"]["spec"]["containers"][0]
    typo = {**daemonset}
    typo["spec"] = {
        **daemonset["spec"],
        "template": {
            **daemonset["spec"]["template"],
            "spec": {
                **daemonset["spec"]["template"]["spec"],
                "containers": [{**container, "volumeMount": container["volumeMounts"]}],
            },
        },
    }
    with pytest.raises(AssertionError):
        _check_lossless(typo)


def test_every_shipped_object_is_a_valid_model(shipped_docs) -> None:
    kinds = []
    for name, doc in shipped_docs:
        assert (doc["apiVersion"], doc["kind"]) in MODELS, f"{name}: unexpected {doc['kind']}"
        _check_lossless(doc)
        kinds.append(doc["kind"])
    assert sorted(set(kinds)) == [
        "ClusterRole",
        "ConfigMap",
        "DaemonSet",
        "Namespace",
        "NetworkPolicy",
        "ResourceQuota",
        "Role",
        "ServiceAccount",
    ]


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"namespace": "security"},
        {"grpc": True},
        {"grpc": True, "namespace": "x", "include_secret": False},
    ],
    ids=["default", "namespace", "grpc", "grpc-no-secret"],
)
def test_every_rendered_object_is_a_valid_model(options) -> None:
    for doc in manifests.render(**options):
        _check_lossless(doc)
