"""The engine tick as a signal (`app.ticks`) on the simulated cluster: a widget that subscribes on mount
receives each tick's batch while its screen is in view; once unmounted it receives none (and is no longer
subscribed), while the others carry on; a screen covered by a pushed one waits, and the screens of the app
subscribe and unsubscribe the same way."""

from __future__ import annotations

from textual.widgets import Static

from falcotui.ops.engine_batch import TickBatch
from falcotui.ui.fleet.node_detail import NodeDetailScreen
from falcotui.ui.fleet.screen import FleetScreen


class TickRecorder(Static):
    """Counts the ticks it is handed (and keeps the last batch)."""

    def __init__(self, name: str) -> None:
        super().__init__("", id=name)
        self.batches: list[TickBatch | None] = []

    def on_mount(self) -> None:
        self.app.ticks.subscribe(self, self.batches.append)

    def on_unmount(self) -> None:
        self.app.ticks.unsubscribe(self)


async def test_a_subscriber_receives_the_tick_and_an_unmounted_one_does_not(demo_app, until):
    app, _ = demo_app(nodes=2, scenario="incident")
    async with app.run_test(size=(140, 30)) as pilot:
        assert await until(pilot, lambda: isinstance(app.screen, FleetScreen) and app.engine_running)
        fleet = app.screen
        staying, leaving = TickRecorder("staying"), TickRecorder("leaving")
        await fleet.mount(staying, leaving)
        assert await until(pilot, lambda: len(leaving.batches) >= 3 and len(staying.batches) >= 3)
        assert all(isinstance(b, TickBatch) for b in leaving.batches)
        assert leaving.batches[-1].health is not None  # the tick's data: the engine's batch itself

        await leaving.remove()
        assert not app.ticks.subscribed(leaving)
        received = len(leaving.batches)
        seen = len(staying.batches)
        assert await until(pilot, lambda: len(staying.batches) >= seen + 5)  # ticks went on
        assert len(leaving.batches) == received

        # a screen pushed over the fleet takes the ticks: the fleet's widgets wait until it is shown again
        assert app.ticks.subscribed(fleet)
        assert await until(pilot, lambda: fleet.current_node() is not None)  # a node to open
        await pilot.press("enter")
        assert await until(pilot, lambda: isinstance(app.screen, NodeDetailScreen))
        detail = app.screen
        assert app.ticks.subscribed(detail)
        on_detail = TickRecorder("on-detail")
        await detail.mount(on_detail)
        assert await until(pilot, lambda: len(on_detail.batches) >= 2)
        covered = len(staying.batches)
        assert await until(pilot, lambda: len(on_detail.batches) >= 7)
        assert len(staying.batches) == covered

        await pilot.press("escape")  # the detail is popped: unmounted with its widgets, unsubscribed
        assert await until(pilot, lambda: app.screen is fleet)
        assert await until(pilot, lambda: not detail.is_mounted or not detail.is_running)
        assert not app.ticks.subscribed(detail) and not app.ticks.subscribed(on_detail)
        stopped = len(on_detail.batches)
        assert await until(pilot, lambda: len(staying.batches) >= covered + 5)
        assert len(on_detail.batches) == stopped
