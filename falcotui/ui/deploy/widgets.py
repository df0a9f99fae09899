"""Widgets of the Deploy screen: the manifest list with each object's dry-run status, the diff pane, the
rollout panel (a bar, one row per node, stuck nodes with their reason and last log lines) and the texts of
the apply / restart / uninstall confirmations."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static

from falcotui.falco.sanitize import safe_text, sanitize
from falcotui.kube.rollout import NodeRollout, RolloutStatus
from falcotui.ops.deploy.deployer import DeployPlan, ObjectChange
from falcotui.ops.deploy.manifests import DEFAULT_IMAGE_TAG
from falcotui.ops.deploy.ownership import Removal
from falcotui.ops.deploy.results import RolloutResult, UninstallProgress
from falcotui.ui.rules.dialogs import diff_text
from falcotui.ui.rules.reload_panel import bar

STATUS_LOOK = {
    "created": ("+", "green"),
    "changed": ("~", "yellow"),
    "unchanged": ("✓", "dim"),
    "kept": ("•", "cyan"),
    "applying": ("…", "yellow"),
    "configured": ("~", "green"),
}
NODE_LOOK = {
    "ready": ("✓", "green"),
    "starting": ("…", "yellow"),
    "updating": ("↻", "cyan"),
    "stuck": ("✗", "bold red"),
    "missing": ("·", "yellow"),
    "not-eligible": ("–", "dim"),
}


class ManifestTable(DataTable):
    """One row per rendered object: mark, dry-run status, kind and name. Highlighting a row posts
    `ManifestTable.Chosen` (the screen shows its diff)."""

    @dataclass
    class Chosen(Message):
        change: ObjectChange

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.changes: dict[str, ObjectChange] = {}

    def on_mount(self) -> None:
        self.add_column(" ", key="mark", width=1)
        self.add_column("STATUS", key="status")
        self.add_column("OBJECT", key="object")

    def show(self, plan: DeployPlan) -> None:
        first = self.row_count == 0
        row = self.cursor_row
        self.clear()
        self.changes = {c.ref: c for c in plan.changes}
        for change in plan.changes:
            self.add_row(*self._cells(change, change.status), key=change.ref)
        if first and plan.pending:  # open on the first object the apply would change
            row = plan.changes.index(plan.pending[0])
        if plan.changes:
            self.move_cursor(row=min(max(row, 0), len(plan.changes) - 1))
            self._post(self.cursor_row)

    def _cells(self, change: ObjectChange, status: str) -> tuple[Text, ...]:
        mark, style = STATUS_LOOK.get(status, ("?", ""))
        return (
            Text(mark, style),
            Text(status, style if status != "unchanged" else ""),
            Text.assemble((sanitize(change.kind), "bold"), " ", sanitize(change.name)),
        )

    def set_status(self, ref: str, status: str) -> None:
        """An object's status during an apply ("applying", then what the server answered)."""
        change = self.changes.get(ref)
        if change is None or ref not in self.rows:
            return
        for key, cell in zip(("mark", "status", "object"), self._cells(change, status), strict=True):
            self.update_cell(ref, key, cell)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._post(event.cursor_row)

    def _post(self, row: int) -> None:
        if 0 <= row < self.row_count:
            key = self.coordinate_to_cell_key((row, 0)).row_key.value
            if key in self.changes:
                self.post_message(self.Chosen(self.changes[key]))


def change_text(change: ObjectChange) -> Text:
    """The diff pane's content for one object."""
    out = Text()
    out.append(sanitize(change.ref), "bold")
    out.append(f"  {change.status}\n", STATUS_LOOK.get(change.status, ("", ""))[1])
    if change.note:
        out.append(sanitize(change.note) + "\n", "cyan")
    empty = "(no differences with the live object)" if change.status == "unchanged" else "(no diff)"
    out.append_text(diff_text(change.diff, empty=empty))
    out.no_wrap = True  # diff lines scroll sideways rather than wrap
    return out


def plan_summary(plan: DeployPlan) -> str:
    counts: dict[str, int] = {}
    for c in plan.changes:
        counts[c.status] = counts.get(c.status, 0) + 1
    parts = [f"{n} {s}" for s, n in sorted(counts.items())]
    return f"{len(plan.changes)} objects: " + ", ".join(parts)


def apply_body(plan: DeployPlan, context: str) -> Text:
    out = Text()
    out.append(f"context {sanitize(context)} · namespace {sanitize(plan.namespace)} · image ")
    out.append(sanitize(plan.image), "bold")
    out.append(f" · {'gRPC' if plan.grpc else 'default'} profile\n\n")
    if any(c.kind == "Namespace" for c in plan.pending) and (note := namespace_labels_note(plan, True)):
        out.append(f"⚠ {note}\n\n", "yellow")
    for c in plan.pending:
        mark, style = STATUS_LOOK[c.status]
        out.append(f"{mark} {sanitize(c.ref)}  {c.status}\n", style)
    unchanged = len(plan.changes) - len(plan.pending)
    if unchanged:
        out.append(f"({unchanged} other object(s) unchanged or kept)\n", "dim")
    for c in plan.pending:
        out.append("\n")
        out.append_text(change_text(c))
    return out


def uninstall_body(removals: list[Removal], namespace: str, context: str) -> Text:
    """Exactly what uninstall deletes, and what it keeps (falcotui did not create it) with the reason."""
    out = Text()
    out.append(f"context {sanitize(context)} · namespace {sanitize(namespace)}\n\n")
    out.append("Falco stops on every node: no alerts until it is deployed again.\n", "bold red")
    out.append("The rules ConfigMap and its history are deleted too: copy your rules first.\n\n", "yellow")
    for r in removals:
        if r.action == "delete":
            out.append(f"- delete {sanitize(r.ref)}\n")
    for r in removals:
        if r.action != "delete":
            out.append(f"- keep {sanitize(r.ref)} ({sanitize(r.reason)})\n", "dim")
    return out


def restart_body(context: str, namespace: str) -> Text:
    """What a restart does, and where: the context is named, as every write dialog names it."""
    out = Text()
    out.append(f"context {sanitize(context)} · namespace {sanitize(namespace)}\n\n", "bold")
    out.append(
        "Every Falco pod is replaced (kubectl rollout restart), node by node as the DaemonSet's update "
        "strategy allows. A node's alerts pause while its pod restarts; the rules and the configuration "
        "stay as they are."
    )
    return out


@dataclass(frozen=True, slots=True)
class PlanOptions:
    """The deploy screen's toggles, the same choices as `falcotui apply`'s flags."""

    grpc: bool = False
    privileged: bool = False
    tolerate_all: bool = False
    label_namespace: bool = False

    def plan_kwargs(self) -> dict[str, bool]:
        """`Deployer.plan`'s keyword arguments (the fields have its parameters' names)."""
        return asdict(self)

    def toggled(self, name: str) -> PlanOptions:
        """These options with choice `name` turned the other way."""
        return replace(self, **{name: not getattr(self, name)})

    def title(self) -> str:
        parts = ["gRPC profile" if self.grpc else "default profile"]
        parts += [
            name for on, name in ((self.privileged, "privileged"), (self.tolerate_all, "tolerate all")) if on
        ]
        if self.label_namespace:
            parts.append("label namespace")
        return " · ".join(parts)


def namespace_labels_note(plan: DeployPlan, labelling: bool) -> str:
    """An existing namespace falcotui did not create lacks the Pod Security labels Falco's pods need: say
    what changes (or that nothing does until `l`), and what labelling means for the other pods there."""
    if not plan.namespace_labels:
        return ""
    labels = ", ".join(f"{k}={new}" for k, (_old, new) in sorted(plan.namespace_labels.items()))
    ns = sanitize(plan.namespace)
    if labelling:
        return f"namespace {ns} gets {labels}: every pod in it is exempt from Pod Security admission"
    return (
        f"namespace {ns} exists, not created by falcotui, without {labels}: its labels stay as they are "
        "(l: label it) and if it enforces a level below 'privileged', Falco's pods are refused"
    )


def grpc_profile_note(plan: DeployPlan) -> str:
    """The gRPC profile pins an older Falco (gRPC output was removed in 0.44.0): say so beside the plan,
    not only deep in the DaemonSet's diff."""
    if not plan.grpc:
        return ""
    return (
        f"gRPC profile: runs {plan.image} — an older Falco than the default {DEFAULT_IMAGE_TAG} "
        "(gRPC output was removed in 0.44.0)"
    )


class RolloutPanel(Vertical):
    """The DaemonSet rollout, node by node: fed `progress(RolloutStatus)` while following and
    `result(RolloutResult)` at the end (stuck nodes with reasons and their last log lines)."""

    DEFAULT_CSS = """
    /* a share, not a row count: at 80x24 a stuck node's explanation squeezed the manifests to one row */
    RolloutPanel { height: auto; max-height: 45%; }
    RolloutPanel #rollout-bar { height: 1; }
    RolloutPanel DataTable { height: auto; max-height: 8; }
    RolloutPanel #rollout-explain { height: auto; max-height: 6; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.status: RolloutStatus | None = None
        self.outcome: RolloutResult | None = None
        self.note = ""
        self.bar_text = ""

    def compose(self) -> ComposeResult:
        yield Static(id="rollout-bar")
        table: DataTable = DataTable(id="rollout-nodes", cursor_type="row", zebra_stripes=False)
        for label, key in (("NODE", "node"), ("STATE", "state"), ("POD", "pod"), ("REV", "rev"),
                           ("RST", "restarts"), ("REASON", "reason")):  # fmt: skip
            table.add_column(label, key=key)
        yield table
        with VerticalScroll(id="rollout-explain"):
            yield Static(id="rollout-explain-text")

    def on_mount(self) -> None:
        self.query_one("#rollout-explain").display = False
        self._render_bar()

    def begin(self, note: str) -> None:
        self.note, self.outcome = note, None
        self.query_one("#rollout-explain").display = False
        self._render_bar()

    def reset(self, note: str) -> None:
        """Forget the last rollout (an uninstall: its "ready 12/12" would be a stale claim)."""
        self.status, self.outcome, self.note = None, None, note
        self.query_one(DataTable).clear()
        self.query_one("#rollout-explain").display = False
        self._render_bar()

    def message(self, note: str) -> None:
        self.note = note
        self._render_bar()

    def progress(self, status: RolloutStatus) -> None:
        self.status = status
        table = self.query_one(DataTable)
        seen = set()
        for n in status.nodes:
            seen.add(n.node)
            cells = self._cells(n)
            if n.node in table.rows:
                for key, cell in zip(
                    ("node", "state", "pod", "rev", "restarts", "reason"), cells, strict=True
                ):
                    table.update_cell(n.node, key, cell)
            else:
                table.add_row(*cells, key=n.node)
        for key in [k.value for k in table.rows if k.value not in seen]:
            table.remove_row(key)
        self._render_bar()

    def _cells(self, n: NodeRollout) -> tuple[Text, ...]:
        mark, style = NODE_LOOK.get(n.state, ("?", ""))
        reason = n.reason if n.reason not in ("", "NoPod") or n.state == "missing" else ""
        detail = f"{reason}: {n.message}" if reason and n.message else reason or n.message
        return (
            safe_text(n.node),
            Text(f"{mark} {n.state}", style),
            safe_text(n.pod or "–"),
            Text(n.revision or "–", "dim" if n.revision != "new" else ""),
            Text(str(n.restarts), "red" if n.restarts else "dim"),
            safe_text(detail, "red" if n.state == "stuck" else "dim", max_len=300),
        )

    def result(self, result: RolloutResult) -> None:
        self.outcome = result
        self.progress(result.status)
        explain = self.query_one("#rollout-explain")
        if result.done and not result.uncovered:
            explain.display = False
        else:
            explain.display = True
            text = Text()
            for s in result.stuck:
                text.append(f"✗ {sanitize(s.node)}", "bold red")
                text.append(f"  {sanitize(s.reason)}", "red")
                if s.message:
                    text.append(f" — {sanitize(s.message, max_len=300)}")
                text.append(f"  (pod {sanitize(s.pod)})\n", "dim")
                for line in s.last_lines:
                    text.append(f"    │ {sanitize(line, max_len=300)}\n", "dim")
                if s.problem is not None:  # a cause falcotui recognises in those lines, and the ways out
                    text.append(f"    why: {sanitize(s.problem.summary, max_len=300)}\n", "bold red")
                    for remedy in s.problem.remedies:
                        text.append(f"    fix: {sanitize(remedy, max_len=300)}\n", "yellow")
            if not result.stuck:
                text.append(sanitize(result.explain(), multiline=True), "yellow")
            self.query_one("#rollout-explain-text", Static).update(text)
        self._render_bar()

    def uninstall(self, ev: UninstallProgress) -> None:
        self.note = f"uninstall: {ev.ref} {ev.status}"
        self._render_bar()

    def _render_bar(self) -> None:
        st = self.status
        text = Text("rollout ", "bold")
        if st is None or not st.exists:
            text.append(self.note or "no DaemonSet yet", "dim")
        else:
            stuck = st.stuck
            text.append_text(bar(st.updated, st.desired, style="red" if stuck else "green"))
            text.append(f" {st.updated}/{st.desired} updated · {st.available} available")
            if stuck:
                first = stuck[0]
                text.append(f" · stuck: {sanitize(first.node)} {sanitize(first.reason)}", "bold red")
                if len(stuck) > 1:
                    text.append(f" (+{len(stuck) - 1} more)", "red")
                lines = next(
                    (s.last_lines for s in (self.outcome.stuck if self.outcome else []) if s.last_lines), ()
                )
                if lines:
                    text.append(f" (last log: {sanitize(lines[-1], max_len=80)})", "dim")
            if self.outcome is not None and self.outcome.done:
                text.append("  ✓ rolled out", "bold green")
            elif self.outcome is None and not st.done and self.note:
                text.append(f"  {sanitize(self.note)}", "dim")
            elif self.outcome is not None:
                text.append("  ✗ not complete", "bold red")
        self.bar_text = text.plain
        self.query_one("#rollout-bar", Static).update(text)
