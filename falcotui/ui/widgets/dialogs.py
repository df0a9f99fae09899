"""The dialogs every screen uses: `ConfirmDialog` (a yes/no question over a body such as a diff, or a
body alone with Close), `write_title` (a write's title led by the cluster it goes to) and the CSS all
falcotui dialogs share (`DIALOG_CSS`)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from falcotui.falco.sanitize import sanitize


def write_title(dialog: ModalScreen, title: Text, cluster: str | None = None) -> Text:
    """`title`, led by the cluster the write goes to when the app follows many clusters: `cluster`, else
    the cluster of the screen that opened the dialog (a screen keeps its cluster's services), else the one
    in use. With one cluster the title is left as it is."""
    app = dialog.app
    if getattr(app, "clusters", None) is None:
        return title
    if cluster is None:
        opener = next(
            (s for s in reversed(app.screen_stack) if s is not dialog and hasattr(s, "services")), None
        )
        services = getattr(opener, "services", None) or app.services  # type: ignore[attr-defined]
        cluster = services.context_name
    out = Text.assemble((f" cluster {sanitize(cluster, max_len=60)} ", "bold black on yellow"), " ")
    out.append_text(title)
    return out


DIALOG_CSS = """
.dialog { width: 90%; max-width: 140; height: 90%; border: thick $accent; background: $surface;
          padding: 0 1; }
.dialog .title { text-style: bold; height: auto; }
.dialog .body { height: 1fr; border: round $panel-lighten-2; }
.dialog .buttons { height: auto; align-horizontal: right; }
.dialog .buttons Button { margin-left: 1; }
.dialog .buttons Button:focus { text-style: bold reverse; }
.dialog .keys { height: 1; color: $text-muted; text-align: right; }
.dialog .note { height: auto; color: $text-muted; }
.dialog .warn { height: auto; max-height: 8; color: $warning; }
.dialog.small { height: auto; max-height: 90%; }
.dialog.small .body { height: auto; max-height: 30; }
"""


class ConfirmDialog(ModalScreen[bool]):
    """A yes/no question with a body (e.g. a diff); `escape` or Cancel answers no. With `confirm=None`
    it only shows the body (a Close button)."""

    DEFAULT_CSS = DIALOG_CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="confirm.cancel"),
        Binding("left,right", "other_button", "Other button", show=False, id="confirm.other-button"),
    ]

    def __init__(
        self,
        title: str,
        body: Text | str,
        *,
        confirm: str | None = "Confirm",
        danger: bool = False,
        note: str = "",
        cluster: str | None = None,
    ) -> None:
        super().__init__()
        self.title_text = title
        self.cluster = cluster  # with many clusters: the one this write goes to (None: the opener's)
        self.body = body if isinstance(body, Text) else Text(sanitize(body, multiline=True))
        self.confirm_label = confirm
        self.danger = danger
        self.note = note

    def compose(self) -> ComposeResult:
        small = len(self.body.plain.splitlines()) < 20
        with Vertical(classes="dialog small" if small else "dialog"):
            yield Static(write_title(self, Text(self.title_text), self.cluster), classes="title")
            with VerticalScroll(classes="body"):
                yield Static(self.body)
            if self.note:
                yield Static(Text(self.note), classes="note")
            with Horizontal(classes="buttons"):
                if self.confirm_label is not None:
                    variant = "error" if self.danger else "primary"
                    yield Button(self.confirm_label, id="confirm", variant=variant)
                yield Button("Cancel" if self.confirm_label is not None else "Close", id="cancel")
            yield Static("", classes="keys")

    def on_mount(self) -> None:
        plain = self.danger or self.confirm_label is None
        self.query_one("#cancel" if plain else "#confirm", Button).focus()

    def action_other_button(self) -> None:
        buttons = list(self.query(Button))
        if len(buttons) > 1:
            current = self.focused if isinstance(self.focused, Button) else buttons[-1]
            buttons[(buttons.index(current) + 1) % len(buttons)].focus()

    def on_descendant_focus(self) -> None:
        """Say in words what enter does now: a focused button can be hard to see on some terminals."""
        focused = self.focused
        if isinstance(focused, Button):
            label = str(focused.label)
            keys = f"⏎ {label}  ·  ←/→: other button  ·  esc: cancel"
            self.query_one(".keys", Static).update(Text(keys))

    @on(Button.Pressed, "#confirm")
    def _yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)
