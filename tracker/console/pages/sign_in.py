"""Signing in (password, then the TOTP code when enrolled) and signing out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response

from tracker.api.deps import SessionDep
from tracker.console.app import redirect
from tracker.console.context import (
    check_csrf,
    csrf_secret,
    find_console,
    language_of,
    safe_next,
    session_token,
)
from tracker.console.render import render
from tracker.console.security import (
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    client_address,
    csrf_token_for,
    new_secret,
    set_cookie,
    sign_in_failures,
    sign_token,
)
from tracker.organisations.models import User
from tracker.organisations.passwords import accept_totp, user_for_password
from tracker.organisations.sessions import end_session, open_session

router = APIRouter()
CsrfChecked = Depends(check_csrf)


def _sign_in_page(
    request: Request, *, status_code: int = 200, error: str | None = None, next_path: str = "/"
) -> Response:
    secret = csrf_secret(request)
    fresh = secret is None
    if secret is None:
        secret = new_secret()
    response = render(
        request,
        "sign_in.html",
        {"error": error, "next_path": safe_next(next_path)},
        language=language_of(request, None),
        csrf_token=csrf_token_for(secret),
        status_code=status_code,
    )
    if fresh:
        set_cookie(response, request, SIGN_IN_COOKIE, secret)
    return response


@router.get("/sign-in")
def sign_in_form(request: Request, session: SessionDep, next: str = "/") -> Response:  # noqa: A002
    """The sign-in form (or straight on, for someone already signed in)."""
    found = find_console(session, request)
    if found is not None and found[0].second_factor_passed:
        return redirect(safe_next(next), request)
    return _sign_in_page(request, next_path=next)


def _throttled(request: Request, seconds: int) -> Response:
    response = _sign_in_page(request, status_code=429, error="throttled")
    response.headers["retry-after"] = str(seconds)
    return response


@router.post("/sign-in", dependencies=[CsrfChecked])
def sign_in(
    request: Request,
    session: SessionDep,
    login: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=200)] = "/",  # noqa: A002
) -> Response:
    """Check the password; open a session (waiting for the code when a second factor is on)."""
    failures = sign_in_failures(request)
    address = client_address(request)
    decision = failures.check(address)
    if decision.throttled:
        return _throttled(request, decision.retry_after_seconds)
    user = user_for_password(session=session, login=login, password=password)
    if user is None:
        decision = failures.record_failure(address)
        if decision.throttled:
            return _throttled(request, decision.retry_after_seconds)
        return _sign_in_page(request, status_code=401, error="wrong", next_path=next)
    return _open(
        request, session, user, second_factor_passed=user.totp_secret is None, next_path=next
    )


def _open(
    request: Request,
    session: SessionDep,
    user: User,
    *,
    second_factor_passed: bool,
    next_path: str,
) -> Response:
    """A new session for ``user`` (any earlier one of this browser ends), and its cookie."""
    previous = find_console(session, request)
    if previous is not None:
        end_session(session=session, console_session=previous[0])
    _, token = open_session(session=session, user=user, second_factor_passed=second_factor_passed)
    session.commit()
    target = safe_next(next_path) if second_factor_passed else "/sign-in/second-factor"
    response = redirect(target, request)
    set_cookie(response, request, SESSION_COOKIE, sign_token(token))
    response.delete_cookie(SIGN_IN_COOKIE, path="/")
    return response


@router.get("/sign-in/second-factor")
def second_factor_form(request: Request, session: SessionDep) -> Response:
    """The form for the code from the authenticator app."""
    found = find_console(session, request)
    if found is None:
        return redirect("/sign-in", request)
    if found[0].second_factor_passed:
        return redirect("/", request)
    token = session_token(request)
    assert token is not None
    return render(
        request,
        "second_factor.html",
        {"error": None},
        language=language_of(request, found[1]),
        csrf_token=csrf_token_for(token),
    )


@router.post("/sign-in/second-factor", dependencies=[CsrfChecked])
def second_factor(
    request: Request, session: SessionDep, code: Annotated[str, Form(max_length=12)]
) -> Response:
    """Check the code; the session is replaced by a fully signed-in one."""
    found = find_console(session, request)
    if found is None:
        return redirect("/sign-in", request)
    console_session, user = found
    failures = sign_in_failures(request)
    address = client_address(request)
    decision = failures.check(address)
    if not decision.throttled and accept_totp(session=session, user=user, code=code):
        return _open(request, session, user, second_factor_passed=True, next_path="/")
    if not decision.throttled:
        decision = failures.record_failure(address)
    session.commit()
    token = session_token(request)
    assert token is not None
    response = render(
        request,
        "second_factor.html",
        {"error": "throttled" if decision.throttled else "wrong"},
        language=language_of(request, user),
        csrf_token=csrf_token_for(token),
        status_code=429 if decision.throttled else 401,
    )
    if decision.throttled:
        response.headers["retry-after"] = str(decision.retry_after_seconds)
    return response


@router.post("/sign-out", dependencies=[CsrfChecked])
def sign_out(request: Request, session: SessionDep) -> Response:
    """End this session and forget the cookie."""
    found = find_console(session, request)
    if found is not None:
        end_session(session=session, console_session=found[0])
        session.commit()
    response = redirect("/sign-in", request)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
