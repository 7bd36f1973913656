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
#: GET routes that answer a file, not a page (an evidence download).
DOWNLOADS = {"/evidence/{evidence_id}/download"}
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
        "/cases/{case_id}/evidence": f"/cases/{case_id}/evidence",
    }
    assert (
        set(pages) | FRAGMENTS | REDIRECTS | DOWNLOADS | SIGN_IN_PAGES | PUBLIC_PAGES
        == _console_get_routes()
    )
    for path in pages.values():
        _check(page, path)
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
    page_watch.expect_console_error(r"status of 404")
    page.goto("/no-such-page")
    assert_no_serious_violations(page, "not found")
