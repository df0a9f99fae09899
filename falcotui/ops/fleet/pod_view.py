"""One Falco pod read for a person, read-only: its log's last lines and a `kubectl describe`-like summary
(k9s `l` and `d` on a node). Blocking calls: run them in a worker thread. Lines are raw; the UI sanitizes."""

from __future__ import annotations

import time
from collections.abc import Mapping

from falcotui.kube.client import KubeClients
from falcotui.kube.resources import EVENTS, PODS
from falcotui.ops.alerts.snapshot import read_pod_log

LOG_TAIL = 500  # lines read per refresh (kubectl logs --tail)


def _when(ns: int) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ns / 1e9))


def pod_log_lines(clients: KubeClients, namespace: str, pod: str, *, tail: int = LOG_TAIL) -> list[str]:
    """The last `tail` lines of the pod's Falco container, each after its kubelet time (`09:02:17 …`)."""
    obj = PODS.read(clients, namespace, pod)
    return [f"{_when(ts)} {line}" for ts, line in read_pod_log(clients, obj, tail_lines=tail)]


def _state(state: Mapping | None) -> list[str]:
    """`Running (started …)`, `Waiting: CrashLoopBackOff — back-off …`, `Terminated: Error (exit 1)`."""
    if not state:
        return ["–"]
    kind, detail = next(iter(state.items()))
    detail = detail or {}
    words = kind.capitalize()
    if detail.get("reason"):
        words += f": {detail['reason']}"
    if "exitCode" in detail:
        words += f" (exit code {detail['exitCode']})"
    if detail.get("startedAt"):
        words += f", started {detail['startedAt']}"
    if detail.get("finishedAt"):
        words += f", finished {detail['finishedAt']}"
    lines = [words]
    if detail.get("message"):
        lines.append(f"  message: {detail['message']}")
    return lines


def describe_pod(clients: KubeClients, namespace: str, pod: str) -> list[str]:
    """The pod like `kubectl describe pod`: where it runs, its status, each container's image, state, last
    state, readiness and restarts, its conditions and the events about it (newest last)."""
    obj = PODS.read(clients, namespace, pod)
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    owners = ", ".join(f"{o.get('kind')}/{o.get('name')}" for o in meta.get("ownerReferences") or [])
    out = [
        f"Name:           {meta.get('name', pod)}",
        f"Namespace:      {meta.get('namespace', namespace)}",
        f"Node:           {spec.get('nodeName') or '<none>'}",
        f"Start Time:     {status.get('startTime') or '<none>'}",
        f"Status:         {status.get('phase') or 'Unknown'}"
        + (f" ({status['reason']})" if status.get("reason") else ""),
        f"IP:             {status.get('podIP') or '<none>'}",
        f"Controlled By:  {owners or '<none>'}",
        "Containers:",
    ]
    statuses = {s.get("name"): s for s in status.get("containerStatuses") or []}
    for c in spec.get("containers") or []:
        st = statuses.get(c.get("name")) or {}
        state, *more = _state(st.get("state"))
        last, *last_more = _state(st.get("lastState")) if st.get("lastState") else ("–",)
        out += [
            f"  {c.get('name')}:",
            f"    Image:          {c.get('image')}",
            f"    State:          {state}",
            *(f"    {m}" for m in more),
            f"    Last State:     {last}",
            *(f"    {m}" for m in last_more),
            f"    Ready:          {st.get('ready', False)}",
            f"    Restart Count:  {st.get('restartCount', 0)}",
        ]
    conditions = status.get("conditions") or []
    if conditions:
        out.append("Conditions:")
        out += [f"  {c.get('type'):<28} {c.get('status')}" for c in conditions]
    query = [("fieldSelector", f"involvedObject.name={meta.get('name', pod)}")]
    events = EVENTS.items(clients, namespace, query=query)
    events.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
    out.append("Events:" if events else "Events:         <none>")
    for e in events[-30:]:
        count = e.get("count") or 1
        seen = e.get("lastTimestamp") or e.get("eventTime") or ""
        times = f" (x{count})" if count > 1 else ""
        out.append(
            f"  {e.get('type', ''):<8} {e.get('reason', ''):<18} {seen}{times}  {e.get('message', '')}"
        )
    return out
