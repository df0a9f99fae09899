"""The engine tick as a signal: screens and widgets subscribe on mount (and unsubscribe on unmount) with a
callback that receives each tick's `TickBatch`; the app publishes it to the subscribers on the screen in
view and awaits what they return, so a storm of alerts still costs one repaint per tick.

Modelled on Textual's `Signal` (`textual.signal`: nodes held weakly, a node that stopped running is
dropped at the next publish), with two differences the tick needs. Textual's `publish` discards what an
immediate callback returns and queues the others with `call_next`; a tick's subscriber may be a coroutine
(the Alerts screen asks the engine for its view) and the app's timer waits for it, so that a slow answer
skips ticks and never queues them — `publish` hands the awaitables back instead. And a tick goes only to
the screen in view: a screen of another mode or under a pushed one catches up when it is shown again
(each does so on `ScreenResume`), instead of redrawing unseen fifteen times a second.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from textual.css.query import NoMatches
from textual.dom import DOMNode
from textual.screen import Screen

from falcotui.ops.engine_batch import TickBatch

#: what a subscriber is handed: the tick's batch, None while the cluster in use has none (see `subscribe`)
TickCallback = Callable[[TickBatch | None], Awaitable[Any] | None]


@dataclass(frozen=True, slots=True)
class _Subscription:
    callback: TickCallback
    every_tick: bool


class EngineTicks:
    """The app's tick signal (`app.ticks`)."""

    def __init__(self) -> None:
        self._subscriptions: WeakKeyDictionary[DOMNode, _Subscription] = WeakKeyDictionary()

    def subscribe(self, node: DOMNode, callback: TickCallback, *, every_tick: bool = False) -> None:
        """Call `callback(batch)` on each tick while `node`'s screen is the one in view. A node has one
        subscription (subscribing again replaces it). `every_tick`: also on ticks without a batch of the
        cluster in use (with many clusters it may have none yet), the batch then being None."""
        self._subscriptions[node] = _Subscription(callback, every_tick)

    def unsubscribe(self, node: DOMNode) -> None:
        """No more ticks for `node` (on unmount; unknown nodes are ignored)."""
        self._subscriptions.pop(node, None)

    def subscribed(self, node: DOMNode) -> bool:
        return node in self._subscriptions

    def publish(self, batch: TickBatch | None, screen: Screen) -> list[Awaitable[Any]]:
        """Hand `batch` to the subscribers on `screen` (the screen itself or its widgets), in the order
        they subscribed; returns what the coroutine subscribers gave back, for the caller to await."""
        pending: list[Awaitable[Any]] = []
        for node, sub in list(self._subscriptions.items()):
            if not node.is_running or node._pruning:  # removed without unsubscribing (Textual's Signal too)
                self._subscriptions.pop(node, None)
                continue
            if batch is None and not sub.every_tick:
                continue
            if not node.is_attached or _screen_of(node) is not screen:
                continue
            try:
                result = sub.callback(batch)
            except NoMatches:  # the screen is being torn down (exit, mode switch) mid-tick
                continue
            if result is not None:
                pending.append(result)
        return pending


def _screen_of(node: DOMNode) -> DOMNode | None:
    while node is not None and not isinstance(node, Screen):
        node = node._parent  # type: ignore[assignment]
    return node
