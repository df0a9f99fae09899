"""A screen's status line and key bar follow its state: the state is Textual reactives, and one callback
redraws the line whenever any of them changes (`redraw_on`), so no code that changes the state has to
remember to redraw."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from textual.dom import DOMNode


def redraw_on(node: DOMNode, names: Iterable[str], redraw: Callable[[], object]) -> None:
    """Watch `node`'s reactives `names` (from now on: call it on mount, once the line exists) and call
    `redraw()` after each change. Those that decide which actions are offered are declared with
    `bindings=True`, so the key bar re-checks them too (Textual refreshes the bindings on such a change)."""
    for name in names:
        if name not in node._reactives:  # a plain attribute would never call back: say so at once
            raise TypeError(f"{type(node).__name__}.{name} is not a reactive")
        node.watch(node, name, redraw, init=False)
