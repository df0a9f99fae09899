"""The Rules screen checks rules for the Falco the nodes run: with one node on Falco 0.43.1 (libs 0.23.2)
among 0.45.0 nodes, the status line says the cluster is mixed and which version the check is for, and a
0.44+ modifier in a condition is an error at its line:column, with the message Falco 0.43 gives."""

from __future__ import annotations

import pytest
from pilot_waits import wait_for
from rules_fixtures import ScreenApp, deploy, fast_rules_screen, linted, loaded, services_for
from simkit import MODIFIER_RULE, set_falco_image_tag

from falcotui.ui.rules.screen import RulesScreen

pytestmark = pytest.mark.timeout(120)


async def test_a_mixed_cluster_is_checked_for_its_oldest_falco(falco_sim, clients_for):
    sim = falco_sim(nodes=2, per_minute=6)
    clients = clients_for(sim)
    await deploy(clients)
    pods = clients.request("GET", "/api/v1/namespaces/falco/pods")["items"]
    pod = next(p["metadata"]["name"] for p in pods if p["metadata"]["name"].startswith("falco"))
    set_falco_image_tag(clients, pod, "0.43.1")

    app = ScreenApp(services_for(clients), fast_rules_screen)
    async with app.run_test(size=(160, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, RulesScreen)
        await loaded(pilot, screen)
        assert screen.errors == []
        await wait_for(pilot, lambda: "mixed Falco versions (0.43.1, 0.45.0)" in screen.status_text)
        assert "validated for Falco 0.43.1 (libs 0.23.2)" in screen.status_text

        original = screen.files["custom-rules.yaml"]
        editor = screen.editor()
        editor.focus()
        editor.move_cursor(editor.document.end)
        editor.insert(MODIFIER_RULE)
        await linted(pilot, screen)
        [err] = screen.errors
        line = original.count("\n") + 4
        column = MODIFIER_RULE.splitlines()[3].index("(ba") + 1
        assert (err.line, err.column, err.code) == (line, column, "LOAD_ERR_COMPILE_CONDITION")
        assert err.text == "unexpected token after 'oneof', expecting 'or', 'and'"
        assert screen.check_action("push", ()) is None
