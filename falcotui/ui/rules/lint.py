"""Lint as you type on the Rules screen: after a short quiet spell the working copy is validated the way
Falco's loader does (in a worker thread, default rules first), and the result becomes the problems list.

`RulesLinting` is a mixin of `RulesScreen`: it reads the screen's working copy and default rules and fills
in `validation`, `problems` and `lint_error`. A check is identified by a generation number, so the result
of a check overtaken by more typing is dropped. The lint state is reactive: the screen's status line and
key bar follow it (`RulesScreen.STATUS_STATE`).
"""

from __future__ import annotations

import os

from textual import work
from textual.reactive import reactive
from textual.timer import Timer

from falcotui.ops.rules.model import RULES_DIR, DefaultRules, RulesError, Validation
from falcotui.ui.rules.problems import Problem, ProblemsList, problems_from

LINT_DELAY = 0.3  # seconds of quiet typing before the rules are checked again


class RulesLinting:
    """Mixed into `RulesScreen` (a Textual screen): the lint state and the debounced checks."""

    files: dict[str, str]
    defaults: DefaultRules | None
    defaults_error: str
    current: str

    lint_delay: float = LINT_DELAY
    _check_gen: int | None = None  # the lint run ctrl+s asked for

    #: each edit (or ctrl+s) starts check `lint_gen`; `linted_gen` is the last one answered (push waits)
    lint_gen: reactive[int] = reactive(0, repaint=False, bindings=True)
    linted_gen: reactive[int] = reactive(-1, repaint=False, bindings=True)
    #: why the check itself failed ("" when it ran)
    lint_error: reactive[str] = reactive("", repaint=False, bindings=True)
    #: the last check's answer and the problems found in it (set together, after each check)
    validation: reactive[Validation | None] = reactive(None, repaint=False, always_update=True)
    problems: reactive[list[Problem]] = reactive(list, repaint=False, always_update=True, bindings=True)

    def _init_lint(self) -> None:
        self._lint_timer: Timer | None = None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    def _note_logged_versions(self) -> None:
        """Hand the rules service the Falco versions the pods' logs printed (the fleet's, read here on the
        UI loop where the engine lives), so checks and pushes target what the nodes really run."""
        engine = self.services.engine
        fleet = getattr(engine, "fleet", None)
        if fleet is None:
            return
        logged = {}
        for name in list(fleet.nodes):
            row = fleet.row(name)
            if row is not None and row.pod is not None and row.version and row.version_source == "log":
                logged[row.pod.name] = row.version
        self.services.rules.logged_versions = logged

    def _schedule_lint(self, delay: float) -> None:
        self._note_logged_versions()
        self.lint_gen += 1
        if self._lint_timer is not None:
            self._lint_timer.stop()
        if delay <= 0:
            self._lint(self.lint_gen, dict(self.files), False)
        else:
            gen = self.lint_gen
            self._lint_timer = self.set_timer(delay, lambda: self._lint(gen, dict(self.files), False))

    def action_check(self) -> None:
        self._note_logged_versions()
        self.lint_gen += 1
        self._check_gen = self.lint_gen  # ctrl+s asked: say what the check found when it ends
        self._lint(self.lint_gen, dict(self.files), self.defaults is None)

    @work(thread=True, group="rules-lint")
    def _lint(self, gen: int, files: dict[str, str], retry_defaults: bool) -> None:
        if gen != self.lint_gen:
            return  # typed again since
        rules = self.services.rules
        defaults, defaults_error = self.defaults, self.defaults_error
        if defaults is None and retry_defaults:
            try:
                defaults, defaults_error = rules.default_rules(), ""
            except RulesError as exc:
                defaults_error = str(exc)
        try:
            validation, error = rules.validate(files, defaults if defaults is not None else ""), ""
        except RulesError as exc:
            validation, error = None, str(exc)
        self.app.call_from_thread(self._linted, gen, validation, error, defaults, defaults_error)

    async def _linted(
        self,
        gen: int,
        validation: Validation | None,
        error: str,
        defaults: DefaultRules | None,
        defaults_error: str,
    ) -> None:
        if defaults is not None and self.defaults is None:
            self.defaults, self.defaults_error = defaults, ""
            await self._mount_defaults()
            self._refresh_files()
        else:
            self.defaults_error = defaults_error
        if gen != self.lint_gen:
            return
        problems: list[Problem] = []
        if validation is not None:
            prefix = RULES_DIR + "/"
            problems = problems_from(validation.errors + validation.warnings, prefix)
            problems += problems_from(validation.result.lints, prefix, lint=True)
            # errors in the default rules (they block a push too): shown under the default file's name
            foreign = [m for m in validation.errors if not m.file.startswith(prefix)]
            for folder in {os.path.dirname(m.file) + "/" for m in foreign}:
                problems += problems_from(foreign, folder)
        self.validation, self.lint_error, self.problems = validation, error, problems
        self.linted_gen = gen  # last: a push is offered once the check is answered (the status line says)
        self.query_one(ProblemsList).show(self.problems, current_key=self.current, note=self._problems_note())
        if gen == self._check_gen:
            self._say_checked()
        self._refresh_files()

    def _say_checked(self) -> None:
        """The answer to ctrl+s: a toast, even when the problems list looks the same as before."""
        if self.lint_error:
            self.notify(f"check failed: {self.lint_error}", severity="error", markup=False)
            return
        errors = sum(1 for p in self.problems if p.is_error)
        others = len(self.problems) - errors
        if not self.problems:
            self.notify("checked: no errors, no warnings", title="Check", markup=False)
        else:
            self.notify(
                f"checked: {errors} error(s), {others} warning(s)/lint(s)",
                title="Check",
                severity="error" if errors else "warning",
                markup=False,
            )

    def _problems_note(self) -> str:
        if self.lint_error:
            return f"✗ {self.lint_error}"
        return "" if self.linted_gen == self.lint_gen else "checking…"
