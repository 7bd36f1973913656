"""Signing in, in real Chromium: one-time password, own password, TOTP by QR code, sign-out;
the session cookie's flags, the page's headers and CSRF; in English and in Hindi."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page

from console.browser import ConsoleServer, PageWatch, assert_security_headers
from console.flows import (
    NEW_PASSWORD,
    choose_language,
    enrol_second_factor,
    first_sign_in,
    path_of,
    sign_in,
    sign_out,
)

DEVANAGARI = re.compile("[\u0900-\u097f]")


@pytest.mark.parametrize("language", ["en", "hi"])
def test_a_new_colleague_signs_in_sets_a_password_and_a_second_factor(
    console_server: ConsoleServer, open_page: Callable[..., Page], language: str
) -> None:
    login, one_time, _ = console_server.create_user(
        "caseworker", f"Sign-in tester {language}", login=f"signin.{language}"
    )
    page = open_page(locale="hi-IN" if language == "hi" else "en-GB")
    page.goto("/sign-in")
    # Before anyone is signed in, the browser's language chooses.
    assert page.locator("html").get_attribute("lang") == language
    heading = page.inner_text("h1")
    assert bool(DEVANAGARI.search(heading)) is (language == "hi"), heading
    first_sign_in(page, login, one_time)
    choose_language(page, language)
    secret = enrol_second_factor(page)
    sign_out(page)
    # The old session is over: its pages send the browser back to sign in.
    page.goto("/account")
    assert path_of(page).startswith("/sign-in"), page.url
    sign_in(page, login, NEW_PASSWORD, secret)
    assert page.locator("html").get_attribute("lang") == language
    if language == "hi":
        assert DEVANAGARI.search(page.inner_text("nav"))

    cookies = {cookie["name"]: cookie for cookie in page.context.cookies()}
    session = cookies["tracker_session"]
    assert session["httpOnly"] is True and session["sameSite"] == "Strict"
    assert session["secure"] is False  # plain http on loopback; https makes it Secure
    assert "expires" not in session or session["expires"] == -1  # a browser-session cookie
    # The cookie is not readable from the page's scripts.
    assert "tracker_session" not in page.evaluate("document.cookie")

    assert_security_headers(page.goto("/account"))
    # A form post without the page's CSRF token is refused and changes nothing.
    refused = page.request.post("/account/language", form={"language": "en"})
    assert refused.status == 403
    page.reload()
    assert page.locator("html").get_attribute("lang") == language


def test_wrong_passwords_and_codes_are_refused_calmly(
    console_server: ConsoleServer, open_page: Callable[..., Page], page_watch: PageWatch
) -> None:
    page_watch.expect_console_error(r"status of 401")
    login, one_time, _ = console_server.create_user("caseworker", "Wrong tester", login="wrong.t")
    page = open_page()
    page.goto("/sign-in")
    page.fill("#login", login)
    page.fill("#password", "this is not the password")
    with page.expect_navigation():
        page.locator('form[action="/sign-in"] button[type="submit"]').click()
    assert page.locator('[role="alert"]').count() == 1
    assert path_of(page).startswith("/sign-in")
