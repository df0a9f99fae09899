"""The one error type of the simulated API: it maps 1:1 onto a Kubernetes `Status` object."""

from __future__ import annotations

_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    500: "InternalError",
}


class StoreError(Exception):
    """A failed API operation; `status()` renders it as the Status body Kubernetes would send."""

    def __init__(self, code: int, message: str, reason: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason or _REASONS.get(code, "Unknown")
        self.message = message
        self.details = details

    def status(self) -> dict:
        body: dict = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def _about_object(code: int, reason: str, message: str, resource: str, name: str, group: str) -> StoreError:
    """An error about one named object: `message` gets `{qualified}` (`resource.group`, or just `resource` in
    the core group) and `{name}`; the details name the object as the API server's `StatusDetails` do."""
    qualified = f"{resource}.{group}" if group else resource
    details = {"name": name, "group": group, "kind": resource}
    return StoreError(code, message.format(qualified=qualified, name=name), reason, details)


def not_found(resource: str, name: str, group: str = "") -> StoreError:
    return _about_object(404, "NotFound", '{qualified} "{name}" not found', resource, name, group)


def already_exists(resource: str, name: str, group: str = "") -> StoreError:
    return _about_object(409, "AlreadyExists", '{qualified} "{name}" already exists', resource, name, group)


def conflict(resource: str, name: str, group: str = "") -> StoreError:
    message = (
        'Operation cannot be fulfilled on {qualified} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    return _about_object(409, "Conflict", message, resource, name, group)


def bad_request(message: str) -> StoreError:
    return StoreError(400, message, "BadRequest")


def invalid(kind: str, name: str, causes: list[tuple[str, str, str]], group: str = "") -> StoreError:
    """422 Invalid; causes are (reason, field, message) like `FieldValueRequired`."""
    text = "; ".join(f"{field}: {msg}" for _, field, msg in causes)
    return StoreError(
        422,
        f'{kind} "{name}" is invalid: {text}',
        "Invalid",
        {
            "name": name,
            "group": group,
            "kind": kind,
            "causes": [{"reason": r, "message": m, "field": f} for r, f, m in causes],
        },
    )
