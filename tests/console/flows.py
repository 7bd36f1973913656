"""Steps of the console's browser tests, by element ids and names (never by English text),
so the same flow runs in every language."""

from __future__ import annotations

import time

import pyotp
from playwright.sync_api import Page

from console.browser import assert_no_serious_violations

NEW_PASSWORD = "a long and private pass phrase"


def submit(page: Page, action: str) -> None:
    """Press the submit button of the form posting to ``action``, and wait for the page."""
    with page.expect_navigation():
        page.locator(f'form[action="{action}"] button[type="submit"]').first.click()


def path_of(page: Page) -> str:
    """The current page's path (and query)."""
    url = page.url
    return url[url.index("/", len("http://")) :]


def first_sign_in(page: Page, login: str, one_time_password: str) -> None:
    """Sign in with a one-time password and choose a new one, as a new colleague does."""
    page.goto("/sign-in")
    assert_no_serious_violations(page, "sign-in")
    page.fill("#login", login)
    page.fill("#password", one_time_password)
    submit(page, "/sign-in")
    assert path_of(page) == "/account/password", page.url
    assert_no_serious_violations(page, "choose a password")
    page.fill("#current", one_time_password)
    page.fill("#new", NEW_PASSWORD)
    page.fill("#repeat", NEW_PASSWORD)
    submit(page, "/account/password")
    assert path_of(page).startswith("/account"), page.url


def enrol_second_factor(page: Page) -> str:
    """Turn on TOTP from the QR code page (reading the typed key); the secret."""
    page.goto("/account/two-factor")
    assert page.locator(".qr svg").count() == 1
    assert_no_serious_violations(page, "two-factor enrolment")
    secret = page.inner_text("#totp-secret").strip()
    page.fill("#code", pyotp.TOTP(secret).now())
    submit(page, "/account/two-factor")
    assert path_of(page).startswith("/account?changed=two-factor"), page.url
    return secret


def next_code(secret: str) -> str:
    """A code the server has not seen: the next time step's (accepted within one step)."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def sign_in(page: Page, login: str, password: str, secret: str | None = None) -> None:
    """Sign in with the password and, with a secret, the second factor."""
    page.goto("/sign-in")
    page.fill("#login", login)
    page.fill("#password", password)
    submit(page, "/sign-in")
    if secret is not None:
        assert path_of(page) == "/sign-in/second-factor", page.url
        assert_no_serious_violations(page, "second factor")
        page.fill("#code", next_code(secret))
        submit(page, "/sign-in/second-factor")
    assert path_of(page) == "/", page.url


def choose_language(page: Page, code: str) -> None:
    """Set the person's console language on the account page."""
    page.goto("/account")
    page.select_option("#language", code)
    submit(page, "/account/language")
    assert page.locator("html").get_attribute("lang") == code


def sign_out(page: Page) -> None:
    """Sign out from the header."""
    submit(page, "/sign-out")
    assert path_of(page).startswith("/sign-in"), page.url
