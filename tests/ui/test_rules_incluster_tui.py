"""The push dialog's "validate with the cluster's own Falco" (issue 18), driven with keys and clicks on the
Rules screen over a simulated cluster: each version's `falco -V` verdict beside falcotui's before the push
(agree: the push goes on; a Falco refusing what falcotui accepts: highlighted as a disagreement, nothing
pushed), the option disabled with the reason when the user may not exec, and the pods' /tmp empty after."""

from __future__ import annotations

import asyncio

import pytest
from pilot_waits import ready, wait_for
from rules_fixtures import ScreenApp, deploy, fast_rules_screen, linted, loaded, services_for
from simkit import MODIFIER_RULE, NEW_RULE, run_two_falco_versions, set_falco_image_tag
from textual.widgets import Checkbox

from falcotui.kube.apply import Applier
from falcotui.kube.client import KubeClients, Timeouts, load_clients
from falcotui.kube.exec import exec_command
from falcotui.ops.deploy import manifests
from falcotui.ui.rules.dialogs import PushDialog
from falcotui.ui.rules.incluster_ui import InClusterDialog
from falcotui.ui.rules.screen import RulesScreen

pytestmark = pytest.mark.timeout(180)

NETCAT_RULE = NEW_RULE


def tmp_listing(clients: KubeClients, pod: str) -> list[str]:
    result = exec_command(clients, "falco", pod, ["ls", "-a", "/tmp"], container="falco")
    assert result.exit_code == 0, result.stderr
    return result.stdout.split()


async def type_rule(pilot, screen: RulesScreen, rule: str) -> None:
    editor = screen.editor()
    editor.focus()
    editor.move_cursor(editor.document.end)
    editor.insert(rule)
    await linted(pilot, screen)


async def push_with_cluster_check(pilot, app) -> InClusterDialog:
    await pilot.press("ctrl+u")
    dialog = await wait_for(pilot, lambda: ready(app.screen, PushDialog))
    box = dialog.query_one("#in-cluster", Checkbox)
    assert not box.disabled and box.value is False
    await pilot.click("#in-cluster")
    assert box.value is True
    await pilot.click("#confirm")
    return await wait_for(pilot, lambda: ready(app.screen, InClusterDialog), tries=800)


async def test_every_version_agrees_then_the_push_goes_on(falco_sim, clients_for):
    sim = falco_sim(nodes=2, per_minute=6)
    clients = clients_for(sim)
    await deploy(clients)
    chosen = await asyncio.to_thread(run_two_falco_versions, clients)

    app = ScreenApp(services_for(clients), fast_rules_screen)
    async with app.run_test(size=(160, 44)) as pilot:
        screen = app.screen
        assert isinstance(screen, RulesScreen)
        await loaded(pilot, screen)
        await type_rule(pilot, screen, NETCAT_RULE)
        assert screen.errors == [] and screen.check_action("push", ()) is True

        verdicts = await push_with_cluster_check(pilot, app)
        text = verdicts.text
        for version, pod in chosen.items():
            assert f"Falco {version}  pod {pod['metadata']['name']} on " in text
        assert text.count("Falco: ✓ valid   falcotui: ✓ valid   = agree") == 2
        assert "DISAGREE" not in text and verdicts.query("#confirm")
        before = screen.snapshot.resource_version
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: screen.snapshot.resource_version != before and not screen.busy)
        assert "+ rule: Netcat" not in screen.status_text
        assert "cluster Falco: 0.43.1 ✓ · 0.45.0 ✓" in screen.status_text
        assert not screen.modified
    for pod in chosen.values():
        assert tmp_listing(clients, pod["metadata"]["name"]) == [".", ".."]


async def test_a_falco_refusing_what_falcotui_accepts_stops_the_push(falco_sim, clients_for):
    """The only pod runs Falco 0.43.1 but its image now says 0.45.0 (a Pod's image is mutable; the running
    container is not replaced), so falcotui checks for 0.45.0 and accepts a 0.44+ modifier; the Falco in
    the pod refuses it. The dialog says so, highlighted, and offers no push."""
    sim = falco_sim(nodes=2, per_minute=6)
    clients = clients_for(sim)
    await deploy(clients)
    chosen = await asyncio.to_thread(run_two_falco_versions, clients)
    old = chosen["0.43.1"]["metadata"]["name"]
    set_falco_image_tag(clients, old, "0.45.0")

    app = ScreenApp(services_for(clients), fast_rules_screen)
    async with app.run_test(size=(160, 44)) as pilot:
        screen = app.screen
        await loaded(pilot, screen)
        await type_rule(pilot, screen, MODIFIER_RULE)
        assert screen.errors == []  # falcotui checks for 0.45.0, the only version the pods name

        verdicts = await push_with_cluster_check(pilot, app)
        text = verdicts.text
        assert f"Falco 0.45.0  pod {old} on " in text
        assert "Falco: ✗ INVALID   falcotui: ✓ valid   ≠ DISAGREE" in text
        assert "the Falco in this pod refuses the rules, falcotui's check for Falco 0.45.0 loads them" in text
        assert "LOAD_ERR_COMPILE_CONDITION: unexpected token after 'oneof', expecting 'or', 'and'" in text
        assert not verdicts.query("#confirm")  # no push from here
        before = screen.snapshot.resource_version
        await pilot.click("#cancel")
        await wait_for(pilot, lambda: isinstance(app.screen, RulesScreen) and not screen.busy)
        assert screen.snapshot.resource_version == before and screen.modified  # nothing was pushed
        assert "cluster Falco: 0.45.0 ✗ (1 disagreement with falcotui)" in screen.status_text
    live = clients.request("GET", "/api/v1/namespaces/falco/configmaps/falco-rules")
    assert live["metadata"]["resourceVersion"] == before
    assert tmp_listing(clients, old) == [".", ".."]


async def test_without_pods_exec_the_option_is_disabled_with_the_reason(falco_sim, clients_for, tmp_path):
    sim = falco_sim(nodes=1, per_minute=6)
    admin = clients_for(sim)
    await deploy(admin)
    docs = manifests.operator_rbac()
    for doc in docs:  # the operator role without pods/exec
        doc["rules"] = [r for r in doc.get("rules") or [] if "pods/exec" not in r.get("resources", ())]
    Applier(admin).apply([*docs, *manifests.operator_bindings()])
    sim.cluster.add_user("olga", ("falcotui-operators",))
    kubeconfig = sim.cluster.write_kubeconfig(tmp_path / "kubeconfig-olga", user="olga")
    clients = load_clients(kubeconfig, environ={}, timeouts=Timeouts(connect=2, read=10))
    try:
        app = ScreenApp(services_for(clients), fast_rules_screen)
        async with app.run_test(size=(160, 44)) as pilot:
            screen = app.screen
            await loaded(pilot, screen)
            # without exec the image's default rules are unknown, so the file is one rule using no macro
            rule = NETCAT_RULE.replace("spawned_process and container and", "evt.type = execve and")
            editor = screen.editor()
            editor.focus()
            editor.replace(rule, (0, 0), editor.document.end)
            await linted(pilot, screen)
            assert screen.errors == [], [p.text for p in screen.errors]
            await pilot.press("ctrl+u")
            dialog = await wait_for(pilot, lambda: ready(app.screen, PushDialog))
            assert dialog.query_one("#in-cluster", Checkbox).disabled
            note = " ".join(str(s.render()) for s in dialog.query(".note"))
            assert "may not get or create pods/exec in namespace falco" in note
            await pilot.press("escape")
    finally:
        clients.close()
