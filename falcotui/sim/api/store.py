"""The object store: every API object as a plain JSON dict, one global resourceVersion, watch history.

All methods are synchronous and meant to be called on the simulator's single asyncio loop (the HTTP
server and the controllers share it). Objects handed out are copies; objects kept in the store are
replaced, never mutated, on each write, so watch history can share them.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable

import orjson

from falcotui.sim.api import defaults
from falcotui.sim.api.errors import StoreError, already_exists, conflict, not_found
from falcotui.sim.api.resources import RESOURCES, ResourceInfo, info
from falcotui.sim.api.selectors import Predicate, combine, parse_field_selector, parse_label_selector
from falcotui.sim.api.watchevents import WatchEvent, filter_event

__all__ = ["Store", "StoreError", "WatchEvent", "copy_obj", "filter_event", "rfc3339"]

Key = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped kinds
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"


def copy_obj(obj: dict) -> dict:
    """A deep copy of a JSON object (much faster than copy.deepcopy)."""
    return orjson.loads(orjson.dumps(obj))


def rfc3339(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _kind_first(ri: ResourceInfo, obj: dict) -> dict:
    rest = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    return {"apiVersion": ri.api_version, "kind": ri.kind, **rest}


class Store:
    def __init__(
        self,
        *,
        history: int = 5000,
        clock: Callable[[], float] = time.time,
        seed: int | None = None,
        namespace_finalize_delay: float = 0.3,
    ) -> None:
        self.resource_version = 1
        self.clock = clock
        self.namespace_finalize_delay = namespace_finalize_delay
        self._rng = random.Random(seed)
        self._objects: dict[str, dict[Key, dict]] = {r: {} for r, i in RESOURCES.items() if i.stored}
        self._history: deque[WatchEvent] = deque()
        self._history_max = history
        self._compacted = 1  # watches from an RV below this get 410 Expired
        self._subs: dict[asyncio.Queue, tuple[frozenset[str] | None, bool]] = {}
        self._dependents: dict[str, set[tuple[str, str, str]]] = {}  # owner uid -> (resource, ns, name)
        self._encoded: dict[tuple[str, str, str], tuple[str, bytes]] = {}
        # Admission on create (resource, object) -> raises StoreError to refuse; see sim/admission.py.
        self.admission: Callable[[str, dict], None] | None = None

    # ---- reads -------------------------------------------------------------------------------------
    def get(self, resource: str, namespace: str, name: str) -> dict | None:
        obj = self._table(resource).get((namespace or "", name))
        return copy_obj(obj) if obj is not None else None

    def peek(self, resource: str, namespace: str, name: str) -> dict | None:
        """The stored object itself, not a copy: read-only."""
        return self._table(resource).get((namespace or "", name))

    def list(self, resource: str, namespace: str | None = None) -> tuple[list[dict], str]:
        objs = self.peek_list(resource, namespace)
        return copy_obj(objs), str(self.resource_version)

    def peek_list(self, resource: str, namespace: str | None = None) -> list[dict]:
        """Stored objects (not copies, read-only), sorted by namespace/name like etcd returns them."""
        table = self._table(resource)
        keys = sorted(k for k in table if not namespace or k[0] == namespace)
        return [table[k] for k in keys]

    def encoded(self, resource: str, obj: dict) -> bytes:
        """The JSON bytes of a stored object, cached until it changes (lists serialize fast)."""
        meta = obj["metadata"]
        key = (resource, meta.get("namespace", ""), meta["name"])
        hit = self._encoded.get(key)
        if hit is not None and hit[0] == meta.get("resourceVersion"):
            return hit[1]
        data = orjson.dumps(obj)
        if self._table(resource).get(key[1:]) is obj:
            self._encoded[key] = (meta.get("resourceVersion"), data)
        return data

    def count(self, resource: str) -> int:
        return len(self._table(resource))

    # ---- writes ------------------------------------------------------------------------------------
    def create(self, resource: str, obj: dict, *, dry_run: bool = False) -> dict:
        ri = info(resource)
        table = self._table(resource)
        obj = copy_obj(obj)
        meta = defaults.metadata_of(obj)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + "".join(self._rng.choice(_NAME_CHARS) for _ in range(5))
        name = meta.get("name") or ""
        ns = self._namespace_for(ri, meta)
        obj = _kind_first(ri, obj)
        defaults.validate(ri, obj)
        if (ns, name) in table:
            raise already_exists(resource, name, ri.group)
        if ri.namespaced:
            nsobj = self._objects["namespaces"].get(("", ns))
            if nsobj is None:
                raise not_found("namespaces", ns)
            if nsobj["metadata"].get("deletionTimestamp") and resource != "events":
                raise StoreError(
                    403,
                    f'{resource} "{name}" is forbidden: unable to create new content in namespace {ns} '
                    "because it is being terminated",
                    "Forbidden",
                )
        if self.admission is not None:  # after NamespaceLifecycle, as the admission chain orders it
            self.admission(resource, obj)
        meta["uid"] = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        meta["creationTimestamp"] = rfc3339(self.clock())
        meta.pop("deletionTimestamp", None)
        if ri.has_generation:
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        defaults.apply_defaults(ri, obj)
        _stamp_template_generation(ri, obj, None)
        if dry_run:
            meta["resourceVersion"] = str(self.resource_version)
            return obj
        self._commit("ADDED", ri, (ns, name), obj, None)
        return copy_obj(obj)

    def update(
        self,
        resource: str,
        obj: dict,
        *,
        check_rv: bool = True,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> dict:
        ri = info(resource)
        meta = defaults.metadata_of(obj)
        name = meta.get("name") or ""
        ns = self._namespace_for(ri, meta)
        old = self._table(resource).get((ns, name))
        if old is None:
            raise not_found(resource, name, ri.group)
        sent_rv = meta.get("resourceVersion")
        if check_rv and sent_rv and sent_rv != old["metadata"]["resourceVersion"]:
            raise conflict(resource, name, ri.group)
        if subresource == "status":
            new = copy_obj(old)
            if "status" in obj:
                new["status"] = copy_obj(obj["status"])
            else:
                new.pop("status", None)
        elif subresource:
            raise StoreError(
                404, f"the server could not find the requested resource ({resource}/{subresource})"
            )
        else:
            new = copy_obj(obj)
            nmeta = new.setdefault("metadata", {})
            for k in ("uid", "creationTimestamp", "deletionTimestamp", "generation"):
                if k in old["metadata"]:
                    nmeta[k] = old["metadata"][k]
                else:
                    nmeta.pop(k, None)
            nmeta["name"], nmeta["namespace"] = name, ns
            if not ri.namespaced:
                nmeta.pop("namespace", None)
            if "managedFields" not in nmeta and "managedFields" in old["metadata"]:
                nmeta["managedFields"] = old["metadata"]["managedFields"]
            if ri.status_subresource:
                if "status" in old:
                    new["status"] = old["status"]
                else:
                    new.pop("status", None)
            new = _kind_first(ri, new)
            nmeta = new["metadata"]
            defaults.validate(ri, new)
            defaults.apply_defaults(ri, new)
            if ri.has_generation and new.get("spec") != old.get("spec"):
                nmeta["generation"] = int(old["metadata"].get("generation", 1)) + 1
            _stamp_template_generation(ri, new, old)
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        if not new["metadata"].get("managedFields"):
            new["metadata"].pop("managedFields", None)
        if new == old or dry_run:
            return copy_obj(new)
        self._commit("MODIFIED", ri, (ns, name), new, old)
        return copy_obj(new)

    def mutate(
        self,
        resource: str,
        namespace: str,
        name: str,
        fn: Callable[[dict], None],
        *,
        subresource: str | None = None,
    ) -> dict:
        """Read-modify-write without a resourceVersion check (for controllers); 404 if absent."""
        cur = self.get(resource, namespace, name)
        if cur is None:
            raise not_found(resource, name, info(resource).group)
        fn(cur)
        return self.update(resource, cur, check_rv=False, subresource=subresource)

    def delete(
        self,
        resource: str,
        namespace: str,
        name: str,
        *,
        uid: str | None = None,
        resource_version: str | None = None,
        dry_run: bool = False,
        orphan: bool = False,
    ) -> dict | None:
        """Remove an object (None if absent); dependents named by ownerReferences go too.

        A Namespace first turns Terminating, then (after `namespace_finalize_delay`, on the running loop)
        loses everything inside it and disappears, as a real one does.
        """
        ri = info(resource)
        key = (namespace or "" if ri.namespaced else "", name)
        old = self._table(resource).get(key)
        if old is None:
            return None
        if (uid and old["metadata"]["uid"] != uid) or (
            resource_version and (old["metadata"]["resourceVersion"] != resource_version)
        ):
            raise conflict(resource, name, ri.group)
        if dry_run:
            return copy_obj(old)
        if resource == "namespaces":
            return self._terminate_namespace(old)
        if orphan:
            self._orphan_dependents(old["metadata"]["uid"])
        self._remove(ri, key, old)
        return copy_obj(old)

    def _orphan_dependents(self, uid: str) -> None:
        """propagationPolicy=Orphan: dependents stay, minus their ownerReference to the deleted owner."""
        for resource, ns, name in sorted(self._dependents.pop(uid, ())):

            def drop(obj: dict) -> None:
                refs = [r for r in obj["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
                if refs:
                    obj["metadata"]["ownerReferences"] = refs
                else:
                    obj["metadata"].pop("ownerReferences", None)

            if self.peek(resource, ns, name) is not None:
                self.mutate(resource, ns, name, drop)

    def _remove(self, ri: ResourceInfo, key: Key, old: dict) -> None:
        gone = copy_obj(old)
        self._commit("DELETED", ri, key, gone, old)
        for dep in sorted(self._dependents.pop(old["metadata"]["uid"], ())):
            dri = RESOURCES[dep[0]]
            dold = self._table(dep[0]).get((dep[1], dep[2]))
            if dold is not None:
                self._remove(dri, (dep[1], dep[2]), dold)

    def _terminate_namespace(self, old: dict) -> dict:
        name = old["metadata"]["name"]
        if not old["metadata"].get("deletionTimestamp"):
            new = copy_obj(old)
            new["metadata"]["deletionTimestamp"] = rfc3339(self.clock())
            new.setdefault("status", {})["phase"] = "Terminating"
            self._commit("MODIFIED", RESOURCES["namespaces"], ("", name), new, old)
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self._finalize_namespace(name)
            else:
                loop.call_later(self.namespace_finalize_delay, self._finalize_namespace, name)
        cur = self._objects["namespaces"].get(("", name))
        return copy_obj(cur if cur is not None else old)

    def _finalize_namespace(self, name: str) -> None:
        for resource, ri in RESOURCES.items():
            if ri.namespaced and ri.stored:
                table = self._objects[resource]
                for key in sorted(k for k in table if k[0] == name):
                    if key in table:
                        self._remove(ri, key, table[key])
        old = self._objects["namespaces"].get(("", name))
        if old is not None:
            self._remove(RESOURCES["namespaces"], ("", name), old)

    # ---- watch -------------------------------------------------------------------------------------
    def subscribe(self, resources: Iterable[str] | None = None, *, copy: bool = True) -> asyncio.Queue:
        """An unbounded queue receiving every committed change (WatchEvent) in RV order.

        With copy=False the events carry the stored objects themselves (read-only, no copy cost).
        """
        q: asyncio.Queue = asyncio.Queue()
        self._subs[q] = (frozenset(resources) if resources is not None else None, copy)
        return q

    def unsubscribe(self, q: asyncio.Queue) -> None:
        self._subs.pop(q, None)

    @property
    def oldest_resource_version(self) -> int:
        """Watches may resume from this RV or newer; older ones get 410 Expired."""
        return self._compacted

    def events_since(
        self,
        resource: str,
        namespace: str | None,
        rv: int,
        label_selector: str | None = None,
        field_selector: str | None = None,
        *,
        match: Predicate | None = None,
    ) -> list[WatchEvent]:
        """Changes after `rv` (filtered like a watch would); 410 Expired when `rv` left the history."""
        if rv < self._compacted:
            raise StoreError(410, f"too old resource version: {rv} ({self._compacted})", "Expired")
        pred = combine(
            parse_label_selector(label_selector), parse_field_selector(field_selector, resource), match
        )
        out: list[WatchEvent] = []
        for ev in self._history:
            if ev.rv <= rv or ev.resource != resource:
                continue
            if namespace and ev.object["metadata"].get("namespace") != namespace:
                continue
            fev = filter_event(ev, pred)
            if fev is not None:
                out.append(fev)
        return out

    def expire_history(self) -> None:
        """Forget all watch history: any resume from an RV issued so far gets 410 Expired."""
        self._history.clear()
        self.resource_version += 1
        self._compacted = self.resource_version

    # ---- internals ---------------------------------------------------------------------------------
    def _table(self, resource: str) -> dict[Key, dict]:
        try:
            return self._objects[resource]
        except KeyError:
            raise StoreError(404, f"the server could not find the requested resource ({resource})") from None

    @staticmethod
    def _namespace_for(ri: ResourceInfo, meta: dict) -> str:
        if not ri.namespaced:
            meta.pop("namespace", None)
            return ""
        ns = meta.get("namespace") or ""
        if not ns:
            raise StoreError(400, "an empty namespace may not be set during creation", "BadRequest")
        return ns

    def _commit(self, type_: str, ri: ResourceInfo, key: Key, new: dict, old: dict | None) -> None:
        self.resource_version += 1
        rv = self.resource_version
        new["metadata"]["resourceVersion"] = str(rv)
        table = self._objects[ri.plural]
        ref = (ri.plural, key[0], key[1])
        if old is not None:
            for o in old["metadata"].get("ownerReferences") or ():
                deps = self._dependents.get(o.get("uid"))
                if deps is not None:
                    deps.discard(ref)
        self._encoded.pop(ref, None)
        if type_ == "DELETED":
            del table[key]
        else:
            table[key] = new
            for o in new["metadata"].get("ownerReferences") or ():
                if o.get("uid"):
                    self._dependents.setdefault(o["uid"], set()).add(ref)
        ev = WatchEvent(type_, ri.plural, new, rv, old if type_ == "MODIFIED" else None)
        self._history.append(ev)
        while len(self._history) > self._history_max:
            self._compacted = self._history.popleft().rv
        for q, (resources, copy) in list(self._subs.items()):
            if resources is None or ri.plural in resources:
                if copy:
                    q.put_nowait(
                        WatchEvent(type_, ri.plural, copy_obj(new), rv, copy_obj(old) if ev.old else None)
                    )
                else:
                    q.put_nowait(ev)


TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"


def _stamp_template_generation(ri, new: dict, old: dict | None) -> None:
    """A DaemonSet's template generation, as the API server keeps it: 1 at creation, +1 on each change of
    `spec.template` only, shown in this annotation of apps/v1 (clients cannot set it)."""
    if ri.kind != "DaemonSet":
        return
    if old is None:
        gen = 1
    else:
        before = int((old["metadata"].get("annotations") or {}).get(TEMPLATE_GENERATION) or 1)
        changed = (new.get("spec") or {}).get("template") != (old.get("spec") or {}).get("template")
        gen = before + 1 if changed else before
    new["metadata"].setdefault("annotations", {})[TEMPLATE_GENERATION] = str(gen)
