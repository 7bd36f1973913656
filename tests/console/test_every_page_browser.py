"""axe-core on every console page, at desktop width and on a 390 px phone, in Chromium.

The list of pages is checked against the app's own routes: a new console page fails this test
until it is added here (and so is checked for accessibility)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import httpx
from fastapi.routing import APIRoute
from playwright.sync_api import Page

from console.browser import ConsoleServer, PageWatch, assert_no_serious_violations
from console.flows import NEW_PASSWORD, enrol_second_factor, first_sign_in, sign_in, sign_out

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
#: GET routes that are parts of a page, not pages: checked inside the page that loads them.
FRAGMENTS = {"/cases/{case_id}/reports", "/users/login-suggestion", "/favicon.ico"}
#: GET routes that only send the browser elsewhere (the contact details open by POST only).
REDIRECTS = {"/cases/{case_id}/contact"}
#: GET routes that answer a file, not a page (an evidence download, the dashboard's CSVs).
DOWNLOADS = {"/evidence/{evidence_id}/download", "/dashboard/scorecard.csv", "/dashboard/trend.csv"}
#: Pages checked by the sign-in flow at the start of the test.
SIGN_IN_PAGES = {"/sign-in", "/sign-in/second-factor", "/account/password", "/account/two-factor"}
#: Public pages for people without an account, checked by their own browser tests
#: (the victim's status page: tests/console/test_status_page_browser.py).
PUBLIC_PAGES = {"/status/{token}"}


def _console_get_routes() -> set[str]:
    from fastapi import routing

    from tracker.api.app import create_app
    from tracker.db import Database, make_engine

    app = create_app(Database(make_engine("sqlite://")))
    paths = set()
    for context in routing.iter_route_contexts(app.routes):  # type: ignore[attr-defined]
        route = context.original_route
        if isinstance(route, APIRoute) and "GET" in (context.methods or ()):
            if not context.include_in_schema:
                paths.add(re.sub(r":[a-z]+}", "}", str(context.path_format)))
    machines = ("/docs", "/api", "/openapi", "/metrics")
    return {path for path in paths if not path.startswith(machines)}


def _check(page: Page, path: str) -> None:
    page.set_viewport_size(DESKTOP)  # type: ignore[arg-type]
    response = page.goto(path)
    assert response is not None and response.status < 400, (path, response and response.status)
    assert_no_serious_violations(page, f"{path} (desktop)")
    page.set_viewport_size(PHONE)  # type: ignore[arg-type]
    assert_no_serious_violations(page, f"{path} (390 px phone)")
    # Nothing on a phone scrolls sideways but the tables made to (a clipped form is unusable).
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    if overflow > 1:
        wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
            .slice(0, 8).map(e => e.tagName + '.' + e.className + '#' + e.id + ' '
            + Math.round(e.getBoundingClientRect().right))""")
        raise AssertionError(f"{path} scrolls sideways by {overflow} px on a phone: {wide}")


def _wait_for_packet(server: ConsoleServer, key: str) -> int:
    for _ in range(60):
        answer = httpx.get(
            f"{server.base_url}/api/v1/filings", headers={"Authorization": f"Bearer {key}"}
        ).json()
        if answer["items"]:
            return int(answer["items"][0]["id"])
        time.sleep(0.5)
    raise AssertionError("no web-form packet appeared")


def _record_reupload(
    server: ConsoleServer, report_id: int, bank_case_id: int, bank_entry_id: int
) -> None:
    """What a re-check writes when the report's page links an image that matches another
    case's bank: the linked medium, its check and the match (a re-upload alert), written
    straight into the server's database (no media is ever fetched here)."""
    from sqlmodel import Session

    from tracker.db import make_engine, utcnow
    from tracker.models import Check, ContentMatch, MediaItem, Report  # every table known

    engine = make_engine(server.processes.environment["TRACKER_DATABASE_URL"])
    try:
        with Session(engine) as session:
            report = session.get(Report, report_id)
            assert report is not None
            now = utcnow()
            item = MediaItem(
                report_id=report_id,
                url=f"{server.sandbox_url}/media/ignore-axe-linked-{'x' * 120}.jpg",
                role="linked",
                kind="image",
                last_checked_at=now,
                last_verdict="live",
            )
            session.add(item)
            session.flush()
            check = Check(
                report_id=report_id,
                media_item_id=item.id,
                checked_at=now,
                http_status=200,
                verdict="live",
                reason="status 200",
                matches=1,
            )
            session.add(check)
            session.flush()
            session.add(
                ContentMatch(
                    organisation_id=report.organisation_id,
                    report_id=report_id,
                    case_id=report.case_id,
                    bank_entry_id=bank_entry_id,
                    bank_case_id=bank_case_id,
                    cross_case=True,
                    signal_type="pdq",
                    media_item_id=item.id,
                    distance=5,
                    first_check_id=check.id,
                    last_check_id=check.id,
                )
            )
            session.commit()
    finally:
        engine.dispose()


def test_every_page_has_no_serious_accessibility_violation_on_desktop_and_phone(
    console_server: ConsoleServer, open_page: Callable[..., Page], page_watch: PageWatch
) -> None:
    login, one_time, key = console_server.create_user("admin", "Every page admin", "every.admin")
    headers = {"Authorization": f"Bearer {key}"}
    case_id = httpx.post(
        f"{console_server.base_url}/api/v1/cases",
        json={"label": "Case FAKE-AXE", "jurisdictions": ["TEST"], "authority_to_act": True},
        headers=headers,
    ).json()["id"]
    added = httpx.post(
        f"{console_server.base_url}/api/v1/cases/{case_id}/reports",
        json={"urls": [f"{console_server.sandbox_url}/videos/ignore-axe-1"]},
        headers=headers,
    ).json()
    report_id = added["results"][0]["report_id"]
    # Hashes in the case's bank, so its section and page list entries (no media: pasted).
    banked = httpx.post(
        f"{console_server.base_url}/api/v1/cases/{case_id}/hash-bank",
        json={
            "entries": [
                {"signal_type": "pdq", "value": "f" * 16 + "0" * 48, "label": "Fake photo 1"},
                {"signal_type": "sha256", "value": "ab" * 32},
            ]
        },
        headers=headers,
    )
    assert banked.status_code == 201, banked.text
    # A re-upload: the report links an image matching the bank of a second case, so the
    # queue lists an alert and the report page its match, media check and linked media.
    other_case = httpx.post(
        f"{console_server.base_url}/api/v1/cases",
        json={"label": "Case FAKE-AXE-2", "jurisdictions": ["TEST"], "authority_to_act": True},
        headers=headers,
    ).json()["id"]
    other_bank = httpx.post(
        f"{console_server.base_url}/api/v1/cases/{other_case}/hash-bank",
        json={"entries": [{"signal_type": "pdq", "value": "0f" * 32, "label": "Fake photo 2"}]},
        headers=headers,
    ).json()
    _record_reupload(console_server, report_id, other_case, other_bank[0]["id"])
    filing_id = _wait_for_packet(console_server, key)
    user_id = httpx.get(f"{console_server.base_url}/api/v1/me", headers=headers).json()["user_id"]

    page = open_page()
    first_sign_in(page, login, one_time)
    secret = enrol_second_factor(page)
    sign_out(page)
    sign_in(page, login, NEW_PASSWORD, secret)
    pages = {
        "/": "/",
        "/account": "/account",
        "/cases": "/cases?status=open",
        "/cases/new": "/cases/new",
        "/cases/{case_id}": f"/cases/{case_id}",
        "/cases/{case_id}/urls": f"/cases/{case_id}/urls",
        "/reports/{report_id}": f"/reports/{report_id}",
        "/filings/{filing_id}/packet": f"/filings/{filing_id}/packet",
        "/alerts": "/alerts",
        "/notifications": "/notifications",
        "/users": "/users",
        "/users/{user_id}": f"/users/{user_id}",
        "/settings": "/settings",
        "/settings/channels/{adapter}": "/settings/channels/sandbox",
        "/audit": "/audit",
        "/dashboard": "/dashboard",
        "/cases/{case_id}/evidence": f"/cases/{case_id}/evidence",
        "/cases/{case_id}/hash-bank": f"/cases/{case_id}/hash-bank",
    }
    assert (
        set(pages) | FRAGMENTS | REDIRECTS | DOWNLOADS | SIGN_IN_PAGES | PUBLIC_PAGES
        == _console_get_routes()
    )
    for path in pages.values():
        _check(page, path)
    # The re-upload was on the pages checked: the queue's alert, the report's match and media.
    page.set_viewport_size(DESKTOP)  # type: ignore[arg-type]
    page.goto("/")
    assert page.locator("#queue-reuploads").is_visible()
    page.goto(f"/reports/{report_id}")
    assert page.locator("#media").is_visible() and page.locator(".event-match").count() == 1
    # Pages that answer a form: the intake preview, the revealed contact details, the 404 page.
    page.set_viewport_size(DESKTOP)  # type: ignore[arg-type]
    page.goto(f"/cases/{case_id}/urls")
    page.fill("#text", f"{console_server.sandbox_url}/videos/comply-axe-2\nno address here")
    with page.expect_navigation():
        page.locator(f'form[action="/cases/{case_id}/urls/preview"] button').click()
    assert_no_serious_violations(page, "intake preview")
    page.goto(f"/cases/{case_id}")
    with page.expect_navigation():
        page.locator(f'form[action="/cases/{case_id}/contact"] button').click()
    assert_no_serious_violations(page, "contact details")
    # A refused paste: the bank's page again, the reason on the field (answered 400).
    page_watch.expect_console_error(r"status of 400")
    page.goto(f"/cases/{case_id}/hash-bank")
    page.locator("#bank-paste summary").click()
    page.fill("#bank-value", "not a hash")
    with page.expect_navigation():
        page.locator(f'form[action="/cases/{case_id}/hash-bank/paste"] button').click()
    assert page.locator("#bank-paste-value-error").is_visible()
    assert_no_serious_violations(page, "hash bank refusal")
    page.set_viewport_size(PHONE)  # type: ignore[arg-type]
    assert_no_serious_violations(page, "hash bank refusal (390 px phone)")
    page.set_viewport_size(DESKTOP)  # type: ignore[arg-type]
    page_watch.expect_console_error(r"status of 404")
    page.goto("/no-such-page")
    assert_no_serious_violations(page, "not found")
