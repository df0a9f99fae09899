"""The door of `falcotui serve`: who may reach the served app, checked on every request before any route.

textual-serve (1.1.3) has no authentication and no origin check of its own: its aiohttp application
answers `/`, `/ws`, `/download/{key}` and `/static/…` to anyone who can connect. `install_guard` adds an
aiohttp middleware in front of every one of those routes, the websocket upgrade and the static files
included, and headers on every response:

- Host: the Host header must name the address served (DNS rebinding: a page of another site whose name
  now resolves to 127.0.0.1 would send its own name as Host).
- Origin: a websocket upgrade must carry an Origin equal to the page's own (`http://<Host>`), and any other
  request that carries an Origin must carry that one; browsers always send Origin on a websocket upgrade.
- Fetch metadata: a browser request that says it comes from another site or origin (Sec-Fetch-Site
  cross-site or same-site, e.g. a page on another port of 127.0.0.1, to which cookies are not private) is
  refused unless it carries the token itself.
- Token: the first load carries `?token=…`; it is compared in constant time, answered with a session
  cookie (HttpOnly, SameSite=Strict, Path=/; Secure over TLS) and a 303 to the same address without the
  token, so the token is not left in the browser's history or address bar. Later requests carry the
  cookie, whose value is an HMAC of the token (the token itself is not stored in the browser). Scripts
  may send `Authorization: Bearer <token>` instead.
- Responses are never cached, never framed by another page, send no Referer, and the page may load
  scripts, styles, fonts and connections only from itself (the upstream page links a Google font: the
  Content-Security-Policy keeps that request from leaving the machine). A file the app hands to the
  browser (`/download/…`: an export, an incident report) runs no script, in a sandbox of its own.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from hashlib import sha256
from urllib.parse import urlencode

from aiohttp import hdrs, web

log = logging.getLogger("falcotui.serve")

TOKEN_PARAM = "token"
#: a supplied token shorter than this is refused (a generated one has 43 characters, 256 random bits)
MIN_TOKEN_LENGTH = 20
_SESSION_LABEL = b"falcotui-serve-session-v1"

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        # the upstream page's two inline <script>/<style> blocks; nothing is loaded from elsewhere
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "font-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",  # CSP3: 'self' also matches ws:// (wss://) to the same host and port
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'none'",
    )
)
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
}


def new_token() -> str:
    """A fresh random token: 32 bytes from the OS's CSPRNG, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


def check_token(token: str) -> str:
    """`token` stripped, or ValueError when it is too short or not URL-safe text."""
    token = token.strip()
    if len(token) < MIN_TOKEN_LENGTH:
        raise ValueError(f"a token needs at least {MIN_TOKEN_LENGTH} characters")
    if not all(c.isascii() and (c.isalnum() or c in "-_.~") for c in token):
        raise ValueError("a token may only contain letters, digits and - _ . ~")
    return token


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_wildcard(host: str) -> bool:
    return host.strip("[]") in ("0.0.0.0", "::", "")


def _host_names(host: str) -> list[str]:
    """How a browser writes `host` in a Host header (IPv6 addresses in brackets)."""
    bare = host.strip("[]").lower()
    try:
        if ipaddress.ip_address(bare).version == 6:
            return [f"[{bare}]"]
    except ValueError:
        pass
    return [bare]


def allowed_hosts(bind: str, port: int, extra: Iterable[str] = (), *, tls: bool = False) -> frozenset[str]:
    """The Host header values a request may carry: the bound address (with the loopback names when it is
    loopback), every name in `extra` (--allow-host), each with `:port` (and bare on the scheme's port)."""
    names: list[str] = []
    if is_loopback(bind) or is_wildcard(bind):
        names += ["127.0.0.1", "localhost", "[::1]"]
    if not is_wildcard(bind):
        names += _host_names(bind)
    for name in extra:
        names += _host_names(name)
    default_port = 443 if tls else 80
    out = {f"{n}:{port}" for n in names}
    if port == default_port:
        out |= set(names)
    return frozenset(out)


@dataclass(frozen=True)
class GuardPolicy:
    """What the guard checks: the token, the Host header values served, TLS or not."""

    token: str
    hosts: frozenset[str]
    tls: bool = False
    cookie_name: str = "falcotui_serve"

    def session_value(self) -> str:
        """The cookie's value: an HMAC of the token (the token itself never sits in the cookie jar)."""
        return hmac.new(self.token.encode(), _SESSION_LABEL, sha256).hexdigest()

    def token_matches(self, supplied: str) -> bool:
        return hmac.compare_digest(supplied.encode("utf-8", "replace"), self.token.encode())

    def session_matches(self, supplied: str) -> bool:
        return hmac.compare_digest(supplied.encode("utf-8", "replace"), self.session_value().encode())


POLICY_KEY: web.AppKey[GuardPolicy] = web.AppKey("falcotui_serve_policy", GuardPolicy)


def _forbidden(request: web.Request, reason: str) -> web.HTTPForbidden:
    peer = request.remote or "?"
    log.warning("refused %s %s from %s: %s", request.method, request.path, peer, reason)
    return web.HTTPForbidden(text=f"403 Forbidden: {reason}\n")


def _is_websocket(request: web.Request) -> bool:
    return request.headers.get(hdrs.UPGRADE, "").lower() == "websocket"


def _bearer(request: web.Request) -> str | None:
    value = request.headers.get(hdrs.AUTHORIZATION, "")
    scheme, _, credentials = value.partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" and credentials else None


def _without_token(request: web.Request) -> str:
    query = [(k, v) for k, v in request.query.items() if k != TOKEN_PARAM]
    return request.path + (f"?{urlencode(query)}" if query else "")


@web.middleware
async def guard_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Refuse (403) whatever fails the checks in the module docstring; otherwise call the route."""
    policy = request.app[POLICY_KEY]
    host = request.headers.get(hdrs.HOST, "").lower()
    if host not in policy.hosts:
        raise _forbidden(request, "unknown Host header")
    origin = request.headers.get(hdrs.ORIGIN)
    expected_origin = f"{'https' if policy.tls else 'http'}://{host}"
    websocket = _is_websocket(request)
    if websocket and origin is None:
        raise _forbidden(request, "a websocket upgrade without Origin")
    if origin is not None and origin.lower() != expected_origin:
        raise _forbidden(request, "Origin is not this server")

    supplied = request.query.get(TOKEN_PARAM) or _bearer(request)
    if supplied is not None:
        if not policy.token_matches(supplied):
            raise _forbidden(request, "wrong token")
        if TOKEN_PARAM in request.query and not websocket and request.method in ("GET", "HEAD"):
            # the token has done its job: a cookie from now on, and an address without it
            response = web.Response(status=303, headers={hdrs.LOCATION: _without_token(request)})
            response.set_cookie(
                policy.cookie_name,
                policy.session_value(),
                path="/",
                httponly=True,
                samesite="Strict",
                secure=policy.tls,
            )
            log.info("token accepted from %s; session cookie set", request.remote or "?")
            return response
        return await handler(request)

    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        raise _forbidden(request, f"a request from another origin (Sec-Fetch-Site: {site})")
    cookie = request.cookies.get(policy.cookie_name)
    if cookie is None:
        raise _forbidden(request, "no token (open the address falcotui serve printed, with its ?token=)")
    if not policy.session_matches(cookie):
        raise _forbidden(request, "a session cookie of another token")
    return await handler(request)


#: a file the app hands to the browser (an incident report shown in a tab): alert text inside, so no script
#: runs and it gets an origin of its own (the sandbox), whatever it holds
DOWNLOAD_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    if request.path.startswith("/download/"):
        response.headers["Content-Security-Policy"] = DOWNLOAD_POLICY
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers[hdrs.SERVER] = "falcotui"  # not aiohttp's and Python's versions


def install_guard(app: web.Application, policy: GuardPolicy) -> None:
    """Put the guard in front of every route of `app` and the security headers on every response."""
    app[POLICY_KEY] = policy
    app.middlewares.insert(0, guard_middleware)
    app.on_response_prepare.append(_security_headers)
