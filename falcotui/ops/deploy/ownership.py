"""What falcotui created and what it only adopted: the ownership annotation it stamps on every object it
applies, the label question for a namespace it did not create, and the uninstall plan that deletes only
what falcotui created (never a namespace it did not create, nor one that holds anything else)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from falcotui.kube.apply import object_ref
from falcotui.kube.errors import KubeError
from falcotui.kube.resources import CONFIGMAPS, DAEMONSETS, PODS, SECRETS, SERVICEACCOUNTS, Resource

#: "created" when falcotui's apply created the object, "adopted" when it already existed.
OWNERSHIP = "falcotui.io/ownership"
CREATED = "created"
ADOPTED = "adopted"
MANAGED_BY = "app.kubernetes.io/managed-by"
POD_SECURITY_PREFIX = "pod-security.kubernetes.io/"
#: Objects Kubernetes itself puts in every namespace (the ServiceAccount controller's `default`, the
#: root-CA publisher's ConfigMap): they never keep a namespace from being deleted.
SYSTEM_OBJECTS = frozenset({("ServiceAccount", "default"), ("ConfigMap", "kube-root-ca.crt")})
#: Kinds looked at before deleting a namespace falcotui created: (kind, where it lives).
CHECKED_KINDS = (
    ("ConfigMap", CONFIGMAPS),
    ("Secret", SECRETS),
    ("ServiceAccount", SERVICEACCOUNTS),
    ("DaemonSet", DAEMONSETS),
    ("Pod", PODS),
)
#: lists one kind's objects in a namespace (`Resource.items` through the cluster's clients)
ListItems = Callable[[Resource, str], list[dict[str, Any]]]


def ownership_of(obj: dict[str, Any] | None) -> str | None:
    """The ownership annotation of a live object (None: falcotui never applied it, or an older falcotui)."""
    if not obj:
        return None
    return ((obj.get("metadata") or {}).get("annotations") or {}).get(OWNERSHIP)


def mark(obj: dict[str, Any], live: dict[str, Any] | None) -> str:
    """Stamp the object about to be applied: `created` if it does not exist yet or falcotui created it
    before, else `adopted`. Returns the value."""
    value = CREATED if live is None or ownership_of(live) == CREATED else ADOPTED
    obj.setdefault("metadata", {}).setdefault("annotations", {})[OWNERSHIP] = value
    return value


def label_changes(wanted: dict[str, Any], live: dict[str, Any]) -> dict[str, tuple[str | None, str]]:
    """The Pod Security labels of the rendered Namespace that the live namespace lacks or holds otherwise:
    label -> (live value or None, wanted value)."""
    have = (live.get("metadata") or {}).get("labels") or {}
    want = (wanted.get("metadata") or {}).get("labels") or {}
    wanted_psa = {k: v for k, v in sorted(want.items()) if k.startswith(POD_SECURITY_PREFIX)}
    return {k: (have.get(k), v) for k, v in wanted_psa.items() if have.get(k) != v}


def adopted_namespace(wanted: dict[str, Any]) -> dict[str, Any]:
    """What falcotui applies to a namespace it did not create, once the user agreed: only the Pod Security
    labels and the `adopted` annotation; never falcotui's own labels (it does not manage that namespace)."""
    labels = wanted["metadata"].get("labels") or {}
    meta = {
        "name": wanted["metadata"]["name"],
        "labels": {k: v for k, v in labels.items() if k.startswith(POD_SECURITY_PREFIX)},
        "annotations": {OWNERSHIP: ADOPTED},
    }
    return {"apiVersion": wanted["apiVersion"], "kind": "Namespace", "metadata": meta}


@dataclass(frozen=True, slots=True)
class Removal:
    """One object `delete` found: removed (`delete`) or left alone (`keep`, with the reason)."""

    ref: str
    kind: str
    name: str
    action: str  # delete | keep
    reason: str = ""
    obj: dict | None = None  # what to delete (apiVersion, kind, metadata)

    def line(self) -> str:
        return f"{'delete' if self.action == 'delete' else 'keep':>6}  {self.ref}" + (
            f"  ({self.reason})" if self.reason else ""
        )


def plan_removals(
    objects: list[dict[str, Any]],
    get_live: Callable[[dict[str, Any]], dict[str, Any] | None],
    list_items: ListItems,
) -> list[Removal]:
    """Decide, for every object falcotui may have deployed, whether `delete` removes it.

    `get_live(obj)` reads the live object (None when absent); `list_items(resource, namespace)` lists one
    kind (raising on failure). Only objects annotated `created` are removed; the namespace only when
    falcotui created it and, after the removals, it holds nothing but Kubernetes' own objects and
    falcotui's DaemonSet pods.
    """
    removals: list[Removal] = []
    namespace_obj: tuple[dict, dict] | None = None
    for obj in objects:
        live = get_live(obj)
        if live is None:
            continue
        kind, name = obj["kind"], obj["metadata"]["name"]
        ref = object_ref({"kind": kind, "metadata": {**obj["metadata"], "name": name}})
        if kind == "Namespace":
            namespace_obj = (obj, live)
            continue
        if ownership_of(live) == CREATED:
            removals.append(Removal(ref, kind, name, "delete", obj=_target(obj)))
        else:
            why = (
                "adopted: it existed before falcotui applied it"
                if ownership_of(live) == ADOPTED
                else (f"not created by falcotui (no {OWNERSHIP}={CREATED} annotation)")
            )
            removals.append(Removal(ref, kind, name, "keep", why))
    if namespace_obj is not None:
        obj, live = namespace_obj
        name = obj["metadata"]["name"]
        ref = object_ref({"kind": "Namespace", "metadata": {"name": name}})
        if ownership_of(live) != CREATED:
            removals.append(Removal(ref, "Namespace", name, "keep", "not created by falcotui"))
        else:
            going = {(r.kind, r.name) for r in removals if r.action == "delete"}
            others = _foreign_objects(name, going, list_items)
            if others:
                why = "created by falcotui, but it also holds " + ", ".join(others)
                removals.append(Removal(ref, "Namespace", name, "keep", why))
            else:
                why = "created by falcotui; it holds nothing else"
                removals.append(Removal(ref, "Namespace", name, "delete", why, _target(obj)))
    return removals


def _foreign_objects(namespace: str, going: set[tuple[str, str]], list_items: ListItems) -> list[str]:
    """What else lives in the namespace: objects neither Kubernetes' own, nor being deleted, nor pods of
    a DaemonSet being deleted. A kind that cannot be listed counts as foreign (we cannot say it is empty)."""
    found: list[str] = []
    for kind, resource in CHECKED_KINDS:
        try:
            items = list_items(resource, namespace)
        except KubeError as exc:  # e.g. 403: we cannot prove the namespace holds nothing else
            found.append(f"{kind}s it cannot list ({exc})")
            continue
        for item in items:
            meta = item.get("metadata") or {}
            name = meta.get("name", "?")
            if (kind, name) in SYSTEM_OBJECTS or (kind, name) in going:
                continue
            owners = meta.get("ownerReferences") or []
            if kind == "Pod" and any(("DaemonSet", o.get("name")) in going for o in owners):
                continue
            found.append(f"{kind} {name}")
    return found


def _target(obj: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in obj["metadata"].items() if k in ("name", "namespace")}
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "metadata": meta}
