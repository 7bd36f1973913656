"""A long list pasted in real Chromium, in English and in Hindi: the preview of more lines than
are shown one by one counts what will be added by platform and lists only the lines that will
not be added, passes axe-core on a desktop and a phone, and its confirmation (a multipart form
carrying the whole list) adds every address."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page

from console.browser import ConsoleServer, assert_no_serious_violations
from console.flows import choose_language, first_sign_in, path_of, submit
from tracker.console.pages.intake import FULL_TABLE_LINES

PHONE = {"width": 390, "height": 844}
LINES = FULL_TABLE_LINES + 100


def _open_case(page: Page, label: str) -> int:
    page.goto("/cases/new")
    page.fill("#label", label)
    page.check("#jurisdiction-TEST")
    page.check("#authority_to_act")
    submit(page, "/cases/new")
    found = re.fullmatch(r"/cases/(\d+)", path_of(page).split("?")[0])
    assert found, page.url
    return int(found.group(1))


@pytest.mark.parametrize("language", ["en", "hi"])
def test_a_long_pasted_list_is_previewed_light_and_added(
    console_server: ConsoleServer, open_page: Callable[..., Page], language: str
) -> None:
    login, one_time, _ = console_server.create_user(
        "caseworker", f"Long list {language}", login=f"long.{language}"
    )
    page = open_page(locale="hi-IN" if language == "hi" else "en-GB")
    first_sign_in(page, login, one_time)
    choose_language(page, language)
    case_id = _open_case(page, f"Case FAKE-LONG-{language.upper()}")
    lines = [
        f"{number + 1}) {console_server.sandbox_url}/videos/ignore-long-{language}-{number}"
        for number in range(LINES - 2)
    ]
    lines += ["a line without an address", lines[0].split(") ", 1)[1]]

    page.goto(f"/cases/{case_id}/urls")
    page.fill("#text", "\n".join(lines))
    page.check("#partial-yes")
    submit(page, f"/cases/{case_id}/urls/preview")

    assert page.locator("table.intake-platforms tbody tr").count() == 1
    problems = page.locator("table.intake-preview tbody tr")
    assert problems.count() == 2
    assert [problems.nth(index).get_attribute("class") for index in range(2)] == [
        "outcome-rejected",
        "outcome-duplicate",
    ]
    assert_no_serious_violations(page, "long intake preview")
    page.set_viewport_size(PHONE)  # type: ignore[arg-type]
    assert_no_serious_violations(page, "long intake preview (390 px phone)")
    page.click("#confirm-add")
    page.wait_for_url(re.compile(rf"/cases/{case_id}\?done=urls-added&created={LINES - 2}$"))
