"""The error types of the whole `kube` layer; `str()` of each is a readable one-line explanation."""

from __future__ import annotations

import json
import re


class KubeError(Exception):
    """Any failure of cluster I/O; `str()` is a readable one-line explanation."""

    def __init__(
        self, message: str, *, code: int | None = None, reason: str = "", details: dict | None = None
    ):
        super().__init__(message)
        self.message = message
        self.code = code
        self.reason = reason
        self.details = details or {}

    @property
    def short(self) -> str:
        """The message with a network failure cut down to its cause (see `short_reason`)."""
        return short_reason(self)


_ERRNO = re.compile(r"\[Errno -?\d+\] ([^\"')\]]+)")
_CAUSES = ("timed out", "refused", "reset", "name or service not known", "certificate verify failed")


def short_reason(exc: BaseException) -> str:
    """`connection refused`, `timed out` … instead of urllib3's nested retry report (else the message)."""
    text = str(exc)
    if m := _ERRNO.search(text):
        return m[1].strip().lower()
    lowered = text.lower()
    for word in _CAUSES:
        if word in lowered:
            return word
    return text


class KubeConfigError(KubeError):
    """No usable kubeconfig/context/in-cluster credentials."""


class KubeConnectionError(KubeError):
    """The API server could not be reached or stopped answering (refused, reset, timed out)."""


class KubeApiError(KubeError):
    """The API server answered with a failure `Status` (code, reason, message, details)."""

    @classmethod
    def from_status(cls, code: int, body: bytes | str | None, what: str = "") -> KubeApiError:
        status: dict = {}
        if body:
            try:
                status = json.loads(body)
            except ValueError:
                status = {}
        if not isinstance(status, dict):
            status = {}
        message = status.get("message") or (
            body.decode(errors="replace") if isinstance(body, bytes) else body
        )
        message = (message or f"HTTP {code}").strip()
        if what:
            message = f"{what}: {message}"
        return cls(
            message,
            code=int(status.get("code") or code),
            reason=status.get("reason") or "",
            details=status.get("details"),
        )
