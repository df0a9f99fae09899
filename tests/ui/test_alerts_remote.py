"""The alert list reads the engine's view a window at a time (the engine on its own loop, over the link):
a jump far from the rows at hand paints placeholders and then real rows after one round trip, never leaves
them standing; hostile text that crossed the link is sanitized on screen."""

from __future__ import annotations

import re

from falcotui.ui.alerts.alert_row import alert_line
from falcotui.ui.alerts.screen import AlertsScreen

ROW = re.compile(r"\d\d:\d\d:\d\d(\.\d{3})? +(Emergency|Alert|Critical|Error|Warning|Notice|Info|Debug) .*")
PLACEHOLDER = re.compile(r"│…\s+│")


def _shown(text: str) -> tuple[list[str], int]:
    """The alert rows on screen and how many placeholder rows stand among them."""
    lines = text.splitlines()
    return [m[0] for line in lines if (m := ROW.search(line))], sum(
        bool(PLACEHOLDER.search(x)) for x in lines
    )


async def test_far_jumps_paint_real_rows_after_one_round_trip(
    frozen, screen_text, shows, feed, alert_bytes, until
):
    app = frozen()
    async with app.run_test(size=(120, 34)) as pilot:

        def add(engine) -> None:  # 3,000 more alerts: many pages beyond the window the list holds
            for i in range(3000):
                line = alert_bytes.line(10_000 + i, "ip-10-0-1-80", alert_bytes.NOW + i * 1_000_000, 2)
                engine.hub.ingest(alert_bytes.parse(line, node="ip-10-0-1-80", pod="falco-d80"))

        await feed(app, add)
        await pilot.press("f2")
        await shows(pilot, app, "3,1", "shown", where=lambda t: isinstance(app.screen, AlertsScreen))
        screen = app.screen
        alist = screen.alert_list
        view = screen.alert_list.view
        height = alist.scrollable_content_region.height
        app.engine_running = False  # no more ticks: only the list's own fetch can bring rows now
        assert await until(pilot, lambda: not app.ticking)  # one under way still updates the view
        updates = view._generation
        for keys in (["home"], ["pagedown"] * 4, ["end"], ["home"]):
            fetches = view.fetches
            await pilot.press(*keys)
            text = await shows(pilot, app, where=lambda t: _shown(t)[0] and not _shown(t)[1])
            rows, placeholders = _shown(text)
            assert placeholders == 0 and len(rows) == height
            assert view.fetches - fetches <= 1, f"{keys}: {view.fetches - fetches} round trips for one jump"
            assert view._generation == updates  # the view did not move meanwhile
            top = alist.scroll_offset.y
            assert top == (0 if keys[0] == "home" else len(view) - height if keys[0] == "end" else top)
            expected = [
                alert_line(e, alist._columns).plain.rstrip() for e in await view.rows(top, top + height)
            ]
            assert [r[: len(e)].rstrip() for r, e in zip(rows, expected, strict=True)] == expected
