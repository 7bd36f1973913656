"""Authentication before anything reads the request body: a pure ASGI middleware.

For ``/api/v1/*`` and ``/metrics`` (a key required) and ``/readyz`` (a key optional), it reads
the ``Authorization`` header, looks the key up in a short database session of its own and,
when the key fails, counts the failure against the client address (``throttle.py``). It
answers 401 or 429 itself, in the one error envelope, without ever calling ``receive``: an
unauthenticated client cannot make the server read, buffer or parse a body. An admitted
caller's principal goes into the request state, where ``deps.get_principal`` reads it.
"""

from __future__ import annotations

import enum
import ipaddress
import logging
from typing import Any

import anyio
from sqlalchemy.exc import OperationalError
from starlette.types import ASGIApp, Receive, Scope, Send

from tracker.api.errors import envelope, problem
from tracker.db import Database
from tracker.organisations.service import Principal, authenticate
from tracker.organisations.throttle import Decision, FailureLog, failure_log_from_settings
from tracker.settings import get_settings

logger = logging.getLogger(__name__)

PRINCIPAL_STATE = "principal"
"""The key of the authenticated principal in ``scope["state"]`` (``request.state``)."""

CHALLENGE = {"WWW-Authenticate": "Bearer"}
AUTHORIZATION_LOC = ["header", "authorization"]


class Access(enum.Enum):
    """Whether a path needs a key."""

    REQUIRED = "required"
    OPTIONAL = "optional"  # answers less without a key, but a key given must be valid
    PUBLIC = "public"


def access_of(path: str) -> Access:
    """Which paths this middleware guards."""
    if path == "/api/v1" or path.startswith("/api/v1/") or path == "/metrics":
        return Access.REQUIRED
    if path == "/readyz":
        return Access.OPTIONAL
    return Access.PUBLIC


def client_key(address: str) -> str:
    """What failures are counted under: the IPv4 address, or the IPv6 /64 (one subscriber
    gets a whole /64, so counting single IPv6 addresses would give an attacker endless ones)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return address


def principal_of(scope: Scope) -> Principal | None:
    """The principal the middleware admitted for this request, if any."""
    principal = scope.get("state", {}).get(PRINCIPAL_STATE)
    return principal if isinstance(principal, Principal) else None


def _route_path(scope: Scope) -> str:
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _authorization(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            return bytes(value).decode("latin-1")
    return None


def _bearer_key(header: str) -> str | None:
    scheme, _, credentials = header.strip().partition(" ")
    credentials = credentials.strip()
    return credentials if scheme.lower() == "bearer" and credentials else None


def _unauthenticated(message: str) -> Any:
    return envelope(401, [problem(AUTHORIZATION_LOC, message, "auth.unauthenticated")], CHALLENGE)


def _throttled(decision: Decision) -> Any:
    return envelope(
        429,
        [
            problem(
                AUTHORIZATION_LOC,
                "too many failed authentication attempts from this address; "
                f"retry in {decision.retry_after_seconds} s",
                "auth.throttled",
            )
        ],
        {"Retry-After": str(decision.retry_after_seconds)},
    )


def _database_unavailable() -> Any:
    return envelope(
        503,
        [problem([], "the database is unavailable; retry shortly", "service.unavailable")],
        {"Retry-After": "5"},
    )


class AuthenticationMiddleware:
    """Admit a request to a guarded path only with a valid key; never reads the body."""

    def __init__(
        self, app: ASGIApp, *, failures: FailureLog | None = None, database: Database | None = None
    ) -> None:
        self.app = app
        self.failures = (
            failures if failures is not None else failure_log_from_settings(get_settings())
        )
        self.database = database

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        access = access_of(_route_path(scope))
        header = _authorization(scope)
        if access is Access.PUBLIC or (header is None and access is Access.OPTIONAL):
            await self.app(scope, receive, send)
            return
        if header is None:
            # Nothing was presented, so nothing is guessed: not counted as a failure.
            await _unauthenticated("an API key is required")(scope, receive, send)
            return
        database = self.database or scope["app"].state.database
        address = client_key(scope["client"][0] if scope.get("client") else "unknown")
        try:
            outcome = await anyio.to_thread.run_sync(self._admit, database, header, address)
        except OperationalError as error:
            logger.warning("database unavailable while authenticating: %s", type(error).__name__)
            if access is Access.OPTIONAL:
                # /readyz must still say "not ready"; without a checked key, the status alone.
                await self.app(scope, receive, send)
                return
            await _database_unavailable()(scope, receive, send)
            return
        if isinstance(outcome, Principal):
            scope.setdefault("state", {})[PRINCIPAL_STATE] = outcome
            await self.app(scope, receive, send)
        elif outcome.throttled:
            await _throttled(outcome)(scope, receive, send)
        else:
            message = (
                "the API key is not valid"
                if _bearer_key(header)
                else "an API key is required (Authorization: Bearer <key>)"
            )
            await _unauthenticated(message)(scope, receive, send)

    def _admit(self, database: Database, header: str, address: str) -> Principal | Decision:
        """The principal for a valid key; otherwise the failure counted and judged."""
        key = _bearer_key(header)
        if key is not None:
            with database.session() as session:
                principal = authenticate(session=session, key=key)
            if principal is not None:
                return principal
        return self.failures.record_failure(address)
