"""The metadata of a pod a workload controller creates from its template.

Upstream both the DaemonSet and the ReplicaSet controller create their pods through
pkg/controller/controller_utils.go `GetPodFromTemplate`: the template's labels and annotations, a
`GenerateName` of the owner's name and a dash, the owner's namespace, and the owner as the one controller
reference (`metav1.NewControllerRef`: controller and blockOwnerDeletion both true).
"""

from __future__ import annotations

from collections.abc import Mapping


def pod_metadata(owner: Mapping, owner_kind: str, labels: dict, template_meta: Mapping) -> dict:
    """`metadata` for a pod that `owner` (a DaemonSet or ReplicaSet, `apps/v1`) creates; `labels` are the
    template's, with whatever the controller adds to them."""
    meta = owner["metadata"]
    pod_meta: dict = {
        "generateName": f"{meta['name']}-",
        "namespace": meta["namespace"],
        "labels": labels,
        "ownerReferences": [
            {
                "apiVersion": "apps/v1",
                "kind": owner_kind,
                "name": meta["name"],
                "uid": meta["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }
    if template_meta.get("annotations"):
        pod_meta["annotations"] = dict(template_meta["annotations"])
    return pod_meta
