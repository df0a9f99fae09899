"""`meta.k8s.io/v1` Table responses: the columns `kubectl get` prints, computed as the API server does."""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable

from aiohttp import web

from falcotui.sim.api.selectors import label_selector_string

Row = list[object]


def wants_table(request: web.Request) -> bool:
    return "as=Table" in request.headers.get("Accept", "")


def _ts(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return float(calendar.timegm(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")))
    except ValueError:
        return None


def human_duration(seconds: float) -> str:
    """Kubernetes' `duration.HumanDuration`."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y{days}d" if days else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


def age(obj: dict) -> str:
    ts = _ts((obj.get("metadata") or {}).get("creationTimestamp"))
    return "<unknown>" if ts is None else human_duration(time.time() - ts)


def _since(text: str | None) -> str:
    ts = _ts(text)
    return "<unknown>" if ts is None else human_duration(time.time() - ts)


# ---- per-kind rows ------------------------------------------------------------------------------------
def _node_row(o: dict) -> Row:
    status = o.get("status") or {}
    conds = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    state = "Unknown" if "Ready" not in conds else ("Ready" if conds["Ready"] == "True" else "NotReady")
    if (o.get("spec") or {}).get("unschedulable"):
        state += ",SchedulingDisabled"
    labels = (o.get("metadata") or {}).get("labels") or {}
    roles = sorted(
        k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/") and "/" in k
    )
    if labels.get("kubernetes.io/role"):
        roles.append(labels["kubernetes.io/role"])
    addrs = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
    info = status.get("nodeInfo") or {}
    return [
        o["metadata"]["name"], state, ",".join(roles) or "<none>", age(o), info.get("kubeletVersion", ""),
        addrs.get("InternalIP", "<none>"), addrs.get("ExternalIP", "<none>"), info.get("osImage", ""),
        info.get("kernelVersion", ""), info.get("containerRuntimeVersion", ""),
    ]  # fmt: skip


def pod_status_reason(o: dict) -> str:
    """The STATUS column: phase, or the reason of the most telling container state (printPod)."""
    status = o.get("status") or {}
    reason = status.get("reason") or status.get("phase") or "Unknown"
    initializing = False
    for c in status.get("initContainerStatuses") or []:
        state = c.get("state") or {}
        if (state.get("terminated") or {}).get("exitCode") == 0:
            continue
        initializing = True
        waiting = (state.get("waiting") or {}).get("reason")
        reason = f"Init:{waiting}" if waiting and waiting != "PodInitializing" else "Init:0/1"
        break
    if not initializing:
        has_running = False
        for c in reversed(status.get("containerStatuses") or []):
            state = c.get("state") or {}
            if (state.get("waiting") or {}).get("reason"):
                reason = state["waiting"]["reason"]
            elif (state.get("terminated") or {}).get("reason"):
                reason = state["terminated"]["reason"]
            elif state.get("terminated"):
                t = state["terminated"]
                reason = f"Signal:{t['signal']}" if t.get("signal") else f"ExitCode:{t.get('exitCode', 0)}"
            elif state.get("running") and c.get("ready"):
                has_running = True
        if reason == "Completed" and has_running:
            conds = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
            reason = "Running" if conds.get("Ready") == "True" else "NotReady"
    if (o.get("metadata") or {}).get("deletionTimestamp"):
        reason = "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    return reason


def _pod_row(o: dict) -> Row:
    status = o.get("status") or {}
    spec = o.get("spec") or {}
    cs = status.get("containerStatuses") or []
    total = len(spec.get("containers") or [])
    ready = sum(1 for c in cs if c.get("ready"))
    restarts = sum(int(c.get("restartCount") or 0) for c in cs)
    last = None
    for c in cs:
        finished = ((c.get("lastState") or {}).get("terminated") or {}).get("finishedAt")
        ts = _ts(finished)
        if ts is not None and (last is None or ts > last):
            last = ts
    restarts_text = str(restarts)
    if restarts and last is not None:
        restarts_text = f"{restarts} ({human_duration(time.time() - last)} ago)"
    gates = spec.get("readinessGates") or []
    conds = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    gates_text = (
        f"{sum(1 for g in gates if conds.get(g.get('conditionType')) == 'True')}/{len(gates)}"
        if gates
        else "<none>"
    )
    return [
        o["metadata"]["name"], f"{ready}/{total}", pod_status_reason(o), restarts_text, age(o),
        status.get("podIP") or "<none>", spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>", gates_text,
    ]  # fmt: skip


def _ds_row(o: dict) -> Row:
    s = o.get("status") or {}
    spec = o.get("spec") or {}
    pod = (spec.get("template") or {}).get("spec") or {}
    node_sel = pod.get("nodeSelector") or {}
    containers = pod.get("containers") or []
    return [
        o["metadata"]["name"], s.get("desiredNumberScheduled", 0), s.get("currentNumberScheduled", 0),
        s.get("numberReady", 0), s.get("updatedNumberScheduled", 0), s.get("numberAvailable", 0),
        ",".join(f"{k}={v}" for k, v in sorted(node_sel.items())) or "<none>", age(o),
        ",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers),
        label_selector_string(spec.get("selector")),
    ]  # fmt: skip


def _event_row(o: dict) -> Row:
    inv = o.get("involvedObject") or {}
    src = o.get("source") or {}
    source = src.get("component", "") + (f", {src['host']}" if src.get("host") else "")
    last = o.get("lastTimestamp") or o.get("eventTime") or o["metadata"].get("creationTimestamp")
    first = o.get("firstTimestamp") or o.get("eventTime") or o["metadata"].get("creationTimestamp")
    obj = f"{(inv.get('kind') or '').lower()}/{inv.get('name', '')}"
    return [
        _since(last), o.get("type", ""), o.get("reason", ""), obj, inv.get("fieldPath", ""),
        source or o.get("reportingComponent", ""), o.get("message", ""), _since(first), o.get("count", 1),
        o["metadata"]["name"],
    ]  # fmt: skip


def _subjects(o: dict, kind: str) -> str:
    out = []
    for s in o.get("subjects") or []:
        if s.get("kind") == kind:
            out.append(f"{s['namespace']}/{s['name']}" if kind == "ServiceAccount" else s.get("name", ""))
    return ", ".join(out)


def _binding_row(o: dict) -> Row:
    ref = o.get("roleRef") or {}
    return [o["metadata"]["name"], f"{ref.get('kind')}/{ref.get('name')}", age(o), _subjects(o, "User"),
            _subjects(o, "Group"), _subjects(o, "ServiceAccount")]  # fmt: skip


def _col(name: str, type_: str = "string", priority: int = 0, fmt: str = "", desc: str = "") -> dict:
    return {"name": name, "type": type_, "format": fmt, "description": desc or name, "priority": priority}


NAME = _col("Name", fmt="name", desc="Name must be unique within a namespace.")
AGE = _col(
    "Age", desc="CreationTimestamp is a timestamp representing the server time when this object was created."
)


def _cols(*names: str, wide: tuple[str, ...] = (), age_at: int | None = None) -> list[dict]:
    cols = [NAME if n == "Name" else _col(n) for n in names] + [_col(n, priority=1) for n in wide]
    if age_at is not None:
        cols.insert(age_at, AGE)
    return cols


def _cm_row(o: dict) -> Row:
    return [o["metadata"]["name"], len(o.get("data") or {}) + len(o.get("binaryData") or {}), age(o)]


def _revision_row(o: dict) -> Row:
    owner = next((r for r in o["metadata"].get("ownerReferences") or [] if r.get("controller")), None)
    controller = "<none>"
    if owner:
        group = owner.get("apiVersion", "").split("/")[0] if "/" in owner.get("apiVersion", "") else ""
        controller = f"{owner.get('kind', '').lower()}.{group}/{owner.get('name')}".replace("./", "/")
    return [o["metadata"]["name"], controller, o.get("revision", 0), age(o)]


def _netpol_row(o: dict) -> Row:
    labels = ((o.get("spec") or {}).get("podSelector") or {}).get("matchLabels") or {}
    selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "<none>"
    return [o["metadata"]["name"], selector, age(o)]


def _name_created(o: dict) -> Row:
    return [o["metadata"]["name"], o["metadata"].get("creationTimestamp", "")]


_BINDING_WIDE = ("Users", "Groups", "ServiceAccounts")
COLUMNS: dict[str, tuple[list[dict], Callable[[dict], Row]]] = {
    "nodes": (
        _cols("Name", "Status", "Roles", "Version", age_at=3,
              wide=("Internal-IP", "External-IP", "OS-Image", "Kernel-Version", "Container-Runtime")),
        _node_row,
    ),
    "pods": (
        _cols("Name", "Ready", "Status", "Restarts", age_at=4,
              wide=("IP", "Node", "Nominated Node", "Readiness Gates")),
        _pod_row,
    ),
    "daemonsets": (
        _cols("Name", "Desired", "Current", "Ready", "Up-to-date", "Available", "Node Selector", age_at=7,
              wide=("Containers", "Images", "Selector")),
        _ds_row,
    ),
    "configmaps": (_cols("Name", "Data", age_at=2), _cm_row),
    "secrets": (
        _cols("Name", "Type", "Data", age_at=3),
        lambda o: [o["metadata"]["name"], o.get("type", ""), len(o.get("data") or {}), age(o)],
    ),
    "namespaces": (
        _cols("Name", "Status", age_at=2),
        lambda o: [o["metadata"]["name"], (o.get("status") or {}).get("phase", ""), age(o)],
    ),
    "serviceaccounts": (
        _cols("Name", "Secrets", age_at=2),
        lambda o: [o["metadata"]["name"], len(o.get("secrets") or []), age(o)],
    ),
    "events": (
        [_col("Last Seen"), _col("Type"), _col("Reason"), _col("Object"), _col("Subobject", priority=1),
         _col("Source", priority=1), _col("Message"), _col("First Seen", priority=1),
         _col("Count", "integer", priority=1), _col("Name", priority=1)],
        _event_row,
    ),
    "controllerrevisions": (_cols("Name", "Controller", "Revision", age_at=3), _revision_row),
    "clusterroles": (_cols("Name", "Created At"), _name_created),
    "roles": (_cols("Name", "Created At"), _name_created),
    "clusterrolebindings": (_cols("Name", "Role", age_at=2, wide=_BINDING_WIDE), _binding_row),
    "rolebindings": (_cols("Name", "Role", age_at=2, wide=_BINDING_WIDE), _binding_row),
    # kubectl's printers (pkg/printers/internalversion/printers.go): NAME, POD-SELECTOR, AGE
    "networkpolicies": (_cols("Name", "Pod-Selector", age_at=2), _netpol_row),
}  # fmt: skip


def _partial(o: dict) -> dict:
    meta = {k: v for k, v in (o.get("metadata") or {}).items() if k != "managedFields"}
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta}


def table(resource: str, objs: list[dict], list_meta: dict | None, request: web.Request) -> dict:
    cols, row = COLUMNS.get(resource, ([NAME, AGE], lambda o: [o["metadata"]["name"], age(o)]))
    include = request.query.get("includeObject", "Metadata")
    rows = []
    for o in objs:
        r: dict = {"cells": row(o)}
        if include == "Object":
            r["object"] = o
        elif include != "None":
            r["object"] = _partial(o)
        rows.append(r)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": dict(list_meta or {}),
        "columnDefinitions": cols,
        "rows": rows,
    }
