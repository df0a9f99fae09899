"""The verdicts of the cluster's own Falco beside falcotui's, before a push (issue 18).

One row per Falco version: the pod and node asked, Falco's verdict, falcotui's verdict for that version,
and whether they agree; a disagreement is highlighted and explained, Falco's own errors follow their row,
and a temporary directory left in a pod is said with its path. The push goes on only from here, and only
when every Falco asked loads the rules. Everything from the cluster is sanitized, never markup.
"""

from __future__ import annotations

from rich.text import Text

from falcotui.falco.sanitize import sanitize
from falcotui.ops.rules.incluster import ClusterVerdict, InClusterValidation
from falcotui.ui.widgets.dialogs import ConfirmDialog


def verdict_mark(ok: bool | None) -> tuple[str, str]:
    if ok is None:
        return "? not asked", "yellow"
    return ("✓ valid", "green") if ok else ("✗ INVALID", "bold red")


def verdict_text(v: ClusterVerdict) -> Text:
    """The row of one version and what follows it (errors, why it was not asked, a leftover)."""
    out = Text()
    where = f"pod {v.pod}" + (f" on {v.node}" if v.node else "")
    out.append(f"Falco {sanitize(v.version)}", "bold")
    out.append(f"  {sanitize(where, max_len=120)}\n", "dim")
    falco, falco_style = verdict_mark(v.ok)
    ours, ours_style = verdict_mark(v.ours_ok)
    out.append("  Falco: ")
    out.append(falco, falco_style)
    out.append("   falcotui: ")
    out.append(ours, ours_style)
    if v.disagrees:
        out.append("   ≠ DISAGREE", "bold reverse magenta")
        falco_says = "loads" if v.ok else "refuses"
        ours_says = "refuses" if v.ok else "loads"
        out.append(
            f"\n  the Falco in this pod {falco_says} the rules, falcotui's check for Falco "
            f"{sanitize(v.version)} {ours_says} them: the pod may run another Falco than its image tag "
            "says, or falcotui's validator differs from Falco here",
            "magenta",
        )
    elif v.ok is not None and v.ours_ok is not None:
        out.append("   = agree", "green" if v.ok else "red")
        if v.detail_differs:
            out.append("  (the errors found differ)", "yellow")
    out.append("\n")
    for m in [*v.errors, *v.warnings][:20]:
        item = f" [{m.item}]" if m.item else ""
        style = "red" if m.severity == "error" else "yellow"
        line = f"    {m.file}:{m.line}:{m.column} {m.code}: {m.message}{item}"
        out.append(sanitize(line, max_len=400) + "\n", style)
    if v.fatal and not v.errors:
        out.append(sanitize(f"    Error: {v.fatal}", max_len=400) + "\n", "red")
    if v.problem:
        out.append(sanitize(f"    not asked: {v.problem}", max_len=500) + "\n", "yellow")
    if v.cleanup_error:
        out.append(sanitize(f"    ⚠ {v.cleanup_error}", max_len=400) + "\n", "bold yellow")
    return out


def summary_line(result: InClusterValidation) -> str:
    """`cluster Falco: 0.43.1 ✗ · 0.45.0 ✓ (1 disagreement)` for the status line."""
    parts = [f"{v.version} {'?' if v.ok is None else ('✓' if v.ok else '✗')}" for v in result.verdicts]
    n = len(result.disagreements)
    tail = f" ({n} disagreement{'s' if n != 1 else ''} with falcotui)" if n else ""
    return "cluster Falco: " + " · ".join(parts) + tail


class InClusterDialog(ConfirmDialog):
    """Each version's verdict beside falcotui's; answers True to push (offered only when every Falco
    asked loads the rules and none was left unasked), False otherwise (Close)."""

    def __init__(self, result: InClusterValidation) -> None:
        unasked = [v for v in result.verdicts if v.ok is None]
        may_push = result.all_valid and not unasked
        rejected = len(result.rejected_by)
        if may_push:
            title = "The cluster's Falco loads these rules on every version asked"
        elif rejected:
            title = (
                f"✗ {rejected} Falco version{'s' if rejected != 1 else ''} refuse these rules: nothing pushed"
            )
        else:
            title = "The cluster's Falco could not be asked everywhere: nothing pushed"
        super().__init__(title, _verdicts(result), confirm="Push" if may_push else None)
        self.result = result
        self.may_push = may_push

    @property
    def text(self) -> str:
        """The body as plain text (what the dialog shows)."""
        return self.body.plain


def _verdicts(result: InClusterValidation) -> Text:
    body = Text()
    for v in result.verdicts:
        body.append_text(verdict_text(v))
        body.append("\n")
    if result.note:
        body.append(sanitize(f"note: {result.note}", max_len=300) + "\n", "dim")
    return body
