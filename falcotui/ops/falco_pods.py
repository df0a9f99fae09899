"""What Falco's own log lines say about each Falco pod: version, starts, hot reloads and their outcome.

Facts this relies on (see DESIGN.md): on a changed rules file Falco dry-runs the new rules; if they load it
logs `SIGHUP received, restarting...` and restarts its engine (printing its version again); if they do
not, it keeps the old rules and emits the internal alert `Falco internal: hot restart failure`. Invalid
rules at start print `Error: ...` and Falco exits (the pod then crash-loops).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

from falcotui.falco.alerts import Alert, OutputTemplates
from falcotui.falco.load_failure import LoadFailure, parse_load_failure
from falcotui.falco.loglines import LineKind, LogLine, LogLineClassifier
from falcotui.ops.falco_problems import (
    MISSING_STREAK,
    FalcoProblem,
    container_metadata,
    perf_event_problem,
    runtime_socket_problem,
)

HOT_RESTART_FAILURE = "Falco internal: hot restart failure"
RECENT_LINES = 50


class ReloadOutcome(StrEnum):
    OK = "ok"  # SIGHUP received: the new rules passed the dry run and Falco restarted with them
    REJECTED = "rejected"  # hot restart failure: the old rules keep running
    FAILED = "failed"  # `Error:` while starting: Falco exited


@dataclass(frozen=True, slots=True)
class ReloadEvent:
    outcome: ReloadOutcome
    at_ns: int | None
    detail: str = ""
    failure: LoadFailure | None = None  # where and why the rules were refused, when Falco's text says


@dataclass(slots=True)
class FalcoPodInfo:
    """One Falco pod as its log describes it. `started_ns` is the last (re)start of Falco itself."""

    pod: str
    node: str | None = None
    version: str | None = None
    started_ns: int | None = None
    last_reload: ReloadEvent | None = None
    last_error: ReloadEvent | None = None
    reloads: int = 0
    rejected: int = 0
    recent: deque[tuple[int | None, str]] = field(default_factory=lambda: deque(maxlen=RECENT_LINES))
    # A start failure the log explains (perf_event_paranoid), and missing container metadata in its alerts
    start_problem: FalcoProblem | None = None
    metadata_problem: FalcoProblem | None = None
    missing_metadata: int = 0  # container alerts in a row without runtime metadata

    @property
    def problem(self) -> FalcoProblem | None:
        return self.start_problem or self.metadata_problem


def _first_line(text: str, limit: int = 300) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:limit]


class FalcoPodTracker:
    """Classifies each pod's log lines in order and keeps a FalcoPodInfo per pod."""

    def __init__(self, text_rules: OutputTemplates | None = None) -> None:
        self._text_rules = text_rules  # to name the rule of `json_output: false` alerts
        self._classifiers: dict[str, LogLineClassifier] = {}
        self._sighup: dict[str, bool] = {}
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

    def forget(self, pod: str) -> None:
        self._classifiers.pop(pod, None)
        self._sighup.pop(pod, None)
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
        elif kind in (LineKind.OPENING, LineKind.WEBSERVER, LineKind.GRPC):
            self._banner.pop(pod, None)  # a real start: it opened its sources / servers
            info.start_problem = None
        elif kind is LineKind.SIGHUP:
            banner = self._banner.pop(pod, None)
            if banner is not None and info.started_ns == banner[0]:
                info.started_ns = banner[1]  # that banner was the dry run, not a start
            self._sighup[pod] = True
            info.reloads += 1
            info.last_reload = ReloadEvent(ReloadOutcome.OK, at)
        elif kind is LineKind.ERROR:
            detail = _first_line(line.detail or "")
            if not detail:  # `Error: ` alone, as after libbpf's EACCES lines: say what the log did show
                detail = info.start_problem.evidence if info.start_problem else _first_line(line.text)
            info.last_error = ReloadEvent(ReloadOutcome.FAILED, at, detail)
            info.last_reload = info.last_error
        elif info.start_problem is None and (found := perf_event_problem(line.text)) is not None:
            info.start_problem = found  # the first of libbpf's lines names the tracepoint and the error

    def _info_of(self, alert: Alert) -> FalcoPodInfo | None:
        if alert.pod is not None:
            return self.info(alert.pod, alert.node)
        if alert.node is not None:
            return self.pod_on(alert.node)
        return None

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

    def note_alert(self, alert: Alert) -> FalcoPodInfo | None:
        """Track a hot restart failure; returns the pod info it changed, if any."""
        if alert.rule != HOT_RESTART_FAILURE:
            return None
        info = self._info_of(alert)
        if info is None:
            return None
        banner = self._banner.pop(info.pod, None)  # the failed dry run's banner was not a start either
        if banner is not None and info.started_ns == banner[0]:
            info.started_ns = banner[1]
        info.rejected += 1
        failure = parse_load_failure(alert.message)
        detail = failure.summary if failure is not None else _first_line(alert.message)
        info.last_reload = ReloadEvent(ReloadOutcome.REJECTED, alert.time_ns, detail, failure)
        return info
