"""Widgets and helpers shared by every screen: priority colours, sparklines, the status header line."""

from __future__ import annotations

from typing import TypeVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.containers import Vertical
from textual.geometry import Region
from textual.widget import Widget
from textual.widgets import DataTable

from falcotui.falco.alerts import Priority
from falcotui.falco.sanitize import sanitize
from falcotui.ops.engine import Health

#: One colour per priority, used in every screen (list, counts, fleet WORST column, detail pane).
PRIORITY_STYLE: dict[Priority, str] = {
    Priority.EMERGENCY: "bold white on red",
    Priority.ALERT: "bold white on dark_red",
    Priority.CRITICAL: "bold red",
    Priority.ERROR: "red",
    Priority.WARNING: "yellow",
    Priority.NOTICE: "cyan",
    Priority.INFORMATIONAL: "green",
    Priority.DEBUG: "dim",
}
#: The same without colour (NO_COLOR): Textual's Monochrome filter turns red into dark grey, which made
#: Error and Critical the least readable rows; here severity reads from weight instead.
PRIORITY_STYLE_NO_COLOR: dict[Priority, str] = {
    Priority.EMERGENCY: "bold reverse",
    Priority.ALERT: "bold reverse",
    Priority.CRITICAL: "bold underline",
    Priority.ERROR: "bold",
    Priority.WARNING: "",
    Priority.NOTICE: "",
    Priority.INFORMATIONAL: "dim",
    Priority.DEBUG: "dim",
}
_styles = {"priority": PRIORITY_STYLE}


def use_no_color(no_color: bool) -> None:
    """Pick the style tables for this process's app (`FalcoTuiApp` calls it with `App.no_color`)."""
    _styles["priority"] = PRIORITY_STYLE_NO_COLOR if no_color else PRIORITY_STYLE


def no_color() -> bool:
    return _styles["priority"] is PRIORITY_STYLE_NO_COLOR


def priority_style(priority: Priority) -> str:
    """The style of `priority` for the running app (colour, or weight under NO_COLOR)."""
    return _styles["priority"][priority]


_BARS = "▁▂▃▄▅▆▇█"


def priority_text(priority: Priority | None, *, width: int | None = None) -> Text:
    """`Critical` in its colour (padded to `width`), or a dim dash for no priority."""
    if priority is None:
        return Text("–".ljust(width or 1), style="dim")
    label = priority.label if width is None else priority.label[:width].ljust(width)
    return Text(label, style=priority_style(priority))


def sparkline(values: tuple[int, ...] | list[int], style: str = "cyan") -> Text:
    """A one-line bar chart of `values` scaled to their maximum (flat low bars when all are zero)."""
    if not values:
        return Text("")
    top = max(values)
    if top <= 0:
        return Text(_BARS[0] * len(values), style="dim")
    bars = "".join(_BARS[min(len(_BARS) - 1, (v * (len(_BARS) - 1) + top - 1) // top)] for v in values)
    return Text(bars, style=style)


def count_text(n: int) -> str:
    """12431 → `12,431`."""
    return f"{n:,}"


def health_text(
    health: Health | None,
    *,
    context: str,
    namespace: str,
    read_only: bool,
    demo: bool,
    version: str | None = None,
    daemonset: str = "",
    error: str = "",
    width: int = 200,
    clusters: Text | None = None,
    nats_creating: str = "",
) -> Text:
    """The header line: where (context/namespace), what runs, whether the streams are live, read-only.

    Parts are dropped by importance to fit `width`: the READ-ONLY badge and errors stay longest."""
    parts: list[tuple[int, Text]] = []  # (importance: lower stays longer, text), in display order

    def part(rank: int, *pieces: tuple[str, str]) -> None:
        t = Text()
        for text, style in pieces:
            t.append(text, style)
        parts.append((rank, t))

    part(0, (" falcotui ", "bold reverse"), (" ", ""))
    part(
        0,
        (f" {sanitize(context, max_len=40)}", "bold"),
        (" / ", ""),
        (sanitize(namespace, max_len=40), "bold"),
    )
    if clusters is not None:  # many clusters: each one's state, the one in use underlined
        parts.append((0, clusters))
    if read_only:
        part(0, ("  ", ""), (" READ-ONLY ", "bold black on yellow"))
    if demo:
        part(5, ("  DEMO", "bold magenta"))
    if error:
        part(1, ("  ", ""), (sanitize(error, max_len=120), "bold red"))
    elif health is None:
        part(1, ("  connecting…", "yellow"))
    else:
        if health.api_reachable is False:
            part(1, ("  API unreachable", "bold red"))
        elif not health.synced:
            part(1, ("  listing…", "yellow"))
        if health.credentials_error:
            problem = sanitize(f"credentials: {health.credentials_error}", max_len=120)
            part(1, ("  ", ""), (problem, "bold red"))
        if health.throttled:
            part(1, ("  throttled", "bold yellow"))
        live = health.log_streams
        part(2, ("  logs ", ""), ("●" if live else "○", "green" if live else "dim"), (str(live), ""))
        if health.log_down:  # a stream that was live and is cut now: loud, with the first node named
            first = sanitize(health.log_down[0], max_len=40)
            more = f" +{len(health.log_down) - 1}" if len(health.log_down) > 1 else ""
            part(1, ("  cut: ", "bold yellow"), (f"{first}{more}", "bold yellow"))
        if health.log_cuts:
            part(5, ("  ↻", "dim"), (str(health.log_cuts), ""))
        if health.log_gaps:
            part(2, ("  gaps ", ""), (str(health.log_gaps), "bold yellow"))
        if health.grpc_pods:
            grpc = health.grpc_streams
            part(4, ("  gRPC ", ""), ("●", "green" if grpc else "red"), (str(grpc), ""))
        else:
            part(4, ("  gRPC ", ""), ("–", "dim"))
        if (nats := health.nats) is not None:  # Falcosidekick's stream: connected, and how far behind
            if not nats.connected:
                detail = sanitize(f" {nats.missing or nats.detail}", max_len=60)
                hint = (  # the palette offers it (ui/alerts/nats_stream.py), unless it is being created
                    f" · creating stream {sanitize(nats_creating, max_len=40)}…"
                    if nats_creating
                    else " · ':' to create"
                    if nats.stream_missing
                    else ""
                )
                part(1, ("  NATS ", ""), ("○", "bold red"), (detail, "dim"), (hint, "yellow"))
            elif nats.lag_msgs:
                behind = f" behind {count_text(nats.lag_msgs)}" + (
                    f" {nats.lag_s:.1f}s" if nats.lag_s is not None else ""
                )
                part(2, ("  NATS ", ""), ("●", "green"), (behind, "yellow"))
            else:
                part(2, ("  NATS ", ""), ("●", "green"))
        if health.unreadable:  # alert lines that could not be parsed: counted, and said
            part(2, ("  unreadable ", ""), (count_text(health.unreadable), "bold yellow"))
        lag = health.lag_s  # how late lines arrive now (quiet nodes and replayed history do not count)
        if lag is None:
            part(3, ("  lag ", ""), ("–", "dim"))
        else:
            where = sanitize(f" {health.lag_node} {health.lag_channel}".rstrip(), max_len=60)
            style = "red" if lag > 5 else "yellow" if lag > 1 else ""
            part(3, ("  lag ", ""), (f"{lag:.1f}s", style), (where if lag > 1 else "", "dim"))
    if version:
        part(6, (f"  Falco {sanitize(version, max_len=20)}", ""))
    if daemonset:
        part(7, (f" · {daemonset}", ""))
    keep = list(range(len(parts)))
    while sum(parts[i][1].cell_len for i in keep) > width and len(keep) > 1:
        keep.remove(max(keep, key=lambda i: (parts[i][0], i)))
    line = Text(no_wrap=True, overflow="ellipsis")
    for i in keep:
        line.append_text(parts[i][1])
    return line


class StatusHeader(Widget):
    """The always-visible first line; the app calls `update()` on it every tick (it reads app state)."""

    DEFAULT_CSS = """
    StatusHeader { dock: top; height: 1; background: $panel; }
    """

    def __init__(self, *, classes: str | None = None) -> None:
        super().__init__(classes=classes)
        self._shown: Text | None = None

    def _current(self) -> Text:
        header = getattr(self.app, "header_text", None)
        return header(self.size.width) if callable(header) else Text(" falcotui")

    def update(self) -> None:
        """Repaint when the line would read differently (most ticks it reads the same)."""
        text = self._current()
        if self._shown is None or text != self._shown:  # rich compares the text and its styled spans
            self._shown = text
            self.refresh()

    def render(self) -> Text:
        self._shown = self._current()
        return self._shown


class TitledBox(Vertical):
    """A bordered panel whose title and subtitle change often (counts, rates): `set_titles` repaints only
    the border line that reads differently, never the panel's content.

    Textual repaints a whole container when its `border_title` is assigned, even to the same text: the
    Fleet box's title (refreshed every second) and the Alerts box's (every count update) cost a repaint of
    every line under them, and the bytes to send them to the terminal. Titles are taken as plain text
    (`Text`), never parsed as markup: a filter typed by the user is shown as typed."""

    _line: str | None = None  # the border line the title being assigned sits on ("top"/"bottom")
    _titles: tuple[str | None, str | None] = (None, None)

    def set_titles(self, title: str | None = None, subtitle: str | None = None) -> None:
        """Show `title` on the top border and `subtitle` on the bottom one (None leaves one as it is)."""
        shown_title, shown_subtitle = self._titles
        if title is not None and title != shown_title:
            self._titles = (title, self._titles[1])
            self._line = "top"
            try:
                self.border_title = Text(title)
            finally:
                self._line = None
        if subtitle is not None and subtitle != shown_subtitle:
            self._titles = (self._titles[0], subtitle)
            self._line = "bottom"
            try:
                self.border_subtitle = Text(subtitle)
            finally:
                self._line = None

    def refresh(self, *regions: Region, repaint: bool = True, layout: bool = False, recompose: bool = False):
        line = self._line
        if line is None or regions or layout or recompose or not self.is_mounted:
            return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)
        # `refresh` takes regions relative to the content (inside border and padding): a border line sits
        # just outside it
        offset = self.content_offset
        width, height = self.outer_size
        y = -offset.y if line == "top" else height - 1 - offset.y
        return super().refresh(Region(-offset.x, y, width, 1))


class ChipTable(DataTable):
    """A DataTable where one click on a row selects it (click-to-filter), not only highlights it."""

    async def _on_click(self, event: events.Click) -> None:
        before = self.cursor_coordinate
        await super()._on_click(event)
        if self.cursor_coordinate != before:
            self.action_select_cursor()


class LineStyles:
    """For Line-API widgets: the widget's base style and its component styles, worked out once and kept
    until the styles change. Textual's `rich_style` walks every ancestor on each call and a refresh drops
    its component styles; `render_line` runs for every line of every frame, so a storm paid that walk
    forty times per repaint. Focus changes drop them too (`:focus`/`:blur` rules restyle the cursor)."""

    _line_styles: dict[tuple[str, bool], Style] | None = None

    def line_style(self, component: str = "", *, partial: bool = False) -> Style:
        """The widget's `rich_style`, or with `component` the component class's style."""
        styles = self._line_styles
        if styles is None:
            styles = self._line_styles = {}
        found = styles.get((component, partial))
        if found is None:
            widget: Widget = self  # type: ignore[assignment]
            if component:
                found = widget.get_component_rich_style(component, partial=partial)
            else:
                found = widget.rich_style
            styles[component, partial] = found
        return found

    def forget_line_styles(self) -> None:
        self._line_styles = None

    def notify_style_update(self) -> None:
        self._line_styles = None
        super().notify_style_update()  # type: ignore[misc]


class KeysFollowFocus:
    """For list widgets: keys typed right after a key that moves the focus (`/` opens a filter box) go where
    the focus went, not here.

    Textual hands each key to the widget focused when it reads the key; the `/` binding only runs once the
    key has bubbled up to the app, after this widget has already been handed the keys read with it. So
    "/57" arriving in one read from the terminal (a fast typist, a paste, an SSH link) lost "5" and "7".
    Here such keys wait until the focus has moved (this widget's Blur), then go to the focused widget; if
    the focus does not move (the action was disabled), they are handled here after all."""

    FOCUS_ACTIONS = frozenset({"filter"})  # actions (of the screen) that put the focus in an input
    _stash: list[tuple[str, str | None]] | None = None

    def on_key(self, event: events.Key) -> None:
        focused = self.app.focused  # type: ignore[attr-defined]
        if self._stash is not None:
            self._keep(event)
        elif focused is not None and focused is not self:
            self._keep(event)
            self._flush()
        else:
            active = self.screen.active_bindings.get(event.key)  # type: ignore[attr-defined]
            if active is not None and active.binding.action in self.FOCUS_ACTIONS:
                self._stash = []  # the key itself bubbles on to its binding
                self.set_timer(0.5, self._flush)  # type: ignore[attr-defined]

    def _keep(self, event: events.Key) -> None:
        event.prevent_default()
        event.stop()
        if self._stash is None:
            self._stash = []
        self._stash.append((event.key, event.character))

    def on_blur(self) -> None:
        if self._stash:
            self._flush()

    def _flush(self) -> None:
        stash, self._stash = self._stash or [], None
        target = self.app.focused or self  # type: ignore[attr-defined]
        for key, character in stash:
            target.post_message(events.Key(key, character))


W = TypeVar("W", bound=Widget)


def titled(widget: W, title: str | Text) -> W:
    """`widget` with `title` on its top border, for compose: `with titled(Vertical(id="files"), "files"):`."""
    widget.border_title = title
    return widget
