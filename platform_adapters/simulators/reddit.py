"""Reddit's OAuth token endpoint and ``POST /api/report``, simulated over real HTTP on loopback.

Checks what Reddit documents (read 2026-11-23): ``POST /api/v1/access_token`` needs HTTP Basic
``client_id:client_secret`` (401 otherwise), a form body with ``grant_type=password``, and a
descriptive User-Agent (generic library agents get 429, as Reddit throttles them); a wrong
username or password answers 200 ``{"error": "invalid_grant"}``. ``POST /api/report`` needs
``Authorization: bearer <issued token>`` (401 ``{"message": "Unauthorized", "error": 401}``),
a form body with ``api_type=json``, ``thing_id`` a ``t1_``/``t3_`` fullname and ``reason``,
``site_reason`` and ``other_reason`` of at most 100 characters; problems answer 200
``{"json": {"errors": [[code, message, field]]}}``, success ``{"json": {"errors": []}}``.

Controls: ``POST /_sim/fail-next`` (see ``faults``; applies to both endpoints) and
``GET /_sim/stats`` -> ``{"token_requests": n, "reports": {fullname: n},
"site_reasons": {fullname: [site_reason, ...]}}``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import secrets
import threading
from collections import Counter
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from platform_adapters.simulators.faults import FailureQueue, add_fail_next_route
from platform_adapters.simulators.runner import LoopbackServer

DEFAULT_CLIENT_ID = "simulated-client-id"
DEFAULT_CLIENT_SECRET = "simulated-client-secret"  # noqa: S105 - a loopback test default
DEFAULT_USERNAME = "helpline_test_bot"
DEFAULT_PASSWORD = "simulated-password"  # noqa: S105 - a loopback test default
FULLNAME = re.compile(r"^t[13]_[0-9a-z]{1,13}$")
GENERIC_AGENTS = ("python-httpx", "python-requests", "curl/", "python-urllib")
FORM = "application/x-www-form-urlencoded"


class RedditState:
    """Issued tokens and received reports, guarded by one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.tokens: set[str] = set()
        self.token_requests = 0
        self.reports: Counter[str] = Counter()
        self.site_reasons: dict[str, list[str]] = {}

    def issue_token(self) -> str:
        """A new bearer token."""
        token = secrets.token_urlsafe(24)
        with self._lock:
            self.tokens.add(token)
        return token

    def record_report(self, fullname: str, site_reason: str) -> None:
        """Count one accepted report."""
        with self._lock:
            self.reports[fullname] += 1
            self.site_reasons.setdefault(fullname, []).append(site_reason)


async def _form(request: Request) -> dict[str, str]:
    """The url-encoded form body (parsed here: the simulator needs no multipart library)."""
    pairs = parse_qsl((await request.body()).decode(), keep_blank_values=True)
    return dict(pairs)


def _unauthorized() -> JSONResponse:
    return JSONResponse({"message": "Unauthorized", "error": 401}, status_code=401)


def _form_errors(errors: list[list[str]]) -> JSONResponse:
    return JSONResponse({"json": {"errors": errors}})


def create_app(
    *,
    client_id: str = DEFAULT_CLIENT_ID,
    client_secret: str = DEFAULT_CLIENT_SECRET,
    username: str = DEFAULT_USERNAME,
    password: str = DEFAULT_PASSWORD,
) -> FastAPI:
    """Build the simulated Reddit API with fresh in-memory state."""
    state = RedditState()
    failures = FailureQueue()
    app = FastAPI(title="Reddit API (simulated)")

    def injected() -> JSONResponse | None:
        failure = failures.take()
        if failure is None:
            return None
        body = {"message": "injected failure", "error": failure.status}
        return JSONResponse(body, status_code=failure.status, headers=failure.retry_after_header())

    def agent_refused(request: Request) -> JSONResponse | None:
        agent = request.headers.get("user-agent", "").lower()
        if not agent or agent.startswith(GENERIC_AGENTS):
            return JSONResponse({"message": "Too Many Requests", "error": 429}, status_code=429)
        return None

    @app.post("/api/v1/access_token")
    async def access_token(request: Request) -> JSONResponse:
        refused = injected() or agent_refused(request)
        if refused is not None:
            return refused
        state.token_requests += 1
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        try:
            given_id, _, given_secret = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return _unauthorized()
        if scheme.lower() != "basic" or not (
            hmac.compare_digest(given_id, client_id)
            and hmac.compare_digest(given_secret, client_secret)
        ):
            return _unauthorized()
        if request.headers.get("content-type", "").split(";")[0].strip() != FORM:
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        form = await _form(request)
        if form.get("grant_type") != "password":
            return JSONResponse({"error": "unsupported_grant_type"})
        if form.get("username") != username or not hmac.compare_digest(
            str(form.get("password", "")), password
        ):
            return JSONResponse({"error": "invalid_grant"})
        token = state.issue_token()
        return JSONResponse(
            {"access_token": token, "token_type": "bearer", "expires_in": 86400, "scope": "*"}
        )

    @app.post("/api/report")
    async def report(request: Request) -> JSONResponse:
        refused = injected() or agent_refused(request)
        if refused is not None:
            return refused
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or token not in state.tokens:
            return _unauthorized()
        if request.headers.get("content-type", "").split(";")[0].strip() != FORM:
            return _form_errors([["BAD_REQUEST", "form body required", "body"]])
        form = await _form(request)
        if form.get("api_type") != "json":
            return _form_errors([["BAD_REQUEST", "api_type must be json", "api_type"]])
        errors: list[list[str]] = []
        thing_id = form.get("thing_id") or form.get("id") or ""
        if not FULLNAME.match(thing_id):
            errors.append(["NO_THING_ID", "a fullname t1_ or t3_ is required", "thing_id"])
        if not form.get("reason"):
            errors.append(["NO_TEXT", "we need something here", "reason"])
        for field in ("reason", "site_reason", "other_reason"):
            if len(form.get(field, "")) > 100:
                errors.append(["TOO_LONG", "this is too long (max: 100)", field])
        if errors:
            return _form_errors(errors)
        state.record_report(thing_id, form.get("site_reason", ""))
        return _form_errors([])

    add_fail_next_route(app, failures)

    @app.get("/_sim/stats")
    def stats() -> dict[str, Any]:
        return {
            "token_requests": state.token_requests,
            "reports": dict(state.reports),
            "site_reasons": state.site_reasons,
        }

    return app


class RedditServer(LoopbackServer):
    """The simulated Reddit API on a loopback port (token and report on the same origin)."""

    def __init__(self, *, port: int = 0, **options: Any) -> None:
        super().__init__(create_app(**options), port=port, name="reddit-simulator")

    @property
    def token_url(self) -> str:
        """Where the adapter asks for tokens."""
        return f"{self.base_url}/api/v1/access_token"
