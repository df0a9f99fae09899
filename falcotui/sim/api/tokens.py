"""Expiring bearer tokens: minted by the test exec credential plugin, checked by the simulated API server.

A token is `simtok.<expiry, unix ms>.<nonce>.<HMAC-SHA256 of the rest>`, signed with a secret the plugin
and the server share. Like a bound service-account token or an OIDC ID token (JWTs carrying `exp`), the
API server rejects it with 401 once its expiry has passed (kubernetes.io/docs/reference/access-authn-authz/
authentication/: "If the token is expired the request is rejected with 401"). The server authenticates a
request once, when it arrives: a watch or log stream opened with a valid token is not cut when the token
expires later (kube-apiserver's authentication filter runs per request, see
staging/src/k8s.io/apiserver/pkg/endpoints/filters/authentication.go), so a client meets the 401 when it
reconnects.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field

PREFIX = "simtok"


def _sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def mint(secret: str, lifetime: float, *, now: float | None = None) -> tuple[str, float]:
    """A fresh token valid for `lifetime` seconds, and its expiry (unix seconds)."""
    expiry = (time.time() if now is None else now) + lifetime
    payload = f"{PREFIX}.{round(expiry * 1000)}.{secrets.token_hex(8)}"
    return f"{payload}.{_sign(secret, payload)}", expiry


def expiry_of(secret: str, token: str) -> float | None:
    """The expiry of a token signed with `secret`, or None when it is not one of ours (or forged)."""
    payload, _, sig = token.rpartition(".")
    parts = payload.split(".")
    if len(parts) != 3 or parts[0] != PREFIX or not hmac.compare_digest(sig, _sign(secret, payload)):
        return None
    try:
        return int(parts[1]) / 1000
    except ValueError:
        return None


@dataclass(slots=True)
class TokenAuthority:
    """Accepts tokens signed with `secret` until they expire; counts what it saw (for tests)."""

    secret: str = field(default_factory=lambda: secrets.token_hex(16))
    accepted: int = 0
    expired: int = 0
    rejected: int = 0

    def valid(self, token: str, now: float | None = None) -> bool:
        expiry = expiry_of(self.secret, token)
        if expiry is None:
            self.rejected += 1
            return False
        if (time.time() if now is None else now) >= expiry:
            self.expired += 1
            return False
        self.accepted += 1
        return True
