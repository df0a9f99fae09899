"""Issue 17 (smaller): the rules reload panel's STATE column was cut ("✗ crash-loo…" once a row changed
state) and only 7 of 12 nodes were visible. Now the column fits its longest word and the node table takes
up to 40% of the screen, scrolling beyond."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import DataTable

from falcotui.ops.rules.reload_state import NodeReload, ReloadState
from falcotui.ui.rules.reload_panel import ReloadPanel


class PanelApp(App):
    def compose(self) -> ComposeResult:
        yield ReloadPanel(id="panel")


async def test_twelve_nodes_fit_and_states_are_whole():
    app = PanelApp()
    nodes = [f"ip-10-0-1-{n:02d}" for n in range(12)]
    async with app.run_test(size=(160, 45)) as pilot:
        panel = app.query_one(ReloadPanel)
        panel.begin("push v7")
        for node in nodes:
            panel.node(NodeReload(ReloadState.PENDING, node=node, pod=f"falco-{node[-2:]}"))
        await pilot.pause()
        for node in nodes:  # every row changes state after it was added: the column must not stay narrow
            panel.node(
                NodeReload(ReloadState.CRASH_LOOP, None, "Error: boom", node=node, pod=f"falco-{node[-2:]}")
            )
        await pilot.pause()
        table = app.query_one(DataTable)
        assert table.size.height >= 13  # the header and all twelve rows
        shown = table.render_lines(table.region.reset_offset)
        texts = [strip.text for strip in shown]
        assert sum("✗ crash-loop" in t for t in texts) == 12, "\n".join(texts)


async def test_small_terminal_scrolls_the_nodes():
    app = PanelApp()
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.query_one(ReloadPanel)
        panel.begin("push v7")
        for n in range(12):
            panel.node(NodeReload(ReloadState.RELOADED, node=f"node-{n:02d}", pod=f"falco-{n:02d}"))
        await pilot.pause()
        table = app.query_one(DataTable)
        assert table.size.height <= 10 and table.max_scroll_y > 0  # 40% of 24 lines, the rest scrolls
        table.focus()
        await pilot.press(*["down"] * 11)
        await pilot.pause()
        assert table.cursor_row == 11 and table.scroll_y > 0  # the last node scrolled into sight
