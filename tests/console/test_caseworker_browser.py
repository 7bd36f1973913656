"""A caseworker's day in real Chromium, in English and in Hindi: open a case, paste URLs with
junk and a duplicate, check the per-line answer, confirm, watch a sandbox URL move to removed
without reloading, copy a packet field and confirm the platform's reference; and never open a
colleague's case. Every page visited passes axe-core with no serious or critical violation, and
the page never contacts another origin (the fixture asserts both)."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import Page

from console.browser import ConsoleServer, PageWatch, assert_no_serious_violations
from console.flows import choose_language, first_sign_in, path_of, submit

DEVANAGARI = re.compile("[\u0900-\u097f]")


def _pasted_block(sandbox: str, tag: str) -> tuple[str, dict[str, int]]:
    """Ten lines as a caseworker pastes them: junk around URLs, a duplicate, a bad line."""
    lines = [
        f"1) {sandbox}/videos/comply-{tag}-one (first upload)",
        f"see: <{sandbox}/videos/ignore-{tag}-two>",
        f'"{sandbox}/videos/comply-{tag}-three",',
        f"mirror -> {sandbox}/videos/reject-{tag}-four.",
        f"[{sandbox}/videos/comply-{tag}-five]",
        f"{sandbox}/videos/comply-{tag}-one",  # the same as line 1
        "the friend's message said it was also somewhere else",
        f"• {sandbox}/videos/comply-{tag}-six",
        "ftp://files.invalid/x.mp4",
        f"{sandbox}/videos/comply-{tag}-seven   (found by the person herself)",
    ]
    return "\n".join(lines), {"created": 7, "duplicate": 1, "rejected": 2}


def _open_case(page: Page, label: str) -> int:
    page.goto("/cases/new")
    assert_no_serious_violations(page, "new case")
    page.fill("#label", label)
    page.check("#jurisdiction-TEST")
    page.check("#authority_to_act")
    submit(page, "/cases/new")
    found = re.fullmatch(r"/cases/(\d+)", path_of(page).split("?")[0])
    assert found, page.url
    assert_no_serious_violations(page, "case")
    return int(found.group(1))


@pytest.mark.parametrize("language", ["en", "hi"])
def test_a_caseworker_logs_urls_watches_removal_and_submits_a_packet(
    console_server: ConsoleServer,
    open_page: Callable[..., Page],
    page_watch: PageWatch,
    language: str,
) -> None:
    # A colleague's case exists; this caseworker must never open it.
    _, _, colleague_key = console_server.create_user("caseworker", f"Colleague {language}")
    colleague_case = httpx.post(
        f"{console_server.base_url}/api/v1/cases",
        json={"label": "Case FAKE-OTHER", "jurisdictions": ["TEST"]},
        headers={"Authorization": f"Bearer {colleague_key}"},
    ).json()["id"]
    login, one_time, _ = console_server.create_user(
        "caseworker", f"Flow tester {language}", login=f"flow.{language}"
    )
    page = open_page(locale="hi-IN" if language == "hi" else "en-GB")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    first_sign_in(page, login, one_time)
    choose_language(page, language)

    case_id = _open_case(page, f"Case FAKE-{language.upper()}-1")
    if language == "hi":
        assert DEVANAGARI.search(page.inner_text("h1"))

    # Paste ten lines; the answer is per line, and nothing is written yet.
    page.goto(f"/cases/{case_id}/urls")
    assert_no_serious_violations(page, "add URLs")
    block, expected = _pasted_block(console_server.sandbox_url, language)
    page.fill("#text", block)
    page.check("#partial-yes")
    submit(page, f"/cases/{case_id}/urls/preview")
    assert_no_serious_violations(page, "intake preview")
    rows = page.locator("table.intake-preview tbody tr")
    assert rows.count() == 10
    outcomes = [
        (rows.nth(index).get_attribute("class") or "").removeprefix("outcome-")
        for index in range(10)
    ]
    assert outcomes == [
        "created",
        "created",
        "created",
        "created",
        "created",
        "duplicate",
        "rejected",
        "created",
        "rejected",
        "created",
    ]
    assert {name: outcomes.count(name) for name in expected} == expected
    reports_before = page.request.get(f"/cases/{case_id}/reports")
    assert reports_before.ok and "/videos/" not in reports_before.text()
    page.click("#confirm-add")
    page.wait_for_url(re.compile(rf"/cases/{case_id}\?"))
    assert page.locator("table .url").count() == 7

    # The page re-reads its table by itself: the first comply URL reaches "removed".
    first_row = page.locator("tr", has_text=f"comply-{language}-one")
    first_row.locator(".badge.state-removed").wait_for(timeout=60_000)
    assert_no_serious_violations(page, "case with removed report")

    # The search-delisting track opens a web-form packet 2 s after the first filing.
    packet_link = page.locator('main a[href^="/filings/"]')
    for _ in range(40):
        page.goto("/")
        if packet_link.count():
            break
        page.wait_for_timeout(500)
    assert packet_link.count(), "no packet in the queue"
    assert_no_serious_violations(page, "queue")
    packet_link.first.click()
    page.wait_for_url(re.compile(r"/filings/\d+/packet"))
    assert_no_serious_violations(page, "packet")
    button = page.locator("button.copy").first
    source = page.locator(f"#{button.get_attribute('data-copy')}")
    button.click()
    assert page.evaluate("navigator.clipboard.readText()") == source.input_value()
    assert page.inner_text("#copy-status").strip() != ""
    page.fill("#reference_id", f"GOOG-{language.upper()}-0001")
    with page.expect_navigation():
        page.locator('form[action$="/confirm"] button[type="submit"]').click()
    assert re.search(r"/reports/\d+\?done=confirmed", page.url), page.url
    assert_no_serious_violations(page, "report")
    assert f"GOOG-{language.upper()}-0001" in page.inner_text("main")

    # A colleague's case is not found, whoever asks for it by number.
    page_watch.expect_console_error(r"status of 404")
    response = page.goto(f"/cases/{colleague_case}")
    assert response is not None and response.status == 404
    assert "FAKE-OTHER" not in page.content()
