"""SVG snapshots of the Deploy screen at fixed sizes: a seeded three-node simulated cluster running Falco
0.44.1, so the default profile's plan shows the DaemonSet changed (the image diff; at 80x24 the kept
rules ConfigMap's note) and the rollout panel the nodes' current state.
Update with `pytest tests/ui/test_deploy_snapshot.py --snapshot-update`."""

from __future__ import annotations

import asyncio

import pytest
from pilot_waits import wait_for
from rules_fixtures import ScreenApp, services_for

from falcotui.ops.deploy.deployer import Deployer
from falcotui.ui.deploy.screen import DeployScreen
from falcotui.ui.deploy.widgets import ManifestTable, RolloutPanel

pytestmark = pytest.mark.timeout(120)


async def deploy_old(clients) -> None:
    dep = Deployer(clients)
    dep.apply(dep.plan(image_tag="0.44.1"))
    result = await dep.follow_rollout(timeout=30, stuck_grace=5)
    assert result.done, result.explain()


def choose(ref: str):
    """A `run_before` that waits for the plan and the rollout state, then shows `ref`'s diff."""

    async def run_before(pilot) -> None:
        screen = pilot.app.screen
        panel = screen.query_one(RolloutPanel)
        await wait_for(
            pilot,
            lambda: screen.plan is not None and not (screen.planning or screen.busy) and panel.outcome,
        )
        assert screen.plan.pending[0].ref == "DaemonSet falco/falco"
        table = screen.query_one(ManifestTable)
        table.focus()
        table.move_cursor(row=[*table.changes].index(ref))
        diff = screen.query_one("#deploy-diff")
        await wait_for(pilot, lambda: ref in str(diff.render()))
        await pilot.pause(0.3)  # let the scrolling pane lay out the new content (scrollbars)
        await pilot.pause()

    return run_before


def test_deploy_screen_snapshots(falco_sim, clients_for, snap_compare):
    sim = falco_sim(nodes=3, per_minute=1)
    clients = clients_for(sim)
    asyncio.run(deploy_old(clients))
    wide = ScreenApp(services_for(clients), DeployScreen)
    assert snap_compare(wide, terminal_size=(130, 36), run_before=choose("DaemonSet falco/falco"))
    narrow = ScreenApp(services_for(clients), DeployScreen)
    # at 80x24 an object whose explanation fits without scrolling (the DaemonSet's diff would scroll)
    assert snap_compare(narrow, terminal_size=(80, 24), run_before=choose("ConfigMap falco/falco-rules"))
