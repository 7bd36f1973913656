"""The victim's status page in real Chromium, on a 390 px phone in Hindi: the PIN form, a wrong
PIN, the right one, the counts in Devanagari; axe on every state; nothing from another origin
(the ``open_page`` watch fails the test otherwise); the "does not work any more" page."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
from playwright.sync_api import Page

from console.browser import (
    ConsoleServer,
    PageWatch,
    assert_no_serious_violations,
    assert_security_headers,
)
from console.flows import first_sign_in, submit

PHONE = {"width": 390, "height": 844}
DEVANAGARI = re.compile("[\u0900-\u097f]")
LABEL = "Case FAKE-STATUS-BROWSER"


def _no_sideways_scroll(page: Page, name: str) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{name} scrolls sideways by {overflow} px on a phone"


def test_a_hindi_status_link_on_a_phone(
    console_server: ConsoleServer, open_page: Callable[..., Page], page_watch: PageWatch
) -> None:
    # A wrong PIN (401) and a revoked link (404) are answers the browser logs as errors.
    page_watch.expect_console_error(r"status of 40[14]")
    _, _, key = console_server.create_user("caseworker", "Status link tester", "status.tester")
    headers = {"Authorization": f"Bearer {key}"}
    base = console_server.base_url
    case_id = httpx.post(
        f"{base}/api/v1/cases",
        json={"label": LABEL, "jurisdictions": ["TEST"], "authority_to_act": True},
        headers=headers,
    ).json()["id"]
    urls = [f"{console_server.sandbox_url}/videos/comply-status-{n}" for n in (1, 2)]
    added = httpx.post(
        f"{base}/api/v1/cases/{case_id}/reports", json={"urls": urls}, headers=headers
    )
    assert added.status_code == 200, added.text
    issued = httpx.post(
        f"{base}/api/v1/cases/{case_id}/status-links",
        json={"language": "hi", "show_platforms": False},
        headers=headers,
    )
    assert issued.status_code == 201, issued.text
    url, pin = issued.json()["url"], issued.json()["pin"]

    page = open_page(locale="hi-IN", viewport=PHONE)
    response = page.goto(url)
    assert response is not None and response.status == 200
    assert_security_headers(response)
    assert response.headers["x-robots-tag"].startswith("noindex")
    assert response.headers["cache-control"] == "no-store"
    assert page.title() != "" and LABEL not in page.title()
    assert page.locator("html").get_attribute("lang") == "hi"
    assert_no_serious_violations(page, "status PIN form (phone, hi)")
    _no_sideways_scroll(page, "the PIN form")

    page.fill("#pin", "00000000" if pin != "00000000" else "11111111")
    with page.expect_navigation():
        page.locator("form button[type=submit]").click()
    assert page.locator("#pin-error").is_visible()
    assert_no_serious_violations(page, "status PIN form after a wrong PIN (phone, hi)")

    page.fill("#pin", pin)
    with page.expect_navigation():
        page.locator("form button[type=submit]").click()
    assert page.locator("#count-found").inner_text() == "2"
    text = page.inner_text("main")
    for secret in (LABEL, console_server.sandbox_url, "127.0.0.1", "comply-status", "Sandbox"):
        assert secret not in text and secret not in page.content(), secret
    assert_no_serious_violations(page, "status page (phone, hi)")
    _no_sideways_scroll(page, "the status page")
    cookies = {cookie["name"]: cookie for cookie in page.context.cookies()}
    opened = cookies["tracker_status"]
    assert opened["path"] == "/status/" and opened["httpOnly"] is True
    assert opened["sameSite"] == "Strict"
    assert "tracker_status" not in page.evaluate("document.cookie")
    heading = page.inner_text("h1")

    revoked = httpx.post(
        f"{base}/api/v1/status-links/{issued.json()['id']}/revoke", headers=headers
    )
    assert revoked.status_code == 200
    gone = page.goto(url)
    assert gone is not None and gone.status == 404
    assert_no_serious_violations(page, "a revoked status link (phone, hi)")
    # The counts and headings speak Hindi (the catalog's translations of this page).
    assert DEVANAGARI.search(heading), heading


def test_a_caseworker_issues_a_link_in_the_console_and_it_opens(
    console_server: ConsoleServer, open_page: Callable[..., Page], page_watch: PageWatch
) -> None:
    page_watch.expect_console_error(r"status of 404")  # the revoked link, at the end
    login, one_time, key = console_server.create_user(
        "caseworker", "Status link issuer", "status.issuer"
    )
    case_id = httpx.post(
        f"{console_server.base_url}/api/v1/cases",
        json={"label": LABEL, "jurisdictions": ["TEST"], "authority_to_act": True},
        headers={"Authorization": f"Bearer {key}"},
    ).json()["id"]
    page = open_page()
    first_sign_in(page, login, one_time)
    page.goto(f"/cases/{case_id}")
    assert_no_serious_violations(page, "the case page's status link section")
    page.check("#status-link-platforms")
    submit(page, f"/cases/{case_id}/status-link")
    assert page.locator("h1").inner_text().endswith(f"#{case_id}")
    url = page.inner_text("#status-url").strip()
    pin = page.inner_text("#status-pin").strip()
    assert url.startswith(f"{console_server.base_url}/status/") and re.fullmatch(r"\d{8}", pin)
    assert page.locator('button.copy[data-copy="status-pin"]').is_visible()
    assert_no_serious_violations(page, "the issued status link")
    page.set_viewport_size(PHONE)  # type: ignore[arg-type]
    assert_no_serious_violations(page, "the issued status link (phone)")
    _no_sideways_scroll(page, "the issued status link")

    victim = open_page(viewport=PHONE)
    victim.goto(url)
    victim.fill("#pin", pin)
    with victim.expect_navigation():
        victim.locator("form button[type=submit]").click()
    assert victim.locator("#count-found").inner_text() == "0"
    assert victim.title() == "Your case status"

    page.goto(f"/cases/{case_id}")
    assert page.locator("#status-link").is_visible()
    assert_no_serious_violations(page, "the status link section, a link active")
    submit(page, f"/cases/{case_id}/status-link/revoke")
    assert "Revoked on" in page.inner_text("main")
    assert victim.goto(url).status == 404  # type: ignore[union-attr]
