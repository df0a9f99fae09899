"""The Rules screen's banner for nodes that rejected the live rules: how many, what Falco said and where.

A push forced past the checks, or rules a node's Falco version refuses, leave that node running its old
rules; the banner says so until the fleet no longer reports it (`fleet.refusing_rules()`), and names the
line Falco refused when its message has one (ctrl+g goes there). Falco's text is sanitized, never markup.
"""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from falcotui.falco.sanitize import safe_text
from falcotui.ops.fleet.status import NodeReload


class RejectedBanner(Static):
    """Hidden while no node refuses the rules; `show(refusing)` updates it."""

    DEFAULT_CSS = """
    RejectedBanner { height: auto; max-height: 3; padding: 0 1; display: none; }
    RejectedBanner.-shown { display: block; }
    """

    #: the refusing nodes (node name, reload state); the screen's ctrl+g is offered while one names a line
    refusing: reactive[list[tuple[str, NodeReload]]] = reactive(list, repaint=False, bindings=True)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.plain = ""  # the banner as plain text

    def show(self, refusing: list[tuple[str, NodeReload]]) -> bool:
        """Show these nodes (node name, reload state); True when the text changed."""
        self.refusing = refusing
        self.set_class(bool(refusing), "-shown")
        if not refusing:
            changed, self.plain = self.plain != "", ""
            self.update("")
            return changed
        n = len(refusing)
        first = self.spot()
        said = first.detail if first is not None else ""
        text = Text.assemble(
            (f"✗ {n} node{'s' if n != 1 else ''} rejected the rules", "bold red"),
            " — Falco keeps running the old ones there. ",
        )
        if said:
            text.append_text(safe_text(said, "bold", max_len=300))
        names = ", ".join(name for name, _ in refusing[:4]) + (" …" if n > 4 else "")
        text.append_text(safe_text(f"  ({names})", "dim", max_len=200))
        if first is not None and first.failure is not None:
            text.append("  ctrl+g go to the line", "reverse")
        if text.plain == self.plain:
            return False
        self.plain = text.plain
        self.update(text)
        return True

    def spot(self) -> NodeReload | None:
        """What most refusing nodes said (the same rules file fails the same way on each)."""
        if not self.refusing:
            return None
        counts: dict[str, int] = {}
        for _, reload in self.refusing:
            counts[reload.detail] = counts.get(reload.detail, 0) + 1
        top = max(counts, key=lambda d: counts[d])
        return next(r for _, r in self.refusing if r.detail == top)
