"""SVG snapshots of the Rules screen at fixed sizes: a one-node simulated cluster (seeded, so the pod
names are fixed), the custom rules file from the manifests with a typo typed in, the lint error, the
warnings and push disabled. Update with `pytest tests/ui/test_rules_snapshot.py --snapshot-update`."""

from __future__ import annotations

import asyncio

import pytest
from pilot_waits import wait_for
from rules_fixtures import ScreenApp, deploy, services_for

from falcotui.ui.rules.screen import RulesScreen

pytestmark = pytest.mark.timeout(120)


async def typo(pilot) -> None:
    screen = pilot.app.screen
    await wait_for(pilot, lambda: screen.snapshot is not None and screen.linted_gen == screen.lint_gen)
    editor = screen.editor()
    editor.focus()
    # the first rule's condition: `(outbound and container)` -> `(outbound and containr) or proc.name=nc`
    row = next(i for i, line in enumerate(editor.text.splitlines()) if "(outbound and container)" in line)
    col = editor.document.get_line(row).index("container)")
    editor.replace("containr) or proc.name=nc", (row, col), (row, col + len("container)")))
    await wait_for(pilot, lambda: screen.linted_gen == screen.lint_gen and screen.errors)
    editor.move_cursor((row, 0), center=False)
    editor.scroll_to(y=max(row - 8, 0), animate=False)
    await pilot.pause(0.3)  # let every pane lay out its new content (scrollbars) before the picture
    await pilot.pause()


def test_rules_screen_snapshots(falco_sim, clients_for, snap_compare):
    sim = falco_sim(nodes=1, per_minute=1)
    clients = clients_for(sim)
    asyncio.run(deploy(clients))
    wide = ScreenApp(services_for(clients), RulesScreen)
    assert snap_compare(wide, terminal_size=(130, 36), run_before=typo)
    narrow = ScreenApp(services_for(clients), RulesScreen)
    assert snap_compare(narrow, terminal_size=(80, 24), run_before=typo)
