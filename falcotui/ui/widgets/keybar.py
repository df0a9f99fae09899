"""`KeyBar`: the one-line list of keys at the bottom of every screen, drawn as text (clickable).

Textual's `Footer` composes one widget per key and recomposes them all whenever the bindings change —
on every screen switch and focus change. With four modes that was a large share of a key-to-screen
switch, so this bar renders the active bindings as a single line of text instead: the screen's and the
focused widget's keys first (as many as fit), then the app's (without their words when the terminal is
narrow); disabled actions dimmed; a click on a key presses it; `?` lists every key.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

_KEY_STYLE = Style(bold=True, color="black", bgcolor="grey70")
_DISABLED_KEY_STYLE = Style(dim=True, color="black", bgcolor="grey39")
KeyEntry = tuple[str, str, str, bool]


class KeyBar(Widget):
    """The screen's keys: ` F1 Fleet  F2 Alerts … ? Help  q Quit`, refreshed when the bindings change."""

    DEFAULT_CSS = """
    KeyBar { dock: bottom; height: 1; background: $panel; }
    """

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen) -> None:
        if self.is_attached and screen is self.screen:
            self.refresh()

    def keys(self) -> tuple[list[KeyEntry], list[KeyEntry]]:
        """(key, shown key, description, enabled) of every shown binding: the screen's, the app's."""
        app = self.app
        own: list[KeyEntry] = []
        global_: list[KeyEntry] = []
        seen: set[str] = set()
        for key, active in self.screen.active_bindings.items():
            binding = active.binding
            if not binding.show or not binding.description or binding.action in seen:
                continue
            seen.add(binding.action)
            shown = app.get_key_display(binding)
            shown = shown.upper() if len(shown) <= 3 and shown[:1] == "f" and shown[1:].isdigit() else shown
            entry = (key, shown, binding.description, active.enabled)
            (global_ if active.node is app else own).append(entry)
        return own, global_

    def render(self) -> Text:
        """The screen's keys that fit, then the app's (which always fit: `?` lists everything)."""
        own, global_ = self.keys()
        tail = [self._key_text(*entry) for entry in global_]
        if sum(t.cell_len for t in tail) > self.size.width * 2 // 3:  # narrow: app keys without words
            words = {"question_mark"}  # `?` keeps its word: it is where the rest is listed
            tail = [self._key_text(k, sh, d if k in words else "", on) for k, sh, d, on in global_]
        room = self.size.width - sum(t.cell_len for t in tail)
        line = Text(no_wrap=True, overflow="ellipsis", end="")
        for part in self._own_parts(own, room):
            line.append_text(part)
        for part in tail:
            line.append_text(part)
        return line

    def _own_parts(self, own: list[KeyEntry], room: int) -> list[Text]:
        """The screen's keys in `room` cells: with their words; else with their first words (`Watch` for
        `Watch rollout`); else every key, the first ones with first words as far as room allows — so a
        narrow terminal (80×24) still shows every key, and a click or `?` tells the rest."""
        full = [self._key_text(*entry) for entry in own]
        if sum(p.cell_len for p in full) <= room:
            return full
        short = [self._key_text(k, sh, d.split(" ")[0].split("/")[0], on) for k, sh, d, on in own]
        if sum(p.cell_len for p in short) <= room:
            return short
        bare = [self._key_text(k, sh, "", on) for k, sh, _d, on in own]
        parts, spare = list(bare), room - sum(p.cell_len for p in bare)
        for i, word in enumerate(short):
            extra = word.cell_len - bare[i].cell_len
            if extra > spare:
                break
            parts[i], spare = word, spare - extra
        while parts and sum(p.cell_len for p in parts) > room:
            parts.pop()
        return parts

    @staticmethod
    def _key_text(key: str, shown: str, description: str, enabled: bool) -> Text:
        click = Style(meta={"@click": f"app.simulate_key({key!r})"}) if enabled else Style()
        text = Text(f" {shown} ", (_KEY_STYLE if enabled else _DISABLED_KEY_STYLE) + click, end="")
        text.append(f" {description}  " if description else " ", Style(dim=not enabled) + click)
        return text
