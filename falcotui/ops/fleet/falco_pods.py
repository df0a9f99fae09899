"""What Falco's own log lines say about each Falco pod: version, starts, dry runs, hot reloads and their
outcome, event drops, the health webserver. One classifier per pod, fed in log order with each line's
kubelet timestamp (the pipeline's one reader of a pod's log: the alert hub, the fleet grid and reload
tracking all read this model).

Facts this relies on (see DESIGN.md): on a changed rules file Falco dry-runs the new rules; if they load it
logs `SIGHUP received, restarting...` and restarts its engine (printing its version again and opening its
event sources); if they do not, it keeps the old rules and emits the internal alert `Falco internal: hot
restart failure` (create_signal_handlers.cpp). Invalid rules at start print `Error: ...` and Falco exits
(the pod then crash-loops). Dropped syscall events are reported as the internal alert `Falco internal:
syscall event drop` (userspace/falco/event_drops.cpp).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from falcotui.falco.alert_text import OutputTemplates
from falcotui.falco.alerts import Alert
from falcotui.falco.load_failure import parse_load_failure
from falcotui.falco.loglines import LineKind, LogLine, LogLineClassifier
from falcotui.ops.fleet.falco_problems import (
    MISSING_STREAK,
    FalcoProblem,
    container_metadata,
    perf_event_problem,
    runtime_socket_problem,
)
from falcotui.ops.rules.reload_state import (
    HOT_RESTART_FAILURE,
    RESTARTED_DETAIL,
    SIGHUP_DETAIL,
    NodeReload,
    ReloadState,
)

EVENT_DROP = "Falco internal: syscall event drop"
RECENT_LINES = 50
RELOAD_HISTORY = 32
#: after `SIGHUP received` these lines show the restart completed: the sources opened, the servers listen
_STARTED = (LineKind.OPENING, LineKind.EVENT_SOURCES, LineKind.WEBSERVER, LineKind.GRPC)


@dataclass(slots=True)
class FalcoPodInfo:
    """One Falco pod as its log describes it. `started_ns` is the last (re)start of Falco itself."""

    pod: str
    node: str | None = None
    version: str | None = None
    started_ns: int | None = None
    starts: int = 0  # real starts seen in the log (a restart of the container logs another)
    dry_runs: int = 0  # banners that were a hot reload's dry run, not a start
    last_reload: NodeReload | None = None  # restarting / reloaded / rejected / failed, with the log's time
    last_error: NodeReload | None = None
    reloads: int = 0
    rejected: int = 0
    drops: int = 0  # `Falco internal: syscall event drop` alerts
    last_drop_ns: int | None = None
    health_address: str | None = None  # where its health webserver listens, from its start-up line
    # reload outcomes in log order (kubelet time), each with the container instance that logged it, for
    # "what happened since a push" (ops/reload_watch.py)
    reload_events: deque[tuple[int, NodeReload]] = field(default_factory=lambda: deque(maxlen=RELOAD_HISTORY))
    instance: int = 0  # the restartCount of the container instance whose lines the follower reads now
    recent: deque[tuple[int | None, str]] = field(default_factory=lambda: deque(maxlen=RECENT_LINES))
    # A start failure the log explains (perf_event_paranoid), and missing container metadata in its alerts
    start_problem: FalcoProblem | None = None
    metadata_problem: FalcoProblem | None = None
    missing_metadata: int = 0  # container alerts in a row without runtime metadata

    @property
    def problem(self) -> FalcoProblem | None:
        return self.start_problem or self.metadata_problem

    def note_reload(self, event: NodeReload) -> None:
        self.last_reload = event
        self.reload_events.append((self.instance, event))


def _first_line(text: str, limit: int = 300) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:limit]


class FalcoPodTracker:
    """Classifies each pod's log lines in order and keeps a FalcoPodInfo per pod."""

    def __init__(self, text_rules: OutputTemplates | None = None) -> None:
        self._text_rules = text_rules  # to name the rule of `json_output: false` alerts
        self._classifiers: dict[str, LogLineClassifier] = {}
        self._sighup: dict[str, bool] = {}  # SIGHUP seen, the restart's banner not yet
        self._restarting: set[str] = set()  # SIGHUP seen, the restart not yet complete
        # A version line starts a banner; it is a (re)start only if the event sources are then opened.
        # Before `SIGHUP received` Falco's dry run prints the same banner but opens nothing
        # (create_signal_handlers.cpp runs falco::app::run with dry_run; process_events.cpp skips in dry-run).
        self._banner: dict[str, tuple[int | None, int | None]] = {}  # pod -> (banner time, started before)
        self.pods: dict[str, FalcoPodInfo] = {}
        self._pod_of_node: dict[str, str] = {}

    def info(self, pod: str, node: str | None = None) -> FalcoPodInfo:
        found = self.pods.get(pod)
        if found is None:
            found = self.pods[pod] = FalcoPodInfo(pod, node)
        if node is not None:
            found.node = node
            self._pod_of_node[node] = pod
        return found

    def pod_on(self, node: str) -> FalcoPodInfo | None:
        """The Falco pod whose log was last seen from `node`."""
        pod = self._pod_of_node.get(node)
        return None if pod is None else self.pods.get(pod)

    def container_instance(self, pod: str, restarts: int) -> None:
        """The follower of `pod` reads the container instance with this restartCount from now on (at its
        start, and after a restart: the crashed instance's last lines came before, see
        kube.logs.LogFollower._on_restart)."""
        info = self.info(pod)
        if restarts != info.instance:
            info.instance = restarts
            self._restarting.discard(pod)
            self._sighup.pop(pod, None)

    def forget(self, pod: str) -> None:
        self._classifiers.pop(pod, None)
        self._sighup.pop(pod, None)
        self._restarting.discard(pod)
        self._banner.pop(pod, None)
        info = self.pods.pop(pod, None)
        if info is not None and info.node is not None and self._pod_of_node.get(info.node) == pod:
            del self._pod_of_node[info.node]

    def classify(
        self, pod: str, line: str | bytes, *, node: str | None = None, ts_ns: int | None = None
    ) -> LogLine:
        """Classify one line of `pod`'s log; Falco's own lines update the pod's info (alerts do not:
        pass those to `note_alert` once they are accepted)."""
        classifier = self._classifiers.get(pod)
        if classifier is None:
            classifier = LogLineClassifier(node=node, pod=pod, rules=self._text_rules)
            self._classifiers[pod] = classifier
        elif node is not None and classifier.node != node:
            classifier.node = node
        result = classifier.classify(line, ts_ns)
        if result.alert is None:
            self._note_line(pod, node, result)
        return result

    def _note_line(self, pod: str, node: str | None, line: LogLine) -> None:
        kind = line.kind
        at = line.k8s_time_ns if line.k8s_time_ns is not None else line.falco_time_ns
        info = self.info(pod, node)
        if kind is not LineKind.UNKNOWN or line.text:
            info.recent.append((at, line.text))
        if kind is LineKind.VERSION:
            info.version = line.version
            if not self._sighup.pop(pod, False):
                self._banner[pod] = (at, info.started_ns)
                info.started_ns = at
        elif kind in _STARTED:
            # a real start: it opened its sources / servers (the dry run lists its sources, opens none)
            if kind is not LineKind.EVENT_SOURCES and self._banner.pop(pod, None) is not None:
                info.starts += 1
            info.start_problem = None
            if kind is LineKind.WEBSERVER:
                info.health_address = line.detail
            if pod in self._restarting:
                self._restarting.discard(pod)
                info.note_reload(
                    NodeReload(ReloadState.RELOADED, at, RESTARTED_DETAIL, None, node or "", pod)
                )
        elif kind is LineKind.SIGHUP:
            banner = self._banner.pop(pod, None)
            if banner is not None and info.started_ns == banner[0]:
                info.started_ns = banner[1]  # that banner was the dry run, not a start
                info.dry_runs += 1
            self._sighup[pod] = True
            self._restarting.add(pod)
            info.reloads += 1
            info.note_reload(NodeReload(ReloadState.RESTARTING, at, SIGHUP_DETAIL, None, node or "", pod))
        elif kind is LineKind.ERROR:
            detail = _first_line(line.detail or "")
            if not detail:  # `Error: ` alone, as after libbpf's EACCES lines: say what the log did show
                detail = info.start_problem.evidence if info.start_problem else _first_line(line.text)
            self._restarting.discard(pod)
            info.last_error = NodeReload(ReloadState.FAILED, at, detail, None, node or "", pod)
            info.note_reload(info.last_error)
        elif info.start_problem is None and (found := perf_event_problem(line.text)) is not None:
            info.start_problem = found  # the first of libbpf's lines names the tracepoint and the error

    def _info_of(self, alert: Alert) -> FalcoPodInfo | None:
        if alert.pod is not None:
            return self.info(alert.pod, alert.node)
        if alert.node is not None:
            return self.pod_on(alert.node)
        return None

    def metadata_settled(self, pod: str | None) -> str | None:
        """The node of `pod` when `note_metadata` changes nothing for its container alerts that carry
        runtime metadata (no streak of alerts without it, no problem shown, still the node's pod); else
        None. The alert hub asks once per pod and batch instead of calling `note_metadata` per alert."""
        info = self.pods.get(pod) if pod is not None else None
        if info is None or info.missing_metadata or info.metadata_problem is not None or info.node is None:
            return None
        return info.node if self._pod_of_node.get(info.node) == pod else None

    def note_metadata(self, alert: Alert) -> FalcoPodInfo | None:
        """Count container alerts without runtime metadata; returns the pod info if its problem changed."""
        has = container_metadata(alert)
        if has is None:
            return None
        pod, node = alert.pod, alert.node
        if has and pod is not None:  # the common case, where nothing changes: skip the bookkeeping
            info = self.pods.get(pod)
            if (
                info is not None
                and not info.missing_metadata
                and info.metadata_problem is None
                and (node is None or (info.node == node and self._pod_of_node.get(node) == pod))
            ):
                return None
        info = self._info_of(alert)
        if info is None:
            return None
        before = info.metadata_problem
        if has:
            info.missing_metadata, info.metadata_problem = 0, None
        else:
            info.missing_metadata += 1
            if info.missing_metadata >= MISSING_STREAK and before is None:
                info.metadata_problem = runtime_socket_problem(alert)
        return info if (before is None) != (info.metadata_problem is None) else None

    def note_alert(self, alert: Alert, line_ns: int | None = None) -> FalcoPodInfo | None:
        """Track an internal alert (a hot restart failure, an event drop); `line_ns` is its line's kubelet
        timestamp (default its event time). Returns the pod info it changed, if any."""
        if alert.rule == EVENT_DROP:
            info = self._info_of(alert)
            if info is not None:
                info.drops += 1
                info.last_drop_ns = alert.time_ns
            return info
        if alert.rule != HOT_RESTART_FAILURE:
            return None
        info = self._info_of(alert)
        if info is None:
            return None
        banner = self._banner.pop(info.pod, None)  # the failed dry run's banner was not a start either
        if banner is not None and info.started_ns == banner[0]:
            info.started_ns = banner[1]
            info.dry_runs += 1
        info.rejected += 1
        failure = parse_load_failure(alert.message)
        said = failure.summary if failure is not None else _first_line(alert.message)
        detail = f"{HOT_RESTART_FAILURE}: {said}" if not said.startswith(HOT_RESTART_FAILURE) else said
        at = alert.time_ns if line_ns is None else line_ns
        info.note_reload(NodeReload(ReloadState.REJECTED, at, detail, failure, info.node or "", info.pod))
        return info
