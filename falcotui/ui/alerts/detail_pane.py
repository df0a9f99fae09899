"""The detail pane beside an alert list, as the Alerts screen and a node's screen both show it: the pane
shows the alert under the cursor and follows the cursor while open; opening it pauses a following list
(it resumes when the pane closes), so the highlighted row stays the one being read; `f` follows or
pauses (and forgets to resume)."""

from __future__ import annotations

from textual.widget import Widget

from falcotui.ui.alerts.alert_list import AlertList
from falcotui.ui.alerts.detail import AlertDetail


class DetailPaneHost:
    """Mixed into a screen holding one `AlertList` and one `AlertDetail` (hidden by the `hidden` class)."""

    _resume_on_close = False  # opening the pane paused a following list

    def _pane_parts(self) -> tuple[AlertList, AlertDetail]:
        screen: Widget = self  # type: ignore[assignment]
        return screen.query_one(AlertList), screen.query_one(AlertDetail)

    @property
    def detail_open(self) -> bool:
        return not self._pane_parts()[1].has_class("hidden")

    def open_detail(self) -> None:
        alerts, detail = self._pane_parts()
        if alerts.following and detail.has_class("hidden"):
            self._resume_on_close = True
            alerts.following = False
        detail.show(alerts.current())
        detail.remove_class("hidden")

    def close_detail(self) -> None:
        alerts, detail = self._pane_parts()
        detail.add_class("hidden")
        if self._resume_on_close:
            self._resume_on_close = False
            alerts.following = True

    def action_follow(self) -> None:
        alerts, _ = self._pane_parts()
        alerts.following = not alerts.following
        self._resume_on_close = False

    def on_alert_list_selected(self) -> None:
        self.open_detail()

    def on_alert_list_moved(self, event: AlertList.Moved) -> None:
        alerts, detail = self._pane_parts()
        if event.alert_list is alerts and not detail.has_class("hidden"):
            detail.show(event.entry)
