"""The `log` channel of every node: one log follower per Falco pod, its lines into the AlertHub.

Driven by the engine's pods informer (no second watch): a pod whose Falco container has started gets a
`kube.logs.LogFollower` (tail on start, stern-style resume after a cut, `previous` after a crash); a
deleted pod's follower may drain for `delete_grace` seconds, then stops. Batches of lines are ingested on
the event loop as they arrive; the follower's notices become the node's channel health and notable events.
A node's channel reflects only its newest pod, so an old pod's "ended" cannot mark its successor down.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass

from falcotui.kube.client import KubeClients
from falcotui.kube.logs import FollowerNotice, LogFollower, container_status, has_logs, pick_container
from falcotui.ops.alerts.hub import AlertHub
from falcotui.ops.notices import NoticeKind, NoticeLog


@dataclass(slots=True)
class _Followed:
    follower: LogFollower
    node: str
    pod: str
    reloads: int = 0
    rejected: int = 0
    last_error: object = None
    connected: bool = False
    last_ts: int | None = None  # the kubelet timestamp of the last line received (the node's clock)


def _uid(pod: dict) -> str:
    return (pod.get("metadata") or {}).get("uid") or ""


class LogChannels:
    """Keeps a follower per Falco pod (by uid) and reports what they read to `hub`."""

    def __init__(
        self,
        clients: KubeClients,
        hub: AlertHub,
        notices: NoticeLog,
        *,
        namespace: str = "falco",
        container: str | None = "falco",
        tail_lines: int | None = 1000,
        since_ns: int | None = None,
        idle_timeout: float = 120.0,
        delete_grace: float = 5.0,
    ) -> None:
        self.clients = clients
        self.hub = hub
        self.notices = notices
        self.namespace = namespace
        self.container = container
        self.tail_lines = tail_lines
        self.since_ns = since_ns  # first start of each follower: only lines from this time on
        self.idle_timeout = idle_timeout
        self.delete_grace = delete_grace
        self.followed: dict[str, _Followed] = {}  # by pod uid
        self._node_uid: dict[str, str] = {}  # node -> uid of its newest followed pod
        self._stopping: set[str] = set()
        self.lines = 0
        self._closed = False

    # ------------------------------------------------------------ pods (from the informer)

    def sync(self, pods: list[dict]) -> None:
        """A full list: follow every pod, let followers of pods no longer listed drain and stop."""
        alive = {_uid(p) for p in pods}
        for uid in list(self.followed):
            if uid not in alive:
                self._retire(uid)
        for pod in pods:
            self.pod_changed(pod)

    def pod_changed(self, pod: dict) -> None:
        uid = _uid(pod)
        if self._closed or not uid or uid in self.followed:
            return
        container = pick_container(pod, self.container)
        if not has_logs(pod, container):
            return
        meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
        node, name = spec.get("nodeName") or "", meta.get("name") or ""
        follower = LogFollower(
            self.clients,
            meta.get("namespace") or self.namespace,
            name,
            functools.partial(self._receive, uid),
            container=container,
            node=node,
            tail_lines=self.tail_lines,
            since_ns=self.since_ns,
            idle_timeout=self.idle_timeout,
            initial_pod=pod,
        )
        self.followed[uid] = _Followed(follower, node, name)
        restarts = int((container_status(pod, container) or {}).get("restartCount") or 0)
        self.hub.falco.container_instance(name, restarts)  # the instance its first lines come from
        previous = self._node_uid.get(node)
        self._node_uid[node] = uid
        if previous is None or previous not in self.followed:
            self.notices.add(NoticeKind.POD_ADDED, f"following {name} on {node}", node=node, pod=name)
        else:
            old = self.followed[previous].pod
            self.notices.add(
                NoticeKind.POD_ADDED, f"{name} replaced {old} on {node}: following it", node=node, pod=name
            )
        follower.start()

    def pod_deleted(self, pod: dict) -> None:
        uid = _uid(pod)
        if uid in self.followed:
            f = self.followed[uid]
            self.notices.add(NoticeKind.POD_GONE, f"{f.pod} on {f.node} was deleted", node=f.node, pod=f.pod)
            self._retire(uid)

    def _retire(self, uid: str) -> None:
        if uid in self._stopping:
            return
        self._stopping.add(uid)
        asyncio.get_running_loop().call_later(self.delete_grace, self._stop, uid)

    def _stop(self, uid: str) -> None:
        self._stopping.discard(uid)
        f = self.followed.pop(uid, None)
        if f is None:
            return
        f.follower.stop()
        if all(o.pod != f.pod for o in self.followed.values()):
            self.hub.falco.forget(f.pod)
        if self._node_uid.get(f.node) == uid:
            del self._node_uid[f.node]
            self.hub.set_channel(f.node, "log", False, pod=f.pod, detail="pod gone")

    # ------------------------------------------------------------ follower output (on the loop)

    def _current(self, uid: str) -> _Followed | None:
        f = self.followed.get(uid)
        return f if f is not None and self._node_uid.get(f.node) == uid else None

    def _receive(self, uid: str, item: object) -> None:
        if isinstance(item, list):
            self.hub.ingest_log_lines(item)
            self.lines += len(item)
            f = self.followed.get(uid)
            if f is not None:
                if item:
                    f.last_ts = item[-1].ts_ns
                self._check_reloads(f)
        elif isinstance(item, FollowerNotice):
            self._notice(uid, item)

    def _check_reloads(self, f: _Followed) -> None:
        info = self.hub.pod_info(f.pod)
        if info is None:
            return
        if info.reloads > f.reloads:
            f.reloads = info.reloads
            self.notices.add(NoticeKind.RELOAD, f"{f.node}: Falco reloaded its rules", node=f.node, pod=f.pod)
        if info.rejected > f.rejected:
            f.rejected = info.rejected
            why = info.last_reload.detail if info.last_reload else ""
            self.notices.add(
                NoticeKind.RELOAD_REJECTED,
                f"{f.node}: Falco rejected the new rules ({why})" if why else f"{f.node}: rules rejected",
                node=f.node,
                pod=f.pod,
            )
        error = info.last_error
        if error is not None and error is not f.last_error:
            f.last_error = error
            self.notices.add(NoticeKind.FALCO_ERROR, f"{f.node}: {error.detail}", node=f.node, pod=f.pod)

    def _notice(self, uid: str, n: FollowerNotice) -> None:
        f = self._current(uid)
        if n.kind == "gap" and n.gap is not None:
            node = n.node or (f.node if f else "")
            self.hub.record_gap(node, "log", *n.gap, pod=n.pod)
            self.notices.add(
                NoticeKind.STREAM_GAP,
                f"{node}: the log resumed without proof that no line was missed (see the marker in Alerts)",
                node=node,
                pod=n.pod,
            )
            return
        if n.kind == "restarted":
            if n.restarts is not None:
                self.hub.falco.container_instance(n.pod, n.restarts)
            node = n.node or (f.node if f else "")
            self.notices.add(
                NoticeKind.POD_RESTARTED,
                f"{n.pod} on {node} restarted ({n.detail}): following the new container",
                node=node,
                pod=n.pod,
            )
        if f is None:
            return  # an older pod of the node, or one being retired: the node's channel is its successor's
        if n.kind in ("following", "resumed"):
            self.hub.set_channel(f.node, "log", True, pod=f.pod, detail=f"following {f.pod}")
            if not f.connected and n.kind == "resumed":
                self.notices.add(
                    NoticeKind.STREAM_RESUMED, f"{f.node}: log stream resumed", node=f.node, pod=f.pod
                )
            f.connected = True
        elif n.kind in ("waiting", "ended"):
            detail = n.detail or ("pod gone" if n.kind == "ended" else "waiting")
            self.hub.set_channel(f.node, "log", False, pod=f.pod, detail=detail)
            if f.connected:
                self.notices.add(
                    NoticeKind.STREAM_DROPPED,
                    f"{f.node}: log stream dropped: {detail}",
                    node=f.node,
                    pod=f.pod,
                )
            f.connected = False

    # ------------------------------------------------------------ figures and shutdown

    @property
    def live(self) -> int:
        """Followers currently streaming (one per node at most counts)."""
        return sum(1 for uid in self._node_uid.values() if (f := self.followed.get(uid)) and f.connected)

    @property
    def pods(self) -> int:
        return sum(1 for f in self.followed.values() if not f.follower.done.is_set())

    @property
    def streams_opened(self) -> int:
        return sum(f.follower.streams for f in self.followed.values())

    def log_marks(self) -> dict[str, int]:
        """Pod name -> the kubelet timestamp of the last line read from it, for every followed pod that has
        delivered a line: where each log stands now, by its node's clock (a rules push's mark)."""
        return {f.pod: f.last_ts for f in list(self.followed.values()) if f.last_ts is not None}

    def settled(self) -> bool:
        """Every running follower has delivered at least one line (its tail), or ended."""
        return all(f.last_ts is not None or f.follower.done.is_set() for f in list(self.followed.values()))

    def followed_pods(self) -> set[str]:
        return {f.pod for f in self.followed.values() if not f.follower.done.is_set()}

    async def aclose(self) -> None:
        self._closed = True
        followers = [f.follower for f in self.followed.values()]
        for follower in followers:
            follower.stop()
        await asyncio.gather(*(f.aclose() for f in followers))
