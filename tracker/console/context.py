"""Who is at the console: the signed-in person behind a request, or a redirect to sign in.

``ConsoleDep`` is the dependency every page takes. It reads the signed cookie, finds the live
session (``tracker.organisations.sessions``), and sends the person where they must go first:
to the sign-in page, to the second factor, or to choose a password after a one-time one.
Pages then call the same services as the API with ``console.principal``.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from tracker.api.deps import SessionDep
from tracker.console.i18n import best_language, languages
from tracker.console.security import (
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    csrf_token_for,
    same_origin,
    unsign_token,
)
from tracker.organisations.models import ConsoleSession, Role, User
from tracker.organisations.service import Principal
from tracker.organisations.sessions import Limits, find_session
from tracker.settings import get_settings


class Redirect(Exception):
    """Answer with a redirect (303, or HX-Redirect for htmx) instead of the page."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


class CsrfRefused(Exception):
    """A state-changing request without the form's token, or from another origin."""


class NotAllowed(Exception):
    """The signed-in person's role may not open this page."""


@dataclass(frozen=True, slots=True)
class Console:
    """The signed-in person: their user row, principal, language and CSRF token."""

    user: User
    principal: Principal
    console_session: ConsoleSession
    csrf_token: str
    language: str

    @property
    def is_supervisor(self) -> bool:
        return self.principal.sees_all_cases

    @property
    def is_admin(self) -> bool:
        return self.principal.role is Role.ADMIN


def limits() -> Limits:
    """The session limits from the settings."""
    settings = get_settings()
    return Limits(
        idle=timedelta(seconds=settings.console_session_idle_seconds),
        absolute=timedelta(seconds=settings.console_session_absolute_seconds),
    )


def session_token(request: Request) -> str | None:
    """The session token in the request's cookie, when its signature holds."""
    return unsign_token(request.cookies.get(SESSION_COOKIE))


def csrf_secret(request: Request) -> str | None:
    """What this request's CSRF token is bound to: the session, else the sign-in cookie."""
    return session_token(request) or request.cookies.get(SIGN_IN_COOKIE)


def safe_next(path: str | None) -> str:
    """Only a path of this console: never another origin (``//host``) or a scheme."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path[:200]


def _next_path(request: Request) -> str:
    # Only the path: console paths carry ids, never a victim's details or a reported URL.
    return request.url.path if request.method == "GET" else "/"


def find_console(session: Session, request: Request) -> tuple[ConsoleSession, User] | None:
    """The live console session of this request, or None."""
    token = session_token(request)
    if token is None:
        return None
    # htmx's own polling (a GET the page makes by itself every few seconds) must not keep an
    # unattended screen signed in; what the person does (navigation, forms) does.
    polling = request.method == "GET" and request.headers.get("hx-request") == "true"
    found = find_session(session=session, token=token, limits=limits(), touch=not polling)
    if found is not None:
        session.commit()  # a refreshed last_seen_at
    return found


def language_of(request: Request, user: User | None) -> str:
    """The language to answer in: the user's own, else the browser's best match."""
    if user is not None and user.language in languages():
        return user.language
    return best_language(request.headers.get("accept-language"))


def _console(session: SessionDep, request: Request, *, setup: bool) -> Console:
    found = find_console(session, request)
    if found is None:
        raise Redirect(f"/sign-in?next={_next_path(request)}")
    console_session, user = found
    if not console_session.second_factor_passed:
        raise Redirect("/sign-in/second-factor")
    if user.password_must_change and not setup:
        raise Redirect("/account/password")
    token = session_token(request)
    assert token is not None and user.id is not None
    return Console(
        user=user,
        principal=Principal(
            user_id=user.id, organisation_id=user.organisation_id, role=Role(user.role)
        ),
        console_session=console_session,
        csrf_token=csrf_token_for(token),
        language=language_of(request, user),
    )


def signed_in(session: SessionDep, request: Request) -> Console:
    """The signed-in person, or a redirect to where they must go first."""
    return _console(session, request, setup=False)


def signed_in_for_setup(session: SessionDep, request: Request) -> Console:
    """Like ``signed_in``, but also while a one-time password still has to be changed."""
    return _console(session, request, setup=True)


ConsoleDep = Annotated[Console, Depends(signed_in)]
SetupConsoleDep = Annotated[Console, Depends(signed_in_for_setup)]


def supervisor(console: ConsoleDep) -> Console:
    """A supervisor or admin; anyone else gets the "not for your role" page."""
    if not console.is_supervisor:
        raise NotAllowed()
    return console


def admin(console: ConsoleDep) -> Console:
    """An admin; anyone else gets the "not for your role" page."""
    if not console.is_admin:
        raise NotAllowed()
    return console


SupervisorConsoleDep = Annotated[Console, Depends(supervisor)]
AdminConsoleDep = Annotated[Console, Depends(admin)]


async def check_csrf(request: Request) -> None:
    """Refuse a state-changing request without this session's CSRF token or from elsewhere."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if not same_origin(request):
        raise CsrfRefused()
    secret = csrf_secret(request)
    if not secret:
        raise CsrfRefused()
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if sent is None or not hmac.compare_digest(sent.encode(), csrf_token_for(secret).encode()):
        raise CsrfRefused()
