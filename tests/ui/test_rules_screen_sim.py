"""The Rules screen against the simulated cluster's Falco pods, driven with keys like a user: a typo shows
a lint error at its line:column and push is disabled; jumping there and fixing it enables push; the push
dialog shows the diff; every node reports reloaded in the panel; rolling back reloads again; a concurrent
edit from another client ends in the conflict dialog with nothing lost."""

from __future__ import annotations

import pytest
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from pilot_waits import ready, wait_for
from rules_fixtures import ScreenApp, deploy, fast_rules_screen, linted, loaded, services_for
from simkit import NEW_RULE
from textual.css.query import NoMatches
from textual.widgets import Button, Input

from falcotui.ui.rules.dialogs import ConflictDialog, HistoryDialog, PushDialog
from falcotui.ui.rules.problems import ProblemsList
from falcotui.ui.rules.screen import RulesScreen
from falcotui.ui.widgets.dialogs import ConfirmDialog

pytestmark = pytest.mark.timeout(120)

TYPO_RULE = NEW_RULE.replace("proc.name in", "proc.nmae in")  # a typo the linter places at its column


def editor_text(screen: RulesScreen) -> str | None:
    """The current editor's text, or None while the screen is swapping its editors (taking theirs)."""
    try:
        return screen.editor().text
    except NoMatches:
        return None


def reload_done(screen: RulesScreen):
    panel = screen.query_one("#rules-reload")
    return lambda: panel.summary is not None


async def test_typo_blocks_push_fix_push_reload_then_roll_back(falco_sim, clients_for):
    sim = falco_sim(nodes=2, per_minute=6)
    clients = clients_for(sim)
    await deploy(clients)
    app = ScreenApp(services_for(clients), fast_rules_screen)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, RulesScreen)
        await loaded(pilot, screen)
        assert screen.errors == [] and screen.current == "custom-rules.yaml"
        original = screen.files["custom-rules.yaml"]
        files = screen.query_one("#rules-files")
        listed = [str(files.get_option_at_index(i).prompt) for i in range(files.option_count)]
        assert listed == ["   custom-rules.yaml", "  falco_rules.yaml\n  default · read-only"]

        # a typo'd rule pasted at the end: the lint finds it at its line:column, push is disabled
        editor = screen.editor()
        editor.focus()
        editor.move_cursor(editor.document.end)
        editor.insert(TYPO_RULE)
        await linted(pilot, screen)
        typo_line = original.count("\n") + 4
        [err] = screen.errors
        assert (err.line, err.column, err.code) == (typo_line, 48, "LOAD_ERR_COMPILE_CONDITION")
        assert "proc.nmae" in err.text
        shown = str(screen.query_one(ProblemsList).get_option_at_index(0).prompt)
        assert f"{typo_line}:48 LOAD_ERR_COMPILE_CONDITION" in shown
        assert screen.check_action("push", ()) is None  # shown disabled in the footer
        assert "push disabled: 1 error" in screen.status_text
        await pilot.press("ctrl+s")  # a check asked for by key answers, even when nothing changed
        assert await wait_for(
            pilot, lambda: any("checked: 1 error(s)" in str(n.message) for n in app._notifications)
        )
        await pilot.press("ctrl+u")
        await pilot.pause()
        assert not isinstance(app.screen, PushDialog)

        # enter on the problem jumps to it; fix the typo with keys
        screen.query_one(ProblemsList).focus()
        screen.query_one(ProblemsList).highlighted = 0
        await pilot.press("enter")
        assert editor.has_focus and editor.cursor_location == (typo_line - 1, 47)
        await pilot.press("right", "right", "right", "right", "right", "right")  # proc.n|mae
        await pilot.press("delete", "delete", *"am")
        await linted(pilot, screen)
        assert screen.errors == [] and screen.check_action("push", ()) is True

        # ctrl+d: the edit against the live ConfigMap
        await pilot.press("ctrl+d")
        shown = await wait_for(pilot, lambda: ready(app.screen, ConfirmDialog))
        assert "+- rule: Netcat started in container" in shown.body.plain
        assert "live/custom-rules.yaml" in shown.body.plain
        await pilot.press("escape")

        # push: the dialog shows the diff; every node reloads
        await pilot.press("ctrl+u")
        dialog = await wait_for(pilot, lambda: ready(app.screen, PushDialog))
        assert "+  condition: spawned_process and container and proc.name in (nc, ncat)" in dialog.diff
        dialog.query_one(Input).value = "add [b]netcat[/b] rule \x1b[2J"  # shown literally, never run
        await pilot.click("#confirm")
        await wait_for(pilot, reload_done(screen), tries=800)
        panel = screen.query_one("#rules-reload")
        assert panel.summary.ok, panel.summary.nodes
        assert {n.state.value for n in panel.nodes.values()} == {"reloaded"} and len(panel.nodes) == 2
        assert "2/2 reloaded · 0 rejected · 0 pending" in panel.bar_text
        assert screen.snapshot.files["custom-rules.yaml"] == original + TYPO_RULE.replace("nmae", "name")
        assert not screen.modified

        # roll back (ctrl+b preselects the newest version that differs from live): reloaded again
        await pilot.press("ctrl+b")
        history = await wait_for(pilot, lambda: ready(app.screen, HistoryDialog))
        assert history.selected is not None and history.selected.files["custom-rules.yaml"] == original
        newest = str(history.query_one("#history-list").get_option_at_index(0).prompt)
        assert "add [b]netcat[/b] rule" in newest and "\x1b" not in newest and "alice@test" in newest
        await pilot.click("#rollback")
        await wait_for(
            pilot, lambda: panel.what.startswith("rollback") and panel.summary is not None, tries=800
        )
        assert panel.summary.ok and len(panel.nodes) == 2
        assert panel.what == "rollback to v1 → v3"  # was "rollback to v1 v3"
        assert screen.editor().text == original and not screen.modified
        assert services_for(clients).rules.pull().files["custom-rules.yaml"] == original

        # Tab indents in the editor; esc leaves it (issue 17 item 10), and help says so
        from falcotui.ui.help_screen import key_sections

        screen.editor().focus()
        await pilot.pause()
        sections = dict(key_sections(screen))
        assert ("esc", "Leave editor", "editor.leave-editor") in sections["In the rules editor"]
        await pilot.press("escape")
        await wait_for(pilot, lambda: not screen.editor().has_focus)
        assert app.screen is screen  # still on the Rules screen


async def test_concurrent_edit_shows_conflict_and_loses_nothing(falco_sim, clients_for):
    sim = falco_sim(nodes=1, per_minute=6)
    clients = clients_for(sim)
    await deploy(clients)
    other = k8s_client.CoreV1Api(k8s_config.new_client_from_config(config_file=str(sim.kubeconfig)))
    app = ScreenApp(services_for(clients), fast_rules_screen)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = app.screen
        await loaded(pilot, screen)
        base_rv = screen.snapshot.resource_version
        editor = screen.editor()
        editor.focus()
        editor.move_cursor((0, 0))
        editor.insert("# mine\n")
        await linted(pilot, screen)
        mine = editor.text

        # another client replaces the ConfigMap meanwhile
        cm = other.read_namespaced_config_map("falco-rules", "falco")
        theirs = "# theirs\n" + cm.data["custom-rules.yaml"]
        cm.data["custom-rules.yaml"] = theirs
        theirs_rv = other.replace_namespaced_config_map("falco-rules", "falco", cm).metadata.resource_version

        await pilot.press("ctrl+u")
        await wait_for(pilot, lambda: ready(app.screen, PushDialog))
        await pilot.click("#confirm")
        conflict = await wait_for(pilot, lambda: ready(app.screen, ConflictDialog))
        c = conflict.conflict
        assert (c.base_rv, c.theirs_rv) == (base_rv, theirs_rv)
        assert c.theirs["custom-rules.yaml"] == theirs and c.ours["custom-rules.yaml"] == mine
        assert "-# theirs" in c.diff and "+# mine" in c.diff
        assert editor.text == mine  # nothing lost, nothing overwritten
        assert other.read_namespaced_config_map("falco-rules", "falco").data["custom-rules.yaml"] == theirs

        # keep mine on top of theirs: the next push goes through and replaces theirs knowingly
        await pilot.click("#keep")
        await wait_for(pilot, lambda: screen.snapshot.resource_version == theirs_rv)
        assert editor.text == mine and screen.modified
        await pilot.press("ctrl+u")
        dialog = await wait_for(pilot, lambda: ready(app.screen, PushDialog))
        assert "-# theirs" in dialog.diff and "+# mine" in dialog.diff
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: not screen.modified and not screen.busy)
        assert other.read_namespaced_config_map("falco-rules", "falco").data["custom-rules.yaml"] == mine

        # a second race, this time taking theirs: my text is saved to a file, theirs is loaded
        editor.move_cursor((0, 0))
        editor.insert("# mine again\n")
        await linted(pilot, screen)
        mine2 = editor.text
        cm = other.read_namespaced_config_map("falco-rules", "falco")
        theirs2 = cm.data["custom-rules.yaml"] + "# theirs again\n"
        cm.data["custom-rules.yaml"] = theirs2
        other.replace_namespaced_config_map("falco-rules", "falco", cm)
        await pilot.press("ctrl+u")
        await wait_for(pilot, lambda: ready(app.screen, PushDialog))
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: ready(app.screen, ConflictDialog))
        app.screen.query_one("#theirs", Button).press()
        await wait_for(pilot, lambda: screen.saved_copies and editor_text(screen) == theirs2)
        assert (screen.saved_copies[-1] / "custom-rules.yaml").read_text() == mine2
        assert not screen.modified
