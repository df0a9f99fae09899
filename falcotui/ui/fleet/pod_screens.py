"""A node's Falco pod read in full, k9s-style and read-only: `l` its log (the last lines, scrollable,
following new lines) and `d` its description (`kubectl describe pod`). Opened from Fleet and node detail.

Reads run in a worker thread (the kubernetes client blocks); the log re-reads its tail every couple of
seconds while following. Every line is sanitized: a pod's log is hostile text like any alert.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import RichLog, Static

from falcotui.falco.sanitize import safe_text, sanitize
from falcotui.ops.fleet.pod_view import LOG_TAIL, describe_pod, pod_log_lines
from falcotui.ui.services import attempt
from falcotui.ui.widgets.common import StatusHeader, titled
from falcotui.ui.widgets.keybar import KeyBar

FOLLOW_EVERY_S = 2.0


class PodTextScreen(Screen):
    """Lines about one pod in a scrollable box; `r` reads them again, esc goes back."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Back", id="pod.back"),
        Binding("r", "reload", "Reload", id="pod.reload"),
    ]
    DEFAULT_CSS = """
    PodTextScreen #pod-box { height: 1fr; border: round $accent; }
    PodTextScreen RichLog { height: 1fr; scrollbar-size-vertical: 1; }
    PodTextScreen #pod-status { height: 1; padding: 0 1; }
    """
    WHAT = ""

    def __init__(self, node: str, namespace: str, pod: str) -> None:
        super().__init__()
        self.node, self.namespace, self.pod = node, namespace, pod
        self.lines: list[str] = []
        self.error = ""

    def compose(self) -> ComposeResult:
        yield StatusHeader()
        with titled(
            Vertical(id="pod-box"),
            sanitize(f"{self.WHAT} · {self.namespace}/{self.pod} on {self.node}", max_len=200),
        ):
            yield RichLog(id="pod-text", wrap=False, highlight=False, markup=False, auto_scroll=False)
        yield Static("", id="pod-status")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one(RichLog).focus()
        self.action_reload()

    def read(self) -> list[str]:
        raise NotImplementedError

    def action_reload(self) -> None:
        self._read(self.read)

    @work(thread=True, exclusive=True, group="pod-read")
    def _read(self, read: Callable[[], list[str]]) -> None:
        got, error = attempt(read)  # an API error, a vanished pod: said where the text would be
        lines = got or []
        self.app.call_from_thread(self._show, lines, error)

    def _show(self, lines: list[str], error: str) -> None:
        self.error = error
        if error:
            self.query_one("#pod-status", Static).update(
                Text(f"✗ {sanitize(error, max_len=300)}", "bold red")
            )
            return
        if lines == self.lines:
            return
        log = self.query_one(RichLog)
        at_end = log.scroll_y >= log.max_scroll_y or not self.lines
        log.clear()
        for line in lines:
            log.write(safe_text(line, max_len=2000))
        self.lines = lines
        if self.keep_at_end(at_end):
            log.scroll_end(animate=False, immediate=True)
        self.query_one("#pod-status", Static).update(self.status())

    def keep_at_end(self, was_at_end: bool) -> bool:
        return False

    def status(self) -> Text:
        return Text(f"{len(self.lines)} lines", "dim")

    def action_close(self) -> None:
        self.app.pop_screen()


class PodLogScreen(PodTextScreen):
    """`l`: the last lines of the Falco container's log; `f` follows (re-reads the tail every 2 s)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "follow", "Follow/pause", id="pod-log.follow-pause")
    ]
    WHAT = "log"

    def __init__(self, node: str, namespace: str, pod: str, *, tail: int = LOG_TAIL) -> None:
        super().__init__(node, namespace, pod)
        self.tail = tail
        self.following = True

    def on_mount(self) -> None:
        super().on_mount()
        self.set_interval(FOLLOW_EVERY_S, self._poll)

    def read(self) -> list[str]:
        return pod_log_lines(self.app.services.engine.clients, self.namespace, self.pod, tail=self.tail)

    def _poll(self) -> None:
        if self.following:
            self.action_reload()

    def keep_at_end(self, was_at_end: bool) -> bool:
        return self.following

    def action_follow(self) -> None:
        self.following = not self.following
        if self.following:
            self.query_one(RichLog).scroll_end(animate=False)
            self.action_reload()
        self.query_one("#pod-status", Static).update(self.status())

    def status(self) -> Text:
        state = "following (new lines every 2 s)" if self.following else "paused"
        return Text(f"last {len(self.lines)} lines (at most {self.tail}) · {state}", "dim")


class PodDescribeScreen(PodTextScreen):
    """`d`: the pod as `kubectl describe pod` tells it, with its events."""

    WHAT = "describe"

    def read(self) -> list[str]:
        return describe_pod(self.app.services.engine.clients, self.namespace, self.pod)


def open_pod_screen(app, node: str | None, kind: str) -> None:
    """`l`/`d` on a node: its Falco pod's log or description, or a word on why there is none."""
    if node is None:
        return
    engine = app.services.engine
    row = engine.fleet.row(node)
    if row is None or row.pod is None:
        app.notify(f"{sanitize(node, max_len=80)} has no Falco pod", severity="warning", markup=False)
        return
    screen = PodLogScreen if kind == "log" else PodDescribeScreen
    app.push_screen(screen(node, engine.namespace, row.pod.name))
