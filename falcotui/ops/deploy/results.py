"""What the deployer's steps end with: a `DeployError` when one fails; for following a rollout or an
uninstall, the stuck and the uncovered nodes, each with the reason and the way out (`RolloutResult.explain()`
is what `apply`, `restart` and the Deploy screen print)."""

from __future__ import annotations

from dataclasses import dataclass, field

from falcotui.falco.sanitize import sanitize
from falcotui.kube.rollout import RolloutStatus
from falcotui.ops.fleet.falco_problems import FalcoProblem


class DeployError(Exception):
    """A deployment step failed; `str()` explains it in one or a few readable lines."""


class DeployConflictError(DeployError):
    """Another field manager owns fields this apply sets; re-apply with force to take them."""

    def __init__(self, reports: list[str]):
        self.reports = reports
        super().__init__("\n".join(reports))


@dataclass(frozen=True, slots=True)
class StuckNode:
    node: str
    pod: str
    reason: str
    message: str
    last_lines: tuple[str, ...] = ()  # a crash loop's last log lines of the crashed container
    problem: FalcoProblem | None = None  # what those lines show, when falcotui knows the cause


@dataclass(slots=True)
class RolloutResult:
    done: bool
    message: str
    status: RolloutStatus
    stuck: list[StuckNode] = field(default_factory=list)
    timed_out: bool = False
    # nodes the DaemonSet leaves out (a taint, a non-Linux OS): done or not, Falco does not watch them
    uncovered: list[StuckNode] = field(default_factory=list)

    def explain(self) -> str:
        """Why the rollout did not complete, and which nodes it leaves out, with the reason and the way out
        for each (empty when done on every node)."""
        lines: list[str] = []
        if self.stuck and not self.done:
            names = ", ".join(s.node for s in self.stuck)
            lines.append(f"rollout stuck on {len(self.stuck)} node(s): {names}")
            for s in self.stuck:  # the reason, message and log lines are cluster text: sanitized
                message = f" - {sanitize(s.message, max_len=500)}" if s.message else ""
                lines.append(f"  {s.node}: {sanitize(s.reason, max_len=100)}{message}")
                lines.extend(f"    | {sanitize(line, max_len=500)}" for line in s.last_lines)
            lines.extend(_problem_groups(self.stuck))
        elif not self.done:
            waiting = [n for n in self.status.nodes if n.eligible and n.state != "ready"]
            lines.append("rollout did not complete in time: " + self.message)
            for n in waiting:
                lines.append(
                    f"  {n.node}: {n.state}" + (f" ({sanitize(n.reason, max_len=100)})" if n.reason else "")
                )
        if self.uncovered:
            names = ", ".join(s.node for s in self.uncovered)
            lines.append(f"Falco does not run on {len(self.uncovered)} node(s): {names}")
            for s in self.uncovered:
                problem = s.problem
                why = problem.summary if problem else sanitize(s.message)
                fix = f" — {' '.join(problem.remedies)}" if problem and problem.remedies else ""
                lines.append(f"  node {s.node} skipped: {why}{fix}")
        return "\n".join(lines)


def _problem_groups(stuck: list[StuckNode]) -> list[str]:
    """One paragraph per known cause: which nodes, why, and the ways out."""
    groups: dict[str, list[StuckNode]] = {}
    for s in stuck:
        if s.problem is not None:
            groups.setdefault(s.problem.kind, []).append(s)
    out: list[str] = []
    for nodes in groups.values():
        problem = nodes[0].problem
        assert problem is not None
        out.append(f"{len(nodes)} node(s) fail for one reason: {', '.join(s.node for s in nodes)}")
        out.append(f"  {problem.summary}")
        out.append("  ways out:")
        out.extend(f"    - {r}" for r in problem.remedies)
    return out


@dataclass(frozen=True, slots=True)
class UninstallProgress:
    ref: str
    status: str  # deleted | not found | waiting (pods left) | gone
