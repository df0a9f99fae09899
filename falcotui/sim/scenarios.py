"""What the simulated Falcos see happen: when each node's alerts fire and what kind of activity they are.

A scenario gives every node (by name) a deterministic stream of `(time_ns, kind)` events, where `kind` names
an activity (`shell`, `sensitive_read`, ... see `falco_workloads`) or is None for "any loaded rule":

- `quiet`: a few alerts a minute per node;
- `incident`: quiet, plus a burst of shell-in-container and sensitive-file reads on some of the nodes;
- `storm --rate R`: R alerts/s per node, evenly spaced (for benchmarks);
- `flaky`: quiet alerts, and every node's log streams and gRPC connections get cut at random intervals.

The same seed, scenario and node name always give the same sequence.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass

SCENARIOS = ("quiet", "incident", "storm", "flaky")
NS = 1_000_000_000


class ScenarioError(ValueError):
    """An unknown scenario name or a bad parameter."""


def stable_seed(*parts: object) -> int:
    """A seed that is the same in every process (unlike `hash()`)."""
    digest = hashlib.blake2b("\x1f".join(str(p) for p in parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


@dataclass(slots=True)
class NodeEvents:
    """One node's upcoming events, generated lazily in time order."""

    _events: Iterator[tuple[int, str | None]]
    _pending: tuple[int, str | None] | None = None

    def due(self, until_ns: int, limit: int = 100_000) -> list[tuple[int, str | None]]:
        """Every event at or before `until_ns` not handed out yet (at most `limit`)."""
        out: list[tuple[int, str | None]] = []
        while len(out) < limit:
            if self._pending is None:
                self._pending = next(self._events, None)
                if self._pending is None:
                    break
            if self._pending[0] > until_ns:
                break
            out.append(self._pending)
            self._pending = None
        return out

    def next_time(self) -> int | None:
        if self._pending is None:
            self._pending = next(self._events, None)
        return self._pending[0] if self._pending else None


def _poisson(rng: random.Random, start_ns: int, per_second: float) -> Iterator[int]:
    t = float(start_ns)
    while True:
        t += rng.expovariate(per_second) * NS
        yield int(t)


@dataclass(slots=True)
class Scenario:
    """Base: a Poisson stream of any-rule alerts at `per_minute` per node."""

    name: str = "quiet"
    seed: int = 0
    per_minute: float = 4.0
    cut_every: float = 0.0  # mean seconds between stream cuts; 0 = never

    def events(self, node: str, start_ns: int, instance: int = 0) -> NodeEvents:
        """Events for one container instance on `node`, starting at `start_ns`."""
        rng = random.Random(stable_seed(self.seed, self.name, node, instance, "events"))
        return NodeEvents(self._stream(rng, node, start_ns))

    def _stream(self, rng: random.Random, node: str, start_ns: int) -> Iterator[tuple[int, str | None]]:
        if self.per_minute <= 0:
            return iter(())
        return ((t, None) for t in _poisson(rng, start_ns, self.per_minute / 60.0))

    def cuts(self, node: str, start_ns: int, instance: int = 0) -> Iterator[int]:
        """Times (ns) at which `flaky` cuts this node's log streams and gRPC connections."""
        if self.cut_every <= 0:
            return iter(())
        rng = random.Random(stable_seed(self.seed, self.name, node, instance, "cuts"))
        return _poisson(rng, start_ns, 1.0 / self.cut_every)

    def generator_seed(self, node: str, instance: int) -> int:
        return stable_seed(self.seed, self.name, node, instance, "alerts")


@dataclass(slots=True)
class Storm(Scenario):
    """`rate` alerts per second per node, evenly spaced, any loaded rule."""

    name: str = "storm"
    rate: float = 100.0

    def _stream(self, rng: random.Random, node: str, start_ns: int) -> Iterator[tuple[int, str | None]]:
        step = NS / self.rate
        phase = rng.random() * step
        return ((int(start_ns + phase + i * step), None) for i in _count())


@dataclass(slots=True)
class Incident(Scenario):
    """Quiet, except that some nodes see a burst of shells and sensitive-file reads.

    The burst starts `delay` seconds after `anchor_ns` (by default when the first Falco asks for its
    events, so a demo sees it however long the deployment took) and lasts `duration` seconds at
    `burst_rate` alerts/s; `nodes` picks the affected nodes, else a stable `fraction` of them.
    """

    name: str = "incident"
    delay: float = 5.0
    duration: float = 10.0
    burst_rate: float = 10.0
    fraction: float = 0.5
    nodes: frozenset[str] | None = None
    anchor_ns: int | None = None

    def affected(self, node: str) -> bool:
        if self.nodes is not None:
            return node in self.nodes
        return stable_seed(self.seed, "incident-node", node) % 1000 < self.fraction * 1000

    def _stream(self, rng: random.Random, node: str, start_ns: int) -> Iterator[tuple[int, str | None]]:
        background = Scenario._stream(self, rng, node, start_ns)
        if self.anchor_ns is None:
            self.anchor_ns = start_ns
        if not self.affected(node):
            return background
        begin = self.anchor_ns + int(self.delay * NS)
        end = begin + int(self.duration * NS)
        burst_rng = random.Random(stable_seed(self.seed, self.name, node, "burst"))
        kinds = ("shell", "sensitive_read", "sensitive_read", "shell", "search_keys", "write_etc")

        def burst() -> Iterator[tuple[int, str | None]]:
            for t in _poisson(burst_rng, begin, self.burst_rate):
                if t >= end:
                    return
                if t >= start_ns:
                    yield t, burst_rng.choice(kinds)

        return _merge(background, burst())


def _count() -> Iterator[int]:
    i = 0
    while True:
        yield i
        i += 1


def _merge(
    a: Iterator[tuple[int, str | None]], b: Iterator[tuple[int, str | None]]
) -> Iterator[tuple[int, str | None]]:
    x, y = next(a, None), next(b, None)
    while x is not None or y is not None:
        if y is None or (x is not None and x[0] <= y[0]):
            yield x  # type: ignore[misc]
            x = next(a, None)
        else:
            yield y
            y = next(b, None)


def make_scenario(name: str, *, seed: int = 0, rate: float = 100.0, **params: float) -> Scenario:
    """A scenario by name, as `falcotui sim --scenario NAME [--rate R] [--seed S]` selects it.

    `params` tune it: `per_minute` (background alerts per node), `cut_every` (mean seconds between
    `flaky` cuts), and for `incident` `delay`, `duration`, `burst_rate`, `fraction`, `nodes`.
    """
    if rate <= 0:
        raise ScenarioError(f"--rate must be positive, got {rate}")
    for key in ("per_minute", "cut_every", "delay", "duration", "burst_rate"):
        value = params.get(key)
        if isinstance(value, int | float) and value < 0:
            raise ScenarioError(f"{key} must not be negative, got {value}")
    try:
        if name == "quiet":
            return Scenario(name="quiet", seed=seed, **params)
        if name == "incident":
            return Incident(seed=seed, **params)
        if name == "storm":
            return Storm(seed=seed, rate=rate, **params)
        if name == "flaky":
            params.setdefault("cut_every", 8.0)
            return Scenario(name="flaky", seed=seed, **params)
    except TypeError as exc:
        raise ScenarioError(f"scenario {name!r}: {exc}") from None
    raise ScenarioError(f"unknown scenario {name!r} (choose one of: {', '.join(SCENARIOS)})")
