"""A DaemonSet's `FailedCreate` events: the API server refused to create its pods, and what it said.

Admission (a validating webhook, OpenShift SCC, Pod Security, a quota) refuses a daemon pod before it
exists, so no pod shows the problem: only the DaemonSet controller's event does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

#: The DaemonSet controller's event when the API server refuses a pod create ("Error creating: <error>",
#: kubernetes/kubernetes pkg/controller/controller_utils.go, RealPodControl.createPods).
FAILED_CREATE = "FailedCreate"


def admission_refusal(message: str) -> bool:
    """Whether a FailedCreate message is admission saying no (a webhook's ToStatusErr wording, or a
    Forbidden from SCC, Pod Security, quota...) rather than a passing API error."""
    return (
        "denied the request" in message
        or " is forbidden: " in message
        or "insufficient quota to match these scopes" in message
    )


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def last_spec_change(ds: Mapping) -> datetime | None:
    """When someone last wrote the DaemonSet's spec (its newest managedFields entry outside `status`),
    by the API server's clock, like the events it is compared with."""
    times = [
        _time(entry.get("time"))
        for entry in (ds.get("metadata") or {}).get("managedFields") or []
        if entry.get("subresource") != "status"
    ]
    known = [t for t in times if t is not None]
    return max(known) if known else None


def failed_create(ds: Mapping, events: Iterable[Mapping]) -> str:
    """The newest FailedCreate message about `ds` since its spec last changed ("" if none)."""
    uid = (ds.get("metadata") or {}).get("uid")
    since = last_spec_change(ds)
    newest: tuple[datetime, str] | None = None
    for ev in events:
        obj = ev.get("involvedObject") or {}
        if ev.get("reason") != FAILED_CREATE or obj.get("kind") != "DaemonSet":
            continue
        if uid and obj.get("uid") and obj.get("uid") != uid:
            continue
        when = _time(ev.get("lastTimestamp") or ev.get("eventTime") or ev.get("firstTimestamp"))
        if when is None or (since is not None and when < since.replace(microsecond=0)):
            continue
        if newest is None or when >= newest[0]:
            newest = (when, ev.get("message") or "")
    return newest[1] if newest else ""


def refusal_marks(events: Iterable[Mapping]) -> set[tuple[str, str, str]]:
    """(event, count, last time) of every FailedCreate event: a mark that is new since an earlier call
    means the controller tried again and was refused again."""
    out = set()
    for ev in events:
        if ev.get("reason") == FAILED_CREATE:
            meta = ev.get("metadata") or {}
            when = ev.get("lastTimestamp") or ev.get("eventTime") or ""
            out.add((meta.get("uid") or meta.get("name") or "", str(ev.get("count") or 1), when))
    return out
