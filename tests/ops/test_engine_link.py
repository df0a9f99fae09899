"""The link between the UI and the engine's worker over a real socket pair: pipelined calls answered by
id, errors carried back, hostile text byte-for-byte, a peer that goes away fails every waiting call."""

from __future__ import annotations

import asyncio
import socket

import pytest

from falcotui.ops.engine_link import Link, LinkClosed, RemoteError

HOSTILE = [
    "\x1b]0;pwned\x07\x1b[2J[bold red]markup[/] \r\n\x00\x9b31m",
    "rule with \u202e bidi and \ud7ff and emoji 🐚",
    "\x1bP+q544e\x1b\\ and [link=http://x]click[/link]",
]


async def pair(handler) -> tuple[Link, Link]:
    a, b = socket.socketpair()
    return await Link.over(a, name="ui"), await Link.over(b, handler, name="worker")


async def test_pipelined_calls_come_back_to_their_callers() -> None:
    async def slow_echo(target: str, method: str, args: tuple) -> tuple:
        await asyncio.sleep(0.001 * (args[0] % 7))  # answers come back out of order
        return (target, method, args)

    def handler(target: str, method: str, args: tuple):
        return slow_echo(target, method, args) if method == "slow" else (target, method, args)

    ui, worker = await pair(handler)
    calls = [ui.call("t", "slow" if i % 2 else "fast", i) for i in range(500)]
    answers = await asyncio.gather(*calls)
    assert answers == [("t", "slow" if i % 2 else "fast", (i,)) for i in range(500)]
    assert ui.calls == 500 and worker.served == 500
    await ui.aclose()
    await worker.aclose()


async def test_hostile_text_crosses_unchanged_both_ways() -> None:
    ui, worker = await pair(lambda target, method, args: [s[::-1] for s in args[0]])
    big = HOSTILE * 20_000  # a frame of several MB, larger than any socket buffer
    assert await ui.call("x", "y", big) == [s[::-1] for s in big]
    await ui.aclose()
    await worker.aclose()


async def test_a_raising_handler_answers_with_its_error() -> None:
    def handler(target: str, method: str, args: tuple):
        raise KeyError(f"no such {method}")

    ui, worker = await pair(handler)
    with pytest.raises(RemoteError) as caught:
        await ui.call("views", "nope")
    assert caught.value.type_name == "KeyError" and "no such nope" in str(caught.value)
    assert "Traceback" in caught.value.remote_tb
    await ui.aclose()
    await worker.aclose()


async def test_the_peer_going_away_fails_every_waiting_call() -> None:
    never = asyncio.Event()

    async def hang(target: str, method: str, args: tuple) -> None:
        await never.wait()

    ui, worker = await pair(hang)
    waiting = [asyncio.ensure_future(ui.call("engine", "tick")) for _ in range(3)]
    await asyncio.sleep(0.05)
    await worker.aclose()
    for fut in waiting:
        with pytest.raises(LinkClosed):
            await asyncio.wait_for(fut, 5)
    assert ui.closed
    with pytest.raises(LinkClosed):
        await ui.call("engine", "tick")
    await ui.aclose()
