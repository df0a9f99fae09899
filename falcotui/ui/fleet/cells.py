"""How a node's Falco pod reads in a cell: the state's colour and the words (`Running 1/1`, `CrashLoop`,
`no pod: taint ...`), shared by the Fleet screen's rows and the node detail screen."""

from __future__ import annotations

from rich.text import Text

from falcotui.falco.sanitize import safe_text
from falcotui.ops.fleet.falco_problems import ProblemKind
from falcotui.ops.fleet.status import NodeState, NodeStatus

STATE_STYLE = {
    NodeState.NO_POD: "bold red",
    NodeState.CRASH_LOOP: "bold red",
    NodeState.IMAGE_PULL: "bold red",
    NodeState.FAILING: "red",
    NodeState.PENDING: "yellow",
    NodeState.TERMINATING: "yellow",
    NodeState.NODE_NOT_READY: "yellow",
    NodeState.NOT_READY: "yellow",
    NodeState.RUNNING: "green",
}
PROBLEM_WORD = {ProblemKind.PERF_EVENT_PARANOID: "sysctl", ProblemKind.NO_RUNTIME_SOCKET: "no-runtime"}


def falco_cell(row: NodeStatus) -> Text:
    """Pod state words: `Running 1/1`, `CrashLoop`, `no pod — taint …` (trouble in red)."""
    style = STATE_STYLE[row.state]
    if row.pod is None:
        why = f"taint {row.no_pod_taint}" if row.no_pod_taint else row.no_pod_reason or "not scheduled"
        return safe_text(f"no pod: {why}", style, max_len=60)
    state = row.pod.state
    if state == "CrashLoopBackOff":
        state = "CrashLoop"
    text = f"{state} {row.pod.ready_text}" if row.state is NodeState.RUNNING else state
    if row.problem is not None:  # the cause in a word; the hint line and node detail say it in full
        text = f"{text} {PROBLEM_WORD[row.problem.kind]}"
        style = "bold red" if row.problem.kind is ProblemKind.PERF_EVENT_PARANOID else "yellow"
    return safe_text(text, style, max_len=40)
