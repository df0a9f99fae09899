"""Turn rules files into text the loader may parse: UTF-8 only, and no more than a ConfigMap can hold.

Rules end up as values of the `falco-rules` ConfigMap, so anything larger could never be pushed. The
limit is Kubernetes': "The data stored in a ConfigMap cannot exceed 1 MiB"
(https://kubernetes.io/docs/concepts/configuration/configmap/), enforced by `ValidateConfigMap` in
kubernetes/kubernetes pkg/apis/core/validation/validation.go, which sums the byte length of every value
of `data` and `binaryData` and rejects a total above `core.MaxSecretSize` (1024 * 1024). Input is read
at most one byte past the limit, so an endless or huge file (`/dev/zero`) costs no memory or time.
ConfigMap `data` values are UTF-8 strings; bytes that are not UTF-8 are an error naming where they are,
never silently replaced.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

#: Kubernetes' cap on the sum of a ConfigMap's values, in bytes (core.MaxSecretSize).
CONFIGMAP_MAX_BYTES = 1024 * 1024


class RulesInputError(ValueError):
    """Rules input that cannot be used; `str()` is the message, `name`/`line`/`column`/`offset` where."""

    def __init__(
        self, message: str, name: str, *, offset: int | None = None, line: int = 0, column: int = 0
    ) -> None:
        super().__init__(message)
        self.message = message
        self.name = name
        self.offset = offset
        self.line = line
        self.column = column


def decode_rules(data: bytes, name: str) -> str:
    """`data` as text; RulesInputError at the first byte that is not UTF-8 (byte offset, line:column)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = exc.start
        line_start = data.rfind(b"\n", 0, offset) + 1
        line = data.count(b"\n", 0, offset) + 1
        column = len(data[line_start:offset].decode("utf-8")) + 1
        raise RulesInputError(
            f"{name}:{line}:{column}: not UTF-8: byte 0x{data[offset]:02x} at byte offset {offset} "
            "(Falco rules and ConfigMap data are UTF-8 text; convert the file, e.g. with iconv)",
            name,
            offset=offset,
            line=line,
            column=column,
        ) from None


def too_large(name: str, size: int | None, limit: int = CONFIGMAP_MAX_BYTES) -> RulesInputError:
    """The error for input past `limit` bytes (`size` None when it was not read to the end)."""
    what = f"{size} bytes" if size is not None else f"more than {limit} bytes"
    return RulesInputError(
        f"{name}: {what}: rules must fit in a ConfigMap, whose data cannot exceed {limit} bytes (1 MiB) "
        "in total; nothing was parsed",
        name,
    )


class RulesBudget:
    """Reads rules files as text while the bytes read so far stay within one ConfigMap's limit."""

    def __init__(self, limit: int = CONFIGMAP_MAX_BYTES) -> None:
        self.limit = limit
        self.used = 0

    def read_stream(self, stream: BinaryIO, name: str) -> str:
        left = self.limit - self.used
        data = stream.read(left + 1)
        if len(data) > left:
            raise too_large(name if not self.used else f"{name} (with the files before it)", None, self.limit)
        self.used += len(data)
        return decode_rules(data, name)

    def read_file(self, path: str | Path, name: str | None = None) -> str:
        with open(path, "rb") as f:
            return self.read_stream(f, name if name is not None else str(path))

    def check_text(self, text: str, name: str) -> None:
        """Count an already-decoded text (e.g. from an editor) against the limit."""
        size = len(text.encode("utf-8", "surrogatepass"))
        if self.used + size > self.limit:
            raise too_large(name if not self.used else f"{name} (with the files before it)", size, self.limit)
        self.used += size


def check_configmap_size(files: dict[str, str], limit: int = CONFIGMAP_MAX_BYTES) -> None:
    """RulesInputError when the values of `files` together exceed what one ConfigMap can hold."""
    total = sum(len(t.encode("utf-8", "surrogatepass")) for t in files.values())
    if total > limit:
        raise RulesInputError(
            f"the rules files total {total} bytes: a ConfigMap's data cannot exceed {limit} bytes (1 MiB)",
            ", ".join(files),
        )
