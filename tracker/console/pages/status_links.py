"""The victim's status link: the case page's section (issue, revoke) and the public page.

The public page (``/status/<token>``) needs no account: the token in the link finds it, the
PIN opens it. A right PIN sets a short-lived signed cookie scoped to ``/status/``; wrong PINs
are counted per link (five lock it for 15 minutes) and per address (the sign-in throttle).
An unknown or revoked link answers one calm "does not work any more" page.
"""

from __future__ import annotations

import hmac
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response
from sqlmodel import Session

from tracker.api.deps import IdPath, SessionDep
from tracker.cases.models import Case
from tracker.cases.service import require_case
from tracker.console.app import redirect
from tracker.console.context import Console, ConsoleDep, check_csrf, language_of
from tracker.console.i18n import language_name, languages
from tracker.console.pages.case_sections import case_section
from tracker.console.pages.case_words import Phrases
from tracker.console.render import render
from tracker.console.security import (
    client_address,
    csrf_token_for,
    new_secret,
    same_origin,
    set_cookie,
    sign_in_failures,
    sign_token,
    unsign_token,
)
from tracker.db import utcnow
from tracker.errors import Conflict
from tracker.organisations.models import Organisation
from tracker.status_links.models import StatusLink
from tracker.status_links.progress import case_progress
from tracker.status_links.service import (
    PinOutcome,
    active_link,
    is_locked,
    issue_link,
    latest_link,
    link_for_token,
    revoke_link,
    try_pin,
)

router = APIRouter()
CsrfChecked = Depends(check_csrf)

STATUS_PATH = "/status/"
#: The signed "PIN was right" cookie: which link, until when.
STATUS_COOKIE = "tracker_status"
STATUS_COOKIE_PURPOSE = "status-link-cookie"
#: The status page's own form secret (its CSRF token is bound to it), like the sign-in cookie.
STATUS_FORM_COOKIE = "tracker_status_form"
STATUS_COOKIE_SECONDS = 15 * 60
PAGE_HEADERS = {"x-robots-tag": "noindex, nofollow"}


# --- the case page's section and the caseworker's actions -----------------------------------


@case_section("status_links/_case_section.html")
def status_link_section(session: Session, console: Console, case: Case) -> dict[str, Any]:
    """The case's newest link and its state, and the form to issue one."""
    assert case.id is not None
    link = latest_link(session=session, case_id=case.id)
    return {
        "link": link,
        "is_active": link is not None and link.revoked_at is None,
        "is_locked": link is not None and is_locked(link),
        "languages": [(code, language_name(code)) for code in languages()],
    }


@router.post("/cases/{case_id:int}/status-link", dependencies=[CsrfChecked])
def issue(
    request: Request,
    case_id: IdPath,
    session: SessionDep,
    console: ConsoleDep,
    language: Annotated[str, Form(max_length=16)] = "en",
    show_platforms: Annotated[str | None, Form(max_length=8)] = None,
) -> Response:
    """Issue a link and PIN; the answer shows both, once (the earlier link stops working)."""
    issued = issue_link(
        session=session,
        principal=console.principal,
        case_id=case_id,
        language=language,
        show_platforms=show_platforms is not None,
    )
    session.commit()
    url = str(request.base_url).rstrip("/") + f"{STATUS_PATH}{issued.token}"
    return render(
        request,
        "status_links/issued.html",
        {
            "case_id": case_id,
            "url": url,
            "pin": issued.pin,
            "link": issued.link,
            "language_name": language_name(issued.link.language),
            "replaced": issued.replaced_id is not None,
        },
        console=console,
        status_code=201,
    )


@router.post("/cases/{case_id:int}/status-link/revoke", dependencies=[CsrfChecked])
def revoke(request: Request, case_id: IdPath, session: SessionDep, console: ConsoleDep) -> Response:
    """Revoke the case's active link; it stops opening at once."""
    require_case(session=session, principal=console.principal, case_id=case_id)
    link = active_link(session=session, case_id=case_id)
    if link is None:
        raise Conflict.one(("path", "case_id"), "this case has no active link", "status_link.none")
    revoke_link(session=session, principal=console.principal, link=link)
    session.commit()
    return redirect(f"/cases/{case_id}#status-link", request)


# --- the victim's page ----------------------------------------------------------------------


def _status_cookie(link_id: int) -> str:
    value = f"{link_id}.{int(time.time()) + STATUS_COOKIE_SECONDS}"
    return sign_token(value, purpose=STATUS_COOKIE_PURPOSE)


def _opened_link_id(request: Request) -> int | None:
    """The link id of a valid, unexpired status cookie, or None."""
    cookie = request.cookies.get(STATUS_COOKIE)
    if not cookie or len(cookie) > 120 or cookie.count(".") != 2:
        return None
    value = unsign_token(cookie, purpose=STATUS_COOKIE_PURPOSE)
    if value is None:
        return None
    link_id, _, expires = value.partition(".")
    if not (link_id.isdigit() and expires.isdigit()) or int(expires) < time.time():
        return None
    return int(link_id)


def _form_secret(request: Request) -> str | None:
    secret = request.cookies.get(STATUS_FORM_COOKIE)
    return secret if secret and len(secret) <= 100 else None


def _page(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    language: str,
    status_code: int = 200,
) -> Response:
    """A status page in the link's language, with the form token (and its cookie when new)."""
    secret = _form_secret(request)
    fresh = secret is None
    if secret is None:
        secret = new_secret()
    response = render(
        request,
        template,
        context,
        language=language,
        csrf_token=csrf_token_for(secret),
        status_code=status_code,
    )
    response.headers.update(PAGE_HEADERS)
    if fresh:
        set_cookie(response, request, STATUS_FORM_COOKIE, secret, path=STATUS_PATH)
    return response


def _closed(request: Request, reason: str, *, retry_after: int | None = None) -> Response:
    """The calm page for a link that does not open (now): gone (404) or locked (429)."""
    response = _page(
        request,
        "status_links/closed.html",
        {"reason": reason},
        language=language_of(request, None),
        status_code=404 if reason == "gone" else 429,
    )
    if retry_after is not None:
        response.headers["retry-after"] = str(retry_after)
    return response


def _form_is_genuine(request: Request, sent: str) -> bool:
    secret = _form_secret(request)
    if secret is None or not same_origin(request):
        return False
    return hmac.compare_digest(sent.encode(), csrf_token_for(secret).encode())


def _lock_seconds(link: StatusLink) -> int:
    assert link.locked_until is not None
    return max(1, int((link.locked_until - utcnow()).total_seconds()) + 1)


def _status_page(request: Request, session: Session, link: StatusLink) -> Response:
    case = session.get(Case, link.case_id)
    assert case is not None
    organisation = session.get(Organisation, case.organisation_id)
    assert organisation is not None
    progress = case_progress(session=session, case_id=link.case_id)
    phrases = Phrases(link.language)
    platforms = (
        [(phrases.platform(slug), count) for slug, count in progress.platforms]
        if link.show_platforms
        else []
    )
    return _page(
        request,
        "status_links/status.html",
        {
            "progress": progress,
            "platforms": platforms,
            "organisation": organisation,
            "action": request.url.path,
        },
        language=link.language,
    )


def _pin_page(
    request: Request, link: StatusLink, *, error: str | None = None, status_code: int = 200
) -> Response:
    return _page(
        request,
        "status_links/pin.html",
        {"error": error, "action": request.url.path},
        language=link.language,
        status_code=status_code,
    )


@router.get("/status/{token}")
def status_page(request: Request, token: str, session: SessionDep) -> Response:
    """The PIN form, or the case's status once the PIN was right (no account needed)."""
    link = link_for_token(session=session, token=token)
    if link is None:
        return _closed(request, "gone")
    if is_locked(link):
        return _closed(request, "locked", retry_after=_lock_seconds(link))
    if _opened_link_id(request) == link.id:
        return _status_page(request, session, link)
    return _pin_page(request, link)


@router.post("/status/{token}")
def enter_pin(
    request: Request,
    token: str,
    session: SessionDep,
    pin: Annotated[str, Form(max_length=32)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Check the PIN: the status page on success; wrong PINs are counted and then locked."""
    link = link_for_token(session=session, token=token)
    failures, address = sign_in_failures(request), client_address(request)
    decision = failures.check(address)
    if decision.throttled:
        return _closed(request, "throttled", retry_after=decision.retry_after_seconds)
    if link is None:
        failures.record_failure(address)  # guessing links costs like guessing passwords
        return _closed(request, "gone")
    if not _form_is_genuine(request, csrf_token):
        return _pin_page(request, link, error="form", status_code=403)
    outcome = try_pin(session=session, link=link, pin=pin)
    session.commit()
    if outcome is PinOutcome.LOCKED:
        failures.record_failure(address)
        return _closed(request, "locked", retry_after=_lock_seconds(link))
    if outcome is PinOutcome.WRONG:
        decision = failures.record_failure(address)
        if decision.throttled:
            return _closed(request, "throttled", retry_after=decision.retry_after_seconds)
        return _pin_page(request, link, error="wrong", status_code=401)
    assert link.id is not None
    response = redirect(request.url.path, request)
    set_cookie(
        response,
        request,
        STATUS_COOKIE,
        _status_cookie(link.id),
        path=STATUS_PATH,
        max_age=STATUS_COOKIE_SECONDS,
    )
    return response


@router.post("/status/{token}/close")
def close_status(
    request: Request,
    token: str,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Forget the opened page on this device (the PIN is needed again)."""
    target = request.url.path.removesuffix("/close")
    if not _form_is_genuine(request, csrf_token):
        return redirect(target, request)
    response = redirect(target, request)
    response.delete_cookie(STATUS_COOKIE, path=STATUS_PATH)
    return response
