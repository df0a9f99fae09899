"""Reading `timestamps=true` pod logs again without duplicates: timestamps, the resume filter, the decoder.

A stern-style resume asks for `sinceTime` = the last seen timestamp floored to the second, then skips
every line older than that timestamp and, at that exact timestamp, the lines already seen (compared by
timestamp + content hash, with multiplicity, since several lines can share one timestamp).
"""

from __future__ import annotations

import datetime as _dt
from collections import Counter

from falcotui.falco.alerts import parse_iso8601_ns
from falcotui.kube.informer import LineSplitter

_EPOCH = _dt.datetime(1970, 1, 1)


def parse_rfc3339_ns(text: bytes) -> int:
    """An RFC 3339 timestamp (nanosecond fraction optional, trailing zeros trimmed) as Unix nanoseconds."""
    if not text[:1].isdigit():
        raise ValueError(f"not an RFC 3339 timestamp: {text[:40]!r}")
    try:
        return parse_iso8601_ns(text.decode("ascii"))
    except UnicodeDecodeError:
        raise ValueError(f"not an RFC 3339 timestamp: {text[:40]!r}") from None


def split_timestamp(line: bytes) -> tuple[int, bytes] | None:
    """`<RFC3339Nano> <content>` (what `timestamps=true` prefixes) → (ns, content); None if no prefix."""
    sp = line.find(b" ")
    head = line if sp < 0 else line[:sp]
    try:
        ts = parse_rfc3339_ns(head)
    except ValueError:
        return None
    return ts, (b"" if sp < 0 else line[sp + 1 :])


def since_time_param(ts_ns: int) -> str:
    """`sinceTime` for a resume: the last seen timestamp floored to whole seconds (any server accepts it).

    RFC 3339 (section 5.6, `date-fullyear = 4DIGIT`) wants a four-digit year: `strftime("%Y")` writes year 1
    as `1`, which the API server's RFC 3339 parser refuses, so the date is formatted by hand. Times before
    year 1 or after 9999 are clamped to the first/last second RFC 3339 can write."""
    seconds = ts_ns // 1_000_000_000
    try:
        moment = _EPOCH + _dt.timedelta(seconds=seconds)
    except OverflowError:
        moment = _dt.datetime.min if seconds < 0 else _dt.datetime.max
    return f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment:%H:%M:%S}Z"


class ResumeFilter:
    """Remembers what was delivered so a re-read from at/before the last timestamp adds no duplicates.

    `min_ts` drops every line older than it (a `sinceTime` floored to the second lets a few through).
    """

    def __init__(self, min_ts: int | None = None) -> None:
        self.min_ts = min_ts
        self.last_ts: int | None = None
        self._at_last: Counter[int] = Counter()  # content hashes delivered at exactly last_ts
        self._skip: Counter[int] | None = None  # armed by begin_resume()
        self._reached_back = False  # this resume saw a line at or before last_ts: nothing in between lost
        self._gaps: list[tuple[int, int]] = []  # (last line before, first line after) of unproven resumes

    def begin_resume(self, *, detect_gaps: bool = True) -> None:
        """Skip what was delivered; with `detect_gaps`, note a resume that does not reach back to the last
        line (off after a container restart: the new instance's log starts later by nature)."""
        self._skip = Counter(self._at_last) if self.last_ts is not None else None
        self._reached_back = not detect_gaps

    def take_gaps(self) -> list[tuple[int, int]]:
        """Resumes that could not prove continuity since the last call: (last seen ts, first new ts).

        A resume asks from the last seen line's second on, so the log still holding that line shows it
        again; when the first line back is newer, lines in between may be gone (the kubelet rotated or
        truncated the log while the stream was cut) — possible loss, said rather than hidden."""
        gaps, self._gaps = self._gaps, []
        return gaps

    def reset(self) -> None:
        self.last_ts, self._skip = None, None
        self._at_last.clear()

    def accept(self, ts: int, content: bytes) -> bool:
        """True if the line is new (and records it); False if it was delivered before."""
        if self.min_ts is not None and ts < self.min_ts:
            return False
        digest = hash(content)
        if self._skip is not None and self.last_ts is not None:
            if ts <= self.last_ts:
                self._reached_back = True
            if ts < self.last_ts:
                return False
            if ts == self.last_ts and self._skip[digest] > 0:
                self._skip[digest] -= 1
                return False
            if ts > self.last_ts:
                if not self._reached_back:
                    self._gaps.append((self.last_ts, ts))
                self._skip = None
        if self.last_ts is None or ts > self.last_ts:
            self.last_ts = ts
            self._at_last.clear()
        if ts == self.last_ts:
            self._at_last[digest] += 1
        return True


class LogDecoder:
    """Bytes of one log response → new (ts_ns, content) lines: splits lines, strips timestamps, de-duplicates.

    Lines without a timestamp prefix are dropped (with `timestamps=true` the server prefixes every line).
    An unfinished line at a cut stays in the splitter and is never delivered: the resume re-reads it whole.
    """

    def __init__(self, resume: ResumeFilter) -> None:
        self.resume = resume
        self._splitter = LineSplitter()

    def feed(self, chunk: bytes) -> list[tuple[int, bytes]]:
        out = []
        for raw in self._splitter.feed(chunk):
            parts = split_timestamp(raw)
            if parts is not None and self.resume.accept(*parts):
                out.append(parts)
        return out
