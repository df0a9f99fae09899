"""One committed change as watchers see it, and how a selector turns it into what a watch reports."""

from __future__ import annotations

from dataclasses import dataclass

from falcotui.sim.api.selectors import Predicate


@dataclass(slots=True)
class WatchEvent:
    type: str  # "ADDED" | "MODIFIED" | "DELETED"
    resource: str
    object: dict
    rv: int
    old: dict | None = None  # the previous state for MODIFIED (lets selector watches emit DELETED)


def filter_event(ev: WatchEvent, pred: Predicate | None) -> WatchEvent | None:
    """Apply a selector to one event the way the API server does: leaving the set looks like DELETED."""
    if pred is None:
        return ev
    now = pred(ev.object)
    if ev.type == "MODIFIED" and ev.old is not None:
        before = pred(ev.old)
        if now and not before:
            return WatchEvent("ADDED", ev.resource, ev.object, ev.rv)
        if before and not now:
            return WatchEvent("DELETED", ev.resource, ev.object, ev.rv)
    return ev if now else None
