"""What the Rules screen shows about its state: whether the working copy differs from the live rules,
why a push cannot be offered, which actions the key bar offers (`check_action`), the editor pane's title
and the status line.

`RulesStatus` is a mixin of `RulesScreen` (screen.py): it reads the screen's reactives (`snapshot`, `busy`,
`load_error`, `cluster_check`, …, and the lint state of `RulesLinting`); the screen redraws the title and
the status line when they change (`TITLE_STATE`, `STATUS_STATE`).
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from falcotui.falco.sanitize import sanitize
from falcotui.ui.rules.editor import DEFAULTS_KEY
from falcotui.ui.rules.incluster_ui import summary_line

WRITE_ACTIONS = frozenset({"push", "rollback", "new_file", "remove_file"})


class RulesStatus:
    """The Rules screen's state as shown (see the module docstring)."""

    @property
    def modified(self) -> bool:
        return self.snapshot is not None and self.files != self.snapshot.files

    def push_blocked(self) -> str:
        """Why a push cannot be offered now ("" when it can)."""
        if self.read_only:
            return "read-only: pushing is disabled"
        if self.snapshot is None:
            return "the rules are not loaded"
        if self.busy:
            return f"{self.busy}…"
        if self.linted_gen != self.lint_gen:
            return "checking the rules…"
        if self.lint_error:
            return self.lint_error
        n = len(self.errors)
        if n:
            return f"push disabled: {n} error{'s' if n != 1 else ''} — fix {'them' if n != 1 else 'it'} first"
        return ""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in WRITE_ACTIONS and self.read_only:
            return False  # hidden: nothing to offer in read-only mode
        if action == "push":
            return None if self.push_blocked() else True
        if action == "rollback":
            return None if (self.busy or self.snapshot is None) else True
        if action == "external_editor":
            return True if self.current and self.current != DEFAULTS_KEY else None
        if action == "new_file":
            return None if self.snapshot is None else True
        if action == "goto_rejected":
            spot = self._refused_spot()
            return True if spot is not None and spot.failure is not None else False
        if action == "remove_file":
            return True if self.snapshot is not None and self.current in self.files else None
        return True

    def _update_title(self) -> None:
        pane = self.query_one("#rules-editor-pane")
        if self.current == DEFAULTS_KEY and self.defaults is not None:
            pane.border_title = (
                f"falco_rules.yaml · default rules from pod {sanitize(self.defaults.pod)} · read-only"
            )
            return
        if not self.snapshot:
            return
        cm = self.services.rules.configmap
        if not self.current:
            pane.border_title = f"{cm} rv {sanitize(self.snapshot.resource_version)} · no files"
            return
        state = "modified" if self.files.get(self.current) != self.snapshot.files.get(self.current) else ""
        parts = [sanitize(self.current), f"{cm} rv {sanitize(self.snapshot.resource_version)}", state]
        pane.border_title = " · ".join(p for p in parts if p)
        n_err = len(self.errors)
        n_warn = len(self.problems) - n_err
        self.query_one("#rules-problems-pane").border_title = f"problems ✗{n_err} ⚠{n_warn}"

    def _update_status(self) -> None:
        text = Text()
        if self.load_error:
            text.append(f"✗ {sanitize(self.load_error)}", "bold red")
        elif self.read_only:
            text.append("read-only: push and roll back are disabled", "yellow")
        elif (why := self.push_blocked()) and self.snapshot is not None:
            text.append(
                f"{'✗' if self.errors else '…'} {sanitize(why)}", "bold red" if self.errors else "dim"
            )
        elif self.snapshot is not None:
            n = len(self.problems)
            if n:
                text.append(
                    f"⚠ {n} warning{'s' if n != 1 else ''}: a push asks you to confirm them", "yellow"
                )
            else:
                text.append("✓ valid", "green")
            text.append(" · ctrl+u push" if self.modified else " · no changes to push", "dim")
        target = self.validation.target if self.validation is not None else None
        if target is not None and target.noteworthy and not self.load_error:
            # the nodes run another Falco than the pinned one, or several: say which one the check is for
            text.append("  · " + sanitize(target.describe(), max_len=300), "yellow" if target.note else "dim")
        if self.cluster_check is not None and not self.load_error:
            check = self.cluster_check
            bad = bool(check.rejected_by or check.disagreements or check.leftovers)
            text.append("  · " + sanitize(summary_line(check), max_len=200), "yellow" if bad else "dim")
        if self.defaults_error and not self.load_error:
            text.append(
                "  · default rules unavailable, macros from falco_rules.yaml are unknown: "
                + sanitize(self.defaults_error, max_len=200),
                "yellow",
            )
        self.status_text = text.plain
        self.query_one("#rules-status", Static).update(text)
