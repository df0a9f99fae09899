"""Adding and removing rules files on the Rules screen against the simulated cluster's Falco pods, driven
with keys: ctrl+n asks for a name (checked as you type: a .yaml ConfigMap key that is not taken), the new
file opens with a commented starter and the screen says modified; a rule written in it is linted, pushed,
every node reloads, the ConfigMap holds the new key and every Falco loaded the rule. Removing the file
(delete on the files list, confirmed) deletes the key with the next push and Falco drops the rule.
Read-only mode offers neither."""

from __future__ import annotations

import pytest
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from pilot_waits import ready, wait_for
from rules_fixtures import ScreenApp, deploy, fast_rules_screen, linted, loaded, services_for
from textual.widgets import Button, Input, Static

from falcotui.ui.help_screen import key_sections
from falcotui.ui.rules.dialogs import PushDialog
from falcotui.ui.rules.files_ops import NewFileDialog, new_file_problem
from falcotui.ui.rules.screen import RulesScreen
from falcotui.ui.widgets.dialogs import ConfirmDialog
from falcotui.ui.widgets.keybar import KeyBar

pytestmark = pytest.mark.timeout(150)

NAME = "network-rules.yaml"
PATH = f"/etc/falco/rules.d/{NAME}"
RULE_NAME = "Netcat started in container (new file)"
RULE = f"""
- rule: {RULE_NAME}
  desc: nc or ncat started in a container
  condition: spawned_process and container and proc.name in (nc, ncat)
  output: Netcat started (cmd=%proc.cmdline container=%container.name)
  priority: WARNING
  tags: [container, network]
"""


def listed(screen: RulesScreen) -> list[str]:
    files = screen.query_one("#rules-files")
    return [str(files.get_option_at_index(i).prompt) for i in range(files.option_count)]


def key_bar(screen: RulesScreen) -> list[str]:
    own, app_keys = screen.query_one(KeyBar).keys()
    return [description for _, _, description, enabled in own + app_keys if enabled]


def falco_log(core: k8s_client.CoreV1Api, pod: str) -> str:
    return core.read_namespaced_pod_log(pod, "falco", container="falco")


def falco_pods(core: k8s_client.CoreV1Api) -> list[str]:
    pods = core.list_namespaced_pod("falco", label_selector="app.kubernetes.io/name=falco").items
    return [p.metadata.name for p in pods]


def loaded_rules(sim, pod: str) -> set[str]:
    """The rule names a pod's simulated Falco has loaded now (its engine, as the sim runs it)."""
    falco = sim.runtime.find("falco", pod)
    return {r.name for r in falco.ruleset.rules} if falco is not None and falco.ruleset else set()


def test_new_file_names_falco_would_load() -> None:
    existing = ["custom-rules.yaml"]
    assert new_file_problem("50-net.yaml", existing) == ""
    assert new_file_problem("a.yml", existing) == ""
    assert "letters, digits" in new_file_problem("my rules.yaml", existing)
    assert "letters, digits" in new_file_problem("dir/x.yaml", existing)
    assert "letters, digits" in new_file_problem("règles.yaml", existing)
    assert ".yaml or .yml" in new_file_problem("notes.txt", existing)
    assert ".yaml or .yml" in new_file_problem("rules.yaml.bak", existing)
    assert "start the name" in new_file_problem("..data.yaml", existing)
    assert "start the name" in new_file_problem(".hidden.yaml", existing)
    assert "default rules" in new_file_problem("falco_rules.yaml", existing)
    assert "exists already" in new_file_problem("custom-rules.yaml", existing)
    assert "253" in new_file_problem("a" * 250 + ".yaml", existing)
    assert "type a file name" in new_file_problem("", existing)


async def test_add_file_push_every_node_loads_it_then_remove_it(falco_sim, clients_for):
    sim = falco_sim(nodes=2, per_minute=6)
    clients = clients_for(sim)
    await deploy(clients)
    core = k8s_client.CoreV1Api(k8s_config.new_client_from_config(config_file=str(sim.kubeconfig)))
    pods = falco_pods(core)
    assert len(pods) == 2 and all(PATH not in falco_log(core, p) for p in pods)
    app = ScreenApp(services_for(clients), fast_rules_screen)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = app.screen
        await loaded(pilot, screen)
        original = dict(screen.files)
        assert "New file" in key_bar(screen)
        rules_keys = [row.what for row in dict(key_sections(screen))["Rules"]]
        assert "New file" in rules_keys and "Remove file" in rules_keys  # listed by `?` help
        olist = screen.query_one("#rules-files")
        olist.focus()
        olist.highlighted = 0  # the list points at custom-rules.yaml: it must follow to the new file
        await pilot.pause()

        # ctrl+n: the name is checked as you type; Create stays disabled until it is one Falco loads
        await pilot.press("ctrl+n")
        dialog = await wait_for(pilot, lambda: ready(app.screen, NewFileDialog))
        name_input = dialog.query_one(Input)
        for bad, why in (
            ("custom-rules.yaml", "exists already"),
            ("notes.txt", ".yaml or .yml"),
            ("falco_rules.yaml", "default rules"),
        ):
            name_input.value = bad
            await pilot.pause()
            assert why in str(dialog.query_one("#new-file-problem", Static).render())
            assert dialog.query_one("#confirm", Button).disabled
        await pilot.press("enter")  # refused: the dialog stays
        assert app.screen is dialog
        name_input.value = ""
        await pilot.press(*NAME)
        assert not dialog.query_one("#confirm", Button).disabled
        note = str(dialog.query_one("#new-file-note", Static).render())
        assert "loads after falco_rules.yaml and custom-rules.yaml" in note
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.current == NAME)
        await pilot.pause()
        assert screen.current == NAME and olist.highlighted == 1

        # the new file: in the list (marked new/modified), in the editor with its starter, screen modified
        assert listed(screen)[:2] == ["   custom-rules.yaml", f" ● {NAME}"]
        editor = screen.editor()
        assert editor.has_focus and editor.text.startswith(f"# {NAME}: custom Falco rules")
        assert screen.modified and NAME in screen.query_one("#rules-editor-pane").border_title
        assert "modified" in screen.query_one("#rules-editor-pane").border_title
        await linted(pilot, screen)
        assert screen.errors == [] and screen.check_action("push", ()) is True

        # a typo in the new file is found at its own line:column and blocks the push
        editor.move_cursor(editor.document.end)
        editor.insert(RULE.replace("proc.name in", "proc.nmae in"))
        await linted(pilot, screen)
        [err] = screen.errors
        assert err.key == NAME and err.code == "LOAD_ERR_COMPILE_CONDITION"
        assert screen.check_action("push", ()) is None
        assert listed(screen)[1].startswith("✗●")
        editor.replace(editor.text.replace("proc.nmae in", "proc.name in"), (0, 0), editor.document.end)
        await linted(pilot, screen)
        assert screen.errors == []
        text = editor.text

        # push: the dialog shows the new file whole; every node reloads with it
        await pilot.press("ctrl+u")
        push = await wait_for(pilot, lambda: ready(app.screen, PushDialog))
        assert "--- /dev/null" in push.diff and f"+++ edited/{NAME}" in push.diff
        assert f"+- rule: {RULE_NAME}" in push.diff
        await pilot.click("#confirm")
        panel = screen.query_one("#rules-reload")
        await wait_for(pilot, lambda: panel.summary is not None, tries=800)
        assert panel.summary.ok, panel.summary.nodes
        assert {n.state.value for n in panel.nodes.values()} == {"reloaded"} and len(panel.nodes) == 2
        assert not screen.modified and listed(screen)[1] == f"   {NAME}"

        # the ConfigMap, read back by another client, holds the new key next to the old one
        data = core.read_namespaced_config_map("falco-rules", "falco").data
        assert data == {**original, NAME: text}
        # every Falco logged loading the new file on its reload, and runs the rule
        for pod in pods:
            await wait_for(pilot, lambda p=pod: f"{PATH} | schema validation: ok" in falco_log(core, p))
            await wait_for(pilot, lambda p=pod: RULE_NAME in loaded_rules(sim, p))

        # delete on the files list removes the current file, after a confirmation
        olist.focus()
        await pilot.pause()
        assert "Remove file" in key_bar(screen)
        await pilot.press("delete")
        confirm = await wait_for(pilot, lambda: ready(app.screen, ConfirmDialog))
        assert f"deletes {NAME} from the rules ConfigMap" in confirm.body.plain
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: NAME not in screen.files)
        await pilot.pause()
        assert screen.modified and screen.current == "custom-rules.yaml" and olist.highlighted == 0
        assert listed(screen)[1].startswith(" −") and NAME in listed(screen)[1]
        await linted(pilot, screen)

        first = panel.summary
        await pilot.press("ctrl+u")
        push = await wait_for(pilot, lambda: ready(app.screen, PushDialog))
        assert f"--- live/{NAME}" in push.diff and "+++ /dev/null" in push.diff
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: panel.summary is not None and panel.summary is not first, tries=800)
        assert panel.summary.ok and len(panel.nodes) == 2
        assert core.read_namespaced_config_map("falco-rules", "falco").data == original
        for pod in pods:
            await wait_for(pilot, lambda p=pod: RULE_NAME not in loaded_rules(sim, p))
        assert listed(screen)[0] == "   custom-rules.yaml" and not any(NAME in x for x in listed(screen))


async def test_read_only_offers_no_new_or_removed_file(falco_sim, clients_for):
    sim = falco_sim(nodes=1, per_minute=6)
    clients = clients_for(sim)
    await deploy(clients)
    app = ScreenApp(services_for(clients, read_only=True), fast_rules_screen)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = app.screen
        await loaded(pilot, screen)
        assert screen.check_action("new_file", ()) is False
        assert screen.check_action("remove_file", ()) is False
        screen.query_one("#rules-files").focus()
        await pilot.pause()
        own, app_keys = screen.query_one(KeyBar).keys()
        shown = [d for _, _, d, _ in own + app_keys]
        assert "Diff vs live" in shown  # the screen's keys are listed, the write actions are not
        helped = [row.what for _, rows in key_sections(screen) for row in rows]  # what `?` lists
        assert "Diff vs live" in helped
        assert not {"Push", "Roll back", "New file", "Remove file"} & set(helped)
        assert "New file" not in shown and "Remove file" not in shown and "Push" not in shown
        files = dict(screen.files)
        await pilot.press("ctrl+n", "delete")
        await pilot.pause()
        assert app.screen is screen and screen.files == files and not screen.modified
