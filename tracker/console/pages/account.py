"""The person's own account: password, second factor (TOTP enrolment by QR code), language."""

from __future__ import annotations

from typing import Annotated

import qrcode
import qrcode.image.svg
from fastapi import APIRouter, Depends, Form, Request, Response
from markupsafe import Markup

from tracker.api.deps import SessionDep
from tracker.console.app import redirect
from tracker.console.context import ConsoleDep, SetupConsoleDep, check_csrf, safe_next
from tracker.console.i18n import languages
from tracker.console.render import render
from tracker.organisations.passwords import (
    accept_totp,
    enrol_totp,
    new_totp_secret,
    password_problem,
    provisioning_uri,
    remove_totp,
    set_password,
    totp_step,
    user_for_password,
)
from tracker.organisations.sessions import end_sessions_of

router = APIRouter()
CsrfChecked = Depends(check_csrf)


def _password_page(
    request: Request, console: SetupConsoleDep, *, error: str | None, status_code: int = 200
) -> Response:
    return render(
        request,
        "account/password.html",
        {"error": error},
        console=console,
        status_code=status_code,
    )


@router.get("/account/password")
def password_form(request: Request, console: SetupConsoleDep) -> Response:
    """Choose a new password (required after a one-time password)."""
    return _password_page(request, console, error=None)


@router.post("/account/password", dependencies=[CsrfChecked])
def change_password(
    request: Request,
    session: SessionDep,
    console: SetupConsoleDep,
    current: Annotated[str, Form(max_length=200)],
    new: Annotated[str, Form(max_length=200)],
    repeat: Annotated[str, Form(max_length=200)],
) -> Response:
    """Check the current password, then store the new one; other sessions of the user end."""
    user = console.user
    assert user.login is not None and user.id is not None
    if user_for_password(session=session, login=user.login, password=current) is None:
        return _password_page(request, console, error="current", status_code=400)
    if new != repeat:
        return _password_page(request, console, error="repeat", status_code=400)
    if new == current:
        return _password_page(request, console, error="same", status_code=400)
    if password_problem(new, login=user.login) is not None:
        return _password_page(request, console, error="weak", status_code=400)
    set_password(
        session=session, user=user, password=new, must_change=False, actor=console.principal.actor
    )
    end_sessions_of(session=session, user_id=user.id, keep=console.console_session.id)
    session.commit()
    return redirect("/account?changed=password", request)


@router.get("/account")
def account(request: Request, console: ConsoleDep, changed: str | None = None) -> Response:
    """The account page: language, password, second factor."""
    return render(
        request,
        "account/index.html",
        {"changed": changed if changed in ("password", "two-factor", "language") else None},
        console=console,
    )


def _qr_svg(uri: str) -> Markup:
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    svg = image.to_string(encoding="unicode")
    svg = svg[svg.index("<svg") :]  # no XML declaration inside HTML
    svg = svg.replace("<svg ", '<svg role="img" aria-labelledby="qr-title" ', 1)
    svg = svg.replace(">", '><title id="qr-title">QR code</title>', 1)
    return Markup(svg)  # noqa: S704  (made here from our own secret; nothing a user typed)


@router.get("/account/two-factor")
def two_factor_form(request: Request, session: SessionDep, console: ConsoleDep) -> Response:
    """Turn on the second factor: a QR code made here (never by a third party), then a code."""
    return _two_factor_page(request, session, console, error=None)


def _two_factor_page(
    request: Request, session: SessionDep, console: ConsoleDep, *, error: str | None
) -> Response:
    context: dict[str, object] = {
        "error": error,
        "enrolled": console.user.totp_secret is not None,
    }
    if console.user.totp_secret is None:
        secret = console.console_session.pending_totp_secret or new_totp_secret()
        if console.console_session.pending_totp_secret is None:
            console.console_session.pending_totp_secret = secret
            session.add(console.console_session)
            session.commit()
        assert console.user.login is not None
        uri = provisioning_uri(secret=secret, login=console.user.login)
        context.update(qr=_qr_svg(uri), secret=secret)
    return render(
        request,
        "account/two_factor.html",
        context,
        console=console,
        status_code=400 if error else 200,
    )


@router.post("/account/two-factor", dependencies=[CsrfChecked])
def enrol_two_factor(
    request: Request,
    session: SessionDep,
    console: ConsoleDep,
    code: Annotated[str, Form(max_length=12)],
) -> Response:
    """Keep the pending secret once a code from it is right; audited."""
    user = console.user
    pending = console.console_session.pending_totp_secret
    step = totp_step(pending, code) if pending and user.totp_secret is None else None
    if pending is None or step is None:
        return _two_factor_page(request, session, console, error="wrong")
    enrol_totp(session=session, user=user, secret=pending, step=step, actor=console.principal.actor)
    console.console_session.pending_totp_secret = None
    session.add(console.console_session)
    session.commit()
    return redirect("/account?changed=two-factor", request)


@router.post("/account/two-factor/off", dependencies=[CsrfChecked])
def remove_two_factor(
    request: Request,
    session: SessionDep,
    console: ConsoleDep,
    code: Annotated[str, Form(max_length=12)],
) -> Response:
    """Turn the second factor off, proven by a current code; audited."""
    user = console.user
    if user.totp_secret is None or not accept_totp(session=session, user=user, code=code):
        return _two_factor_page(request, session, console, error="wrong")
    session.refresh(user)
    remove_totp(session=session, user=user, actor=console.principal.actor)
    session.commit()
    return redirect("/account?changed=two-factor", request)


@router.post("/account/language", dependencies=[CsrfChecked])
def choose_language(
    request: Request,
    session: SessionDep,
    console: ConsoleDep,
    language: Annotated[str, Form(max_length=16)],
    next: Annotated[str, Form(max_length=200)] = "/account",  # noqa: A002
) -> Response:
    """The language the console speaks to this person from now on."""
    if language not in languages():
        return redirect("/account", request)
    console.user.language = language
    session.add(console.user)
    session.commit()
    return redirect(safe_next(next), request)
