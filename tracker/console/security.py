"""The console's protections: response headers, the signed session cookie, CSRF tokens.

- Every answer that is not the API's own JSON gets a strict Content-Security-Policy (scripts
  and styles from this origin only, no inline script, nothing from any other origin, never
  framed), ``Referrer-Policy: no-referrer``, ``X-Frame-Options: DENY`` and ``nosniff``.
- The session cookie holds a random token and an HMAC of it under a key derived from the
  encryption key; it is HttpOnly, SameSite=Strict, Secure behind https.
- Every form carries a CSRF token bound to the session (an HMAC of its token); a POST without
  it, or from another origin, is refused before it does anything.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tracker.api.auth import client_key
from tracker.db import derived_key
from tracker.organisations.throttle import FailureLog
from tracker.settings import get_settings

SESSION_COOKIE = "tracker_session"
#: Before sign-in there is no session: the sign-in form's token is a cookie of its own.
SIGN_IN_COOKIE = "tracker_sign_in"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)
PAGE_HEADERS = {
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}


class SecurityHeadersMiddleware:
    """Set the console's protective headers on every answer that does not set its own CSP."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in PAGE_HEADERS.items():
                    headers.setdefault(name, value)
                headers.setdefault("content-security-policy", CONTENT_SECURITY_POLICY)
            await send(message)

        await self.app(scope, receive, send_with_headers)


SESSION_PURPOSE = "console-session-cookie"


def _signature(value: str, purpose: str) -> str:
    digest = hmac.new(derived_key(purpose), value.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")


def sign_token(value: str, *, purpose: str = SESSION_PURPOSE) -> str:
    """A cookie value: the value and its HMAC under a key derived for ``purpose``."""
    return f"{value}.{_signature(value, purpose)}"


def unsign_token(signed: str | None, *, purpose: str = SESSION_PURPOSE) -> str | None:
    """The value in a cookie, when its signature for ``purpose`` holds; otherwise None."""
    if not signed or len(signed) > 200 or "." not in signed:
        return None
    value, _, signature = signed.rpartition(".")
    if not hmac.compare_digest(signature, _signature(value, purpose)):
        return None
    return value


def csrf_token_for(secret: str) -> str:
    """The CSRF token bound to a session token (or to the sign-in cookie's secret)."""
    digest = hmac.new(derived_key("console-csrf"), secret.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")


def new_secret() -> str:
    """A fresh random secret for the sign-in cookie."""
    return secrets.token_urlsafe(32)


def same_origin(request: Request) -> bool:
    """Whether a state-changing request comes from a page of this origin.

    Browsers send ``Sec-Fetch-Site`` on every request, and ``Origin`` on every POST: with our
    ``Referrer-Policy: no-referrer`` a form's ``Origin`` is the opaque ``null``, so
    ``Sec-Fetch-Site`` decides then. Either, when it says something, must say this origin.
    (SameSite=Strict already keeps the cookie off cross-site requests; this also stops a page
    on another port of the same host, which is "same-site".) The CSRF token is checked too.
    """
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    if origin == "null":
        return fetch_site == "same-origin"
    expected = f"{request.url.scheme}://{request.url.netloc}"
    return hmac.compare_digest(origin.encode(), expected.encode())


def is_secure(request: Request, configured: bool | None) -> bool:
    """Whether cookies get the Secure flag: as configured, or when the request was https."""
    return configured if configured is not None else request.url.scheme == "https"


def set_cookie(
    response: Response, request: Request, name: str, value: str, *, path: str = "/", **extra: Any
) -> None:
    """Set one of the console's cookies: HttpOnly, SameSite=Strict, Secure behind https."""
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="strict",
        secure=is_secure(request, get_settings().console_secure_cookies),
        path=path,
        **extra,
    )


def client_address(request: Request) -> str:
    """What failed sign-ins and PINs are counted under (as API keys: ``client_key``)."""
    return client_key(request.client.host if request.client else "unknown")


def sign_in_failures(request: Request) -> FailureLog:
    """The failure log that throttles sign-ins and status-link PINs."""
    return request.app.state.sign_in_failures  # type: ignore[no-any-return]
