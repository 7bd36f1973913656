"""Driving the console through Starlette's TestClient: people who sign in, forms with tokens.

``signed_in(client, people, "alice")`` gives Alice a password (and, on request, a second
factor), signs her in through the real forms and returns a ``ConsoleClient`` whose ``post``
adds the page's CSRF token, as a browser submitting the form would.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pyotp
from fastapi.testclient import TestClient

if TYPE_CHECKING:
    from conftest import People

PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token in a page's forms."""
    found = CSRF.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def give_password(
    people: People, who: str, *, password: str = PASSWORD, totp: bool = False
) -> str | None:
    """Let a test user sign in: a login named after them and a password they chose already;
    with ``totp``, a second factor too (its secret is returned)."""
    from tracker.organisations.models import User
    from tracker.organisations.passwords import new_totp_secret, set_password

    secret = new_totp_secret() if totp else None
    with people.db.transaction() as session:
        user = session.get(User, people.ids[who])
        assert user is not None
        user.login = who
        set_password(session=session, user=user, password=password, must_change=False, actor="test")
        user.totp_secret = secret
        session.add(user)
    return secret


class ConsoleClient:
    """A TestClient with a signed-in person; ``post`` submits forms with the CSRF token."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.csrf = ""

    def get(self, path: str, **kwargs: Any) -> Any:
        response = self.client.get(path, **kwargs)
        found = CSRF.search(response.text)
        if found:
            self.csrf = found.group(1)
        return response

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        form = {"csrf_token": self.csrf, **(data or {})}
        return self.client.post(path, data=form, follow_redirects=False, **kwargs)


def sign_in(client: TestClient, login: str, password: str, code: str | None = None) -> Any:
    """Submit the sign-in form (and the second factor's, given a code); the last answer."""
    page = client.get("/sign-in")
    response = client.post(
        "/sign-in",
        data={"login": login, "password": password, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    if code is not None and response.headers.get("location") == "/sign-in/second-factor":
        page = client.get("/sign-in/second-factor")
        response = client.post(
            "/sign-in/second-factor",
            data={"code": code, "csrf_token": csrf_of(page.text)},
            follow_redirects=False,
        )
    return response


def signed_in(client: TestClient, people: People, who: str) -> ConsoleClient:
    """``who`` (a People label) signed in to the console on ``client``."""
    secret = give_password(people, who)
    assert secret is None
    response = sign_in(client, who, PASSWORD)
    assert response.status_code == 303, response.text
    console = ConsoleClient(client)
    console.get("/account")
    return console


def totp_now(secret: str) -> str:
    """The current code of a TOTP secret."""
    return pyotp.TOTP(secret).now()
