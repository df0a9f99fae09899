"""Pre-rendered alerts re-stamped with a new event time: how a simulated Falco emits a storm cheaply.

Rendering an alert from a rule (realize its condition, fill every field, format the output, dump the JSON)
costs tens of microseconds; at 20k alerts/s that is the whole core, and a bench would measure the simulator.
So each node renders its first `size` alerts per activity kind in full (exactly as before, real rules'
outputs and the node's workloads) and keeps each one as a template split at its event time; later alerts
pick a template and only write the new time into it. What changes between two alerts of one template is
what changes between two real events of one workload doing the same thing again: the event time, which
Falco writes in three forms (see `TimeForms`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

NS = 1_000_000_000
ISO, EVT, NUM = 0, 1, 2


class TimeForms:
    """The event time in the three forms `AlertGenerator` writes it (see `iso_time`, `_evt_time` and
    `AlertGenerator.alert` there), with the second's part cached (a storm has many alerts per second):

    - ISO: the JSON `time` key, `2026-11-26T09:02:17.120004511Z`;
    - EVT: the `%evt.time` rendering, `09:02:17.120004511`, or `2026-11-26T09:02:17.120004511+0000` with
      `time_format_iso_8601`;
    - NUM: the integer nanoseconds in `output_fields["evt.time"]`.
    """

    __slots__ = ("_evt", "_iso", "_iso8601", "_secs")

    def __init__(self, iso8601: bool) -> None:
        self._iso8601 = iso8601
        self._secs = -1
        self._iso = self._evt = ""

    def evt(self, time_ns: int) -> str:
        secs, frac = divmod(time_ns, NS)
        if secs != self._secs:
            self._second(secs)
        return f"{self._evt}.{frac:09d}+0000" if self._iso8601 else f"{self._evt}.{frac:09d}"

    def iso(self, time_ns: int) -> str:
        secs, frac = divmod(time_ns, NS)
        if secs != self._secs:
            self._second(secs)
        return f"{self._iso}.{frac:09d}Z"

    def all(self, time_ns: int) -> tuple[str, str, str]:
        """(ISO, EVT, NUM) of one time."""
        secs, frac = divmod(time_ns, NS)
        if secs != self._secs:
            self._second(secs)
        f = f".{frac:09d}"
        return (
            f"{self._iso}{f}Z",
            f"{self._evt}{f}+0000" if self._iso8601 else f"{self._evt}{f}",
            str(time_ns),
        )

    def _second(self, secs: int) -> None:
        tm = time.gmtime(secs)
        self._secs = secs
        self._iso = time.strftime("%Y-%m-%dT%H:%M:%S", tm)
        self._evt = self._iso if self._iso8601 else time.strftime("%H:%M:%S", tm)


class Stamp:
    """A text split at every form of one event time: its literal parts and, between them, which form goes
    there (joining the parts is a copy; `str.format` on a 1 KB line would scan it, ~6x slower)."""

    __slots__ = ("_parts", "_slots", "stamped")

    def __init__(self, text: str, forms: tuple[str, str, str]) -> None:
        hits: list[tuple[int, int, int]] = []  # (start, end, form)
        # longest first: the text-mode EVT form is part of the ISO one
        for k in sorted(range(3), key=lambda k: -len(forms[k])):
            form, at = forms[k], 0
            while (i := text.find(form, at)) >= 0:
                j = i + len(form)
                if not any(a < j and i < b for a, b, _ in hits):
                    hits.append((i, j, k))
                at = j
        hits.sort()
        parts, slots, at = [], [], 0
        for i, j, k in hits:
            parts.append(text[at:i])
            slots.append(k)
            at = j
        parts.append(text[at:])
        self._parts: tuple[str, ...] = tuple(parts)
        self._slots: tuple[int, ...] = tuple(slots)
        self.stamped = bool(slots)

    def fill(self, forms: tuple[str, str, str]) -> str:
        parts = self._parts
        out = [parts[0]]
        for i, slot in enumerate(self._slots, 1):
            out.append(forms[slot])
            out.append(parts[i])
        return "".join(out)


@dataclass(frozen=True, slots=True)
class PooledAlert:
    """One rendered alert kept as a template (`Emitted` fields, with the time-bearing ones split)."""

    line: Stamp
    output: Stamp
    rule: str
    priority: str
    source: str
    tags: tuple[str, ...]
    fields: dict[str, Any]  # output_fields; "evt.time" and the `stamped` keys are rewritten per alert
    stamped: tuple[tuple[str, Stamp], ...]
