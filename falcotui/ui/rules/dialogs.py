"""Dialogs of the Rules screen: confirm a push with its diff and warnings, resolve a conflict without losing
either version, browse the history and pick a version to roll back to. Every text from the cluster is
sanitized and never parsed as markup."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, OptionList, Static, TabbedContent, TabPane
from textual.widgets.option_list import Option

from falcotui.falco.sanitize import sanitize
from falcotui.ops.rules.history import HistoryEntry
from falcotui.ops.rules.model import Conflict, files_diff
from falcotui.ui.rules.problems import Problem, problem_text
from falcotui.ui.widgets.dialogs import DIALOG_CSS, write_title

MAX_DIFF_LINES = 4000


def diff_text(diff: str, *, empty: str = "(no differences)") -> Text:
    """A unified diff coloured by line kind (sanitized, never markup)."""
    if not diff.strip():
        return Text(empty, "dim")
    out = Text()
    lines = diff.splitlines()
    for line in lines[:MAX_DIFF_LINES]:
        clean = sanitize(line, max_len=1000)
        if line.startswith(("+++", "---")):
            style = "bold"
        elif line.startswith("@@"):
            style = "cyan"
        elif line.startswith("+"):
            style = "green"
        elif line.startswith("-"):
            style = "red"
        else:
            style = ""
        out.append(clean + "\n", style)
    if len(lines) > MAX_DIFF_LINES:
        out.append(f"… {len(lines) - MAX_DIFF_LINES} more lines\n", "dim")
    return out


@dataclass(frozen=True, slots=True)
class PushChoice:
    """What the push dialog answers: the history message and whether the cluster's Falco checks first."""

    message: str
    in_cluster: bool = False


class PushDialog(ModalScreen[PushChoice | None]):
    """Confirm a push: the diff live → edited, the warnings to accept, an optional message, and the option
    to validate with the cluster's own Falco first (disabled, with the reason, when exec is not allowed).
    Answers a PushChoice, or None when cancelled."""

    DEFAULT_CSS = DIALOG_CSS + "PushDialog #in-cluster { height: auto; border: none; padding: 0 1; }"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="push-dialog.cancel")]

    def __init__(
        self,
        diff: str,
        warnings: list[Problem],
        *,
        base_rv: str,
        what: str = "Push",
        in_cluster_denied: str | None = None,
    ) -> None:
        super().__init__()
        self.diff = diff
        self.warnings = warnings
        self.base_rv = base_rv
        self.what = what
        self.in_cluster_denied = in_cluster_denied

    def compose(self) -> ComposeResult:
        n = len(self.warnings)
        base_rv = sanitize(self.base_rv)
        with Vertical(classes="dialog"):
            yield Static(
                write_title(
                    self,
                    Text(f"{self.what} these changes to the cluster? (edit based on rv {base_rv})"),
                ),
                classes="title",
            )
            with VerticalScroll(classes="body"):
                yield Static(diff_text(self.diff))
            if n:
                warn = Text(f"⚠ {n} warning{'s' if n != 1 else ''} — pushing accepts them:\n", "bold")
                for p in self.warnings[:50]:
                    warn.append_text(problem_text(p, show_file=True))
                    warn.append("\n")
                with VerticalScroll(classes="warn"):
                    yield Static(warn)
            yield Checkbox(
                "validate with the cluster's own Falco first (falco -V in a pod of each version)",
                value=False,
                id="in-cluster",
                disabled=self.in_cluster_denied is not None,
            )
            if self.in_cluster_denied is not None:
                yield Static(
                    Text(f"unavailable: {sanitize(self.in_cluster_denied, max_len=300)}"), classes="note"
                )
            yield Input(placeholder="message for the history (optional)", id="message")
            with Horizontal(classes="buttons"):
                label = f"{self.what} with {n} warning{'s' if n != 1 else ''}" if n else self.what
                yield Button(label, id="confirm", variant="warning" if n else "primary")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#message", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#confirm")
    def _push(self) -> None:
        box = self.query_one("#in-cluster", Checkbox)
        in_cluster = box.value and not box.disabled
        self.dismiss(PushChoice(self.query_one("#message", Input).value.strip(), in_cluster))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class ConflictDialog(ModalScreen[str | None]):
    """Someone pushed since the edit started. Shows theirs, ours and the diff; answers
    "keep" (keep my text, based on theirs: the next push shows what changes), "theirs" (load their
    version; mine is saved by the caller) or None (close, nothing changes). "Copy" copies my files."""

    DEFAULT_CSS = (
        DIALOG_CSS
        + """
    ConflictDialog TabbedContent { height: 1fr; }
    ConflictDialog TabPane { height: 1fr; padding: 0; }
    """
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="conflict-dialog.cancel")
    ]

    def __init__(self, conflict: Conflict) -> None:
        super().__init__()
        self.conflict = conflict

    def compose(self) -> ComposeResult:
        c = self.conflict
        with Vertical(classes="dialog"):
            yield Static(
                write_title(
                    self,
                    Text.assemble(
                        ("Conflict: ", "bold red"),
                        f"the rules changed in the cluster since your edit started "
                        f"(rv {sanitize(c.base_rv)} → {sanitize(c.theirs_rv)}). Nothing was overwritten; "
                        "your text is still in the editor.",
                    ),
                ),
                classes="title",
            )
            with TabbedContent(initial="conflict-diff"):
                with TabPane("diff theirs → mine", id="conflict-diff"), VerticalScroll():
                    yield Static(diff_text(c.diff))
                with TabPane("theirs (live)", id="conflict-theirs"), VerticalScroll():
                    yield Static(_files_text(c.theirs))
                with TabPane("mine", id="conflict-ours"), VerticalScroll():
                    yield Static(_files_text(c.ours))
            with Horizontal(classes="buttons"):
                yield Button("Keep mine on top of theirs", id="keep", variant="primary")
                yield Button("Take theirs (mine saved)", id="theirs", variant="warning")
                yield Button("Copy mine", id="copy")
                yield Button("Close", id="cancel")

    @on(Button.Pressed, "#keep")
    def _keep(self) -> None:
        self.dismiss("keep")

    @on(Button.Pressed, "#theirs")
    def _theirs(self) -> None:
        self.dismiss("theirs")

    @on(Button.Pressed, "#copy")
    def _copy(self) -> None:
        self.app.copy_to_clipboard(_files_plain(self.conflict.ours))
        self.notify("your version was copied to the clipboard", markup=False)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


def _files_plain(files: dict[str, str]) -> str:
    if len(files) == 1:
        return next(iter(files.values()))
    return "".join(f"# ---- {k}\n{v}" + ("" if v.endswith("\n") else "\n") for k, v in files.items())


def _files_text(files: dict[str, str]) -> Text:
    out = Text()
    for key, text in files.items():
        out.append(f"# ---- {sanitize(key)}\n", "bold")
        out.append(sanitize(text, multiline=True, max_len=1_000_000) + "\n")
    return out or Text("(no files)", "dim")


class HistoryDialog(ModalScreen[int | None]):
    """The pushed versions, newest first; the pane shows what rolling back to the highlighted one would
    change in the live rules. Answers the version to roll back to, or None."""

    DEFAULT_CSS = (
        DIALOG_CSS
        + """
    HistoryDialog #history-list { height: auto; max-height: 12; border: round $panel-lighten-2; }
    """
    )
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Close", id="history.close")]

    def __init__(
        self,
        entries: list[HistoryEntry],
        live: dict[str, str],
        *,
        read_only: bool,
        preselect: int | None = None,
    ) -> None:
        super().__init__()
        self.entries = list(reversed(entries))  # newest first
        self.live = live
        self.read_only = read_only
        self.preselect = preselect

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            title = Text("Rules history (newest first) — the diff shows live → that version")
            yield Static(write_title(self, title), classes="title")
            options = [Option(self._entry_text(e), id=f"v{e.version}") for e in self.entries]
            if not options:
                options = [Option(Text("no pushes recorded yet", "dim"), id="none", disabled=True)]
            yield OptionList(*options, id="history-list")
            with VerticalScroll(classes="body"):
                yield Static(id="history-diff")
            if self.read_only:
                yield Static(Text("read-only: rolling back is disabled"), classes="note")
            with Horizontal(classes="buttons"):
                if not self.read_only:
                    yield Button("Roll back to this version", id="rollback", variant="warning")
                yield Button("Close", id="cancel")

    def _entry_text(self, e: HistoryEntry) -> Text:
        live = " (live)" if e.files == self.live else ""
        return Text.assemble(
            (f"v{e.version}", "bold"),
            f"  {sanitize(e.time)}  {sanitize(e.kind)}  ",
            (sanitize(e.author, max_len=60), "cyan"),
            f"  {sanitize(e.message, max_len=120)}",
            (live, "green"),
        )

    def on_mount(self) -> None:
        olist = self.query_one(OptionList)
        index = 0
        for i, e in enumerate(self.entries):
            if e.version == self.preselect:
                index = i
        if self.entries:
            olist.highlighted = index
            self._show(index)
        olist.focus()

    @property
    def selected(self) -> HistoryEntry | None:
        index = self.query_one(OptionList).highlighted
        return self.entries[index] if index is not None and index < len(self.entries) else None

    @on(OptionList.OptionHighlighted)
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._show(event.option_index)

    def _show(self, index: int) -> None:
        if index >= len(self.entries):
            return
        e = self.entries[index]
        diff = files_diff(self.live, e.files, "live", f"v{e.version}")
        self.query_one("#history-diff", Static).update(diff_text(diff, empty="(identical to the live rules)"))
        if not self.read_only:
            self.query_one("#rollback", Button).disabled = not diff

    @on(Button.Pressed, "#rollback")
    def _rollback(self) -> None:
        if self.selected is not None:
            self.dismiss(self.selected.version)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
