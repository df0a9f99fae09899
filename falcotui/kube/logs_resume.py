"""Reading `timestamps=true` pod logs again without duplicates: timestamps, the resume filter, the decoder.

A stern-style resume asks for `sinceTime` = the last seen timestamp floored to the second, then skips
every line older than that timestamp and, at that exact timestamp, the lines already seen (compared by
timestamp + content hash, with multiplicity, since several lines can share one timestamp).
"""

from __future__ import annotations

import datetime as _dt
from collections import Counter
from collections.abc import Callable
from typing import TypeVar

from falcotui.falco.alerts import parse_iso8601_ns

_EPOCH = _dt.datetime(1970, 1, 1)
T = TypeVar("T")


def parse_rfc3339_ns(text: bytes) -> int:
    """An RFC 3339 timestamp (nanosecond fraction optional, trailing zeros trimmed) as Unix nanoseconds."""
    if not text[:1].isdigit():
        raise ValueError(f"not an RFC 3339 timestamp: {text[:40]!r}")
    try:
        return parse_iso8601_ns(text.decode("ascii"))
    except UnicodeDecodeError:
        raise ValueError(f"not an RFC 3339 timestamp: {text[:40]!r}") from None


# Unix ns of each whole second seen in a prefix (`2026-12-06T16:26:09` → …): a storm's lines share a few
# seconds, so the date arithmetic runs once a second, not once a line. Bounded: cleared past 4096 entries.
_SECOND_NS: dict[bytes, int] = {}
_FRACTION_SCALE = tuple(10 ** (9 - n) for n in range(10))  # digits after the point → ns per unit


def split_timestamp(line: bytes) -> tuple[int, bytes] | None:
    """`<RFC3339Nano> <content>` (what `timestamps=true` prefixes) → (ns, content); None if no prefix.

    The kubelet writes the prefix as `timeFormatOut` (kubernetes pkg/kubelet/kuberuntime/logs/logs.go:
    `types.RFC3339NanoFixed`, "2006-01-02T15:04:05.000000000Z07:00"; older kubelets `time.RFC3339Nano`, the
    fraction's trailing zeros trimmed) of the container runtime's UTC time: `2026-12-06T16:26:09.763782797Z`.
    That form is read from a per-second cache here; any other goes through the full parser."""
    if line[19:20] == b"." and line[10:11] == b"T":
        sp = line.find(b" ", 21, 31)
        if sp > 0 and line[sp - 1 : sp] == b"Z":
            base = _SECOND_NS.get(line[:19])
            frac = line[20 : sp - 1]
            if base is not None and frac.isdigit():  # bytes.isdigit: ASCII digits only
                return base + int(frac) * _FRACTION_SCALE[len(frac)], line[sp + 1 :]
    sp = line.find(b" ")
    head = line if sp < 0 else line[:sp]
    try:
        ts = parse_rfc3339_ns(head)
    except ValueError:
        return None
    if 20 < len(head) <= 30 and head[19:20] == b"." and head[-1:] == b"Z" and head[20:-1].isdigit():
        if len(_SECOND_NS) >= 4096:
            _SECOND_NS.clear()
        _SECOND_NS[head[:19]] = ts - int(head[20:-1]) * _FRACTION_SCALE[len(head) - 21]
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
        # the lines delivered at exactly last_ts (usually one): hashed only when a resume needs them
        self._at_last: list[bytes] = []
        self._skip: Counter[int] | None = None  # armed by begin_resume()
        self._reached_back = False  # this resume saw a line at or before last_ts: nothing in between lost
        self._gaps: list[tuple[int, int]] = []  # (last line before, first line after) of unproven resumes

    def begin_resume(self, *, detect_gaps: bool = True) -> None:
        """Skip what was delivered; with `detect_gaps`, note a resume that does not reach back to the last
        line (off after a container restart: the new instance's log starts later by nature)."""
        self._skip = Counter(map(hash, self._at_last)) if self.last_ts is not None else None
        self._reached_back = not detect_gaps

    def take_gaps(self) -> list[tuple[int, int]]:
        """Resumes that could not prove continuity since the last call: (last seen ts, first new ts).

        A resume asks from the last seen line's second on, so the log still holding that line shows it
        again; when the first line back is newer, lines in between may be gone (the kubelet rotated or
        truncated the log while the stream was cut) — possible loss, said rather than hidden."""
        gaps, self._gaps = self._gaps, []
        return gaps

    def reset(self) -> None:
        self.last_ts, self._skip, self._at_last = None, None, []

    def accept(self, ts: int, content: bytes) -> bool:
        """True if the line is new (and records it); False if it was delivered before."""
        if self.min_ts is not None and ts < self.min_ts:
            return False
        last = self.last_ts
        if self._skip is not None and last is not None:
            if ts <= last:
                self._reached_back = True
            if ts < last:
                return False
            if ts == last:
                digest = hash(content)
                if self._skip[digest] > 0:
                    self._skip[digest] -= 1
                    return False
            else:
                if not self._reached_back:
                    self._gaps.append((last, ts))
                self._skip = None
        if last is None or ts > last:
            self.last_ts = ts
            self._at_last = [content]
        elif ts == last:
            self._at_last.append(content)
        return True


class LogDecoder:
    """Bytes of one log response → new (ts_ns, content) lines: splits lines, strips timestamps, de-duplicates.

    Lines without a timestamp prefix are dropped (with `timestamps=true` the server prefixes every line).
    An unfinished line at a cut stays in the buffer and is never delivered: the resume re-reads it whole.
    One pass over each chunk: a line's content is sliced out of the chunk once (no split, then a second
    slice past the timestamp), and the kubelet's timestamp form is read from the per-second cache.
    """

    def __init__(self, resume: ResumeFilter) -> None:
        self.resume = resume
        self._pending = bytearray()  # bytes after the last newline: the start of an unfinished line

    @property
    def pending(self) -> bytes:
        return bytes(self._pending)

    def feed(
        self, chunk: bytes, make: Callable[[int, bytes], T] | None = None
    ) -> list[tuple[int, bytes]] | list[T]:
        """The new lines completed by `chunk`, oldest first: `(ts, content)` each, or `make(ts, content)`."""
        if b"\n" not in chunk:
            self._pending += chunk
            return []
        if self._pending:
            self._pending += chunk
            data = bytes(self._pending)
        else:
            data = chunk if type(chunk) is bytes else bytes(chunk)
        end = data.rfind(b"\n")
        self._pending = bytearray(data[end + 1 :])
        resume, seconds, scale, find = self.resume, _SECOND_NS, _FRACTION_SCALE, data.find
        out: list = []
        append = out.append
        pos = 0
        # ResumeFilter.accept's common case (no lower bound, no resume armed, time moving on), inline, with
        # the filter's last timestamp and line kept here and written back before anything else reads them
        last, last_content = resume.last_ts, None
        fast = resume._skip is None and resume.min_ts is None and last is not None
        while pos <= end:
            nl = find(b"\n", pos)
            stop = nl - 1 if nl > pos and data[nl - 1] == 13 else nl  # a CRLF line ends before the CR
            ts = None
            # split_timestamp's common case, inline (see there)
            if data[pos + 19 : pos + 20] == b"." and data[pos + 10 : pos + 11] == b"T":
                sp = find(b" ", pos + 21, pos + 31 if pos + 31 < stop else stop)
                if sp > 0 and data[sp - 1] == 90:  # "Z"
                    base = seconds.get(data[pos : pos + 19])
                    frac = data[pos + 20 : sp - 1]
                    if base is not None and frac.isdigit():
                        ts = base + int(frac) * scale[len(frac)]
                        content = data[sp + 1 : stop]
            if ts is None:
                parts = split_timestamp(data[pos:stop])
                pos = nl + 1
                if parts is None:
                    continue
                ts, content = parts
            else:
                pos = nl + 1
            if fast and ts > last:  # type: ignore[operator]
                last, last_content = ts, content
            else:
                if last_content is not None:
                    resume.last_ts, resume._at_last, last_content = last, [last_content], None
                accepted = resume.accept(ts, content)
                last = resume.last_ts
                fast = resume._skip is None and resume.min_ts is None and last is not None
                if not accepted:
                    continue
            append((ts, content) if make is None else make(ts, content))
        if last_content is not None:
            resume.last_ts, resume._at_last = last, [last_content]
        return out
