"""Signing in to the console: passwords, the second factor, sessions, and the page's guards."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import timedelta
from typing import Any

from conftest import reset_settings
from console_client import PASSWORD, csrf_of, give_password, sign_in, signed_in, totp_now
from fastapi.testclient import TestClient
from sqlmodel import select

from tracker.audit.models import AuditEvent
from tracker.organisations.models import ConsoleSession, User


def _cookie_header(response: Any) -> str:
    cookies = [value for name, value in response.headers.multi_items() if name == "set-cookie"]
    found = [cookie for cookie in cookies if cookie.startswith("tracker_session=")]
    assert found, cookies
    return found[0]


def _sessions(db: Any, user_id: int) -> list[ConsoleSession]:
    with db.session() as session:
        return list(
            session.exec(select(ConsoleSession).where(ConsoleSession.user_id == user_id)).all()
        )


def test_a_password_signs_in_with_an_httponly_strict_cookie_and_a_wrong_one_does_not(
    client: TestClient, people: Any
) -> None:
    give_password(people, "alice")
    wrong = sign_in(client, "alice", "not the password at all")
    assert wrong.status_code == 401
    assert "The sign-in name or the password is not right." in wrong.text
    unknown = sign_in(client, "nobody", PASSWORD)
    assert unknown.status_code == 401 and "not right" in unknown.text
    response = sign_in(client, "alice", PASSWORD)
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = _cookie_header(response).lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    assert "secure" not in cookie  # plain http in tests; see the next test
    # The database holds only the token's hash: the cookie's token is not in any row.
    token = _cookie_header(response).split("=", 1)[1].split(";")[0].rsplit(".", 1)[0]
    rows = _sessions(people.db, people.ids["alice"])
    assert len(rows) == 1 and token not in rows[0].token_hash
    assert client.get("/account").status_code == 200


def test_the_cookie_is_secure_when_configured_or_over_https(
    client: TestClient, people: Any, monkeypatch: Any
) -> None:
    give_password(people, "alice")
    https = TestClient(client.app, base_url="https://testserver")
    assert "secure" in _cookie_header(sign_in(https, "alice", PASSWORD)).lower()
    monkeypatch.setenv("TRACKER_CONSOLE_SECURE_COOKIES", "true")
    reset_settings()
    try:
        # Over plain http a Secure cookie is never sent back, so configured-secure is tested
        # over https too: the flag no longer depends on the scheme the proxy spoke.
        https = TestClient(client.app, base_url="https://testserver")
        assert "secure" in _cookie_header(sign_in(https, "alice", PASSWORD)).lower()
    finally:
        monkeypatch.delenv("TRACKER_CONSOLE_SECURE_COOKIES")
        reset_settings()


def test_pages_need_a_session_and_a_tampered_cookie_is_none(
    client: TestClient, people: Any
) -> None:
    response = client.get("/account", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=/account"
    signed_in(client, people, "alice")
    value = client.cookies.get("tracker_session")
    assert value
    client.cookies.set("tracker_session", value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert client.get("/account", follow_redirects=False).status_code == 303


def test_the_second_factor_is_asked_after_the_password_and_a_code_works_once(
    client: TestClient, people: Any
) -> None:
    secret = give_password(people, "alice", totp=True)
    assert secret is not None
    response = sign_in(client, "alice", PASSWORD)
    assert response.headers["location"] == "/sign-in/second-factor"
    # Half signed in: no page opens yet.
    assert client.get("/account", follow_redirects=False).headers["location"] == (
        "/sign-in/second-factor"
    )
    page = client.get("/sign-in/second-factor")
    wrong = client.post(
        "/sign-in/second-factor",
        data={
            "code": "000000" if totp_now(secret) != "000000" else "111111",
            "csrf_token": csrf_of(page.text),
        },
        follow_redirects=False,
    )
    assert wrong.status_code == 401
    code = totp_now(secret)
    right = client.post(
        "/sign-in/second-factor",
        data={"code": code, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert right.status_code == 303 and right.headers["location"] == "/"
    assert client.get("/account").status_code == 200
    # The same code cannot open a second session (replay).
    other = TestClient(client.app)
    assert sign_in(other, "alice", PASSWORD, code=code).status_code == 401


def test_enrolling_a_second_factor_by_qr_code_then_it_is_asked(
    client: TestClient, people: Any
) -> None:
    console = signed_in(client, people, "alice")
    page = console.get("/account/two-factor")
    assert "<svg" in page.text and "<img" not in page.text
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.text)
    assert secret
    refused = console.post("/account/two-factor", {"code": "12345"})
    assert refused.status_code == 400
    done = console.post("/account/two-factor", {"code": totp_now(secret.group(1))})
    assert done.status_code == 303
    with people.db.session() as session:
        user = session.get(User, people.ids["alice"])
        assert user is not None and user.totp_secret == secret.group(1)
        actions = session.exec(
            select(AuditEvent.action).where(AuditEvent.object_id == people.ids["alice"])
        ).all()
    assert "user.second_factor_enrolled" in actions
    other = TestClient(client.app)
    assert sign_in(other, "alice", PASSWORD).headers["location"] == "/sign-in/second-factor"


def test_a_one_time_password_must_be_changed_first_and_the_change_ends_other_sessions(
    client: TestClient, people: Any
) -> None:
    from tracker.organisations.service import give_console_access

    with people.db.transaction() as session:
        user = session.get(User, people.ids["bob"])
        one_time = give_console_access(session=session, user=user, login="bob.k", actor="test")
    first = TestClient(client.app)
    assert sign_in(first, "bob.k", one_time).status_code == 303
    assert first.get("/account", follow_redirects=False).headers["location"] == (
        "/account/password"
    )
    second = TestClient(client.app)
    assert sign_in(second, "bob.k", one_time).status_code == 303
    page = second.get("/account/password")
    token = csrf_of(page.text)
    weak = second.post(
        "/account/password",
        data={"current": one_time, "new": "short", "repeat": "short", "csrf_token": token},
    )
    assert weak.status_code == 400 and "12 characters" in weak.text
    new = "a much longer pass phrase"
    changed = second.post(
        "/account/password",
        data={"current": one_time, "new": new, "repeat": new, "csrf_token": token},
        follow_redirects=False,
    )
    assert changed.status_code == 303
    assert second.get("/account").status_code == 200
    assert first.get("/account", follow_redirects=False).status_code == 303  # ended
    assert sign_in(TestClient(client.app), "bob.k", one_time).status_code == 401
    assert sign_in(TestClient(client.app), "bob.k", new).status_code == 303


def test_sessions_end_when_idle_too_long_and_after_the_absolute_limit(
    client: TestClient, people: Any
) -> None:
    signed_in(client, people, "alice")
    with people.db.transaction() as session:
        row = session.exec(select(ConsoleSession)).one()
        row.last_seen_at = row.last_seen_at - timedelta(minutes=31)
        session.add(row)
    assert client.get("/account", follow_redirects=False).status_code == 303
    signed_in(client, people, "alice")
    with people.db.transaction() as session:
        row = session.exec(select(ConsoleSession).order_by(ConsoleSession.id.desc())).first()  # type: ignore[union-attr]
        assert row is not None
        row.created_at = row.created_at - timedelta(hours=13)
        session.add(row)
    assert client.get("/account", follow_redirects=False).status_code == 303


def test_deactivating_a_user_ends_their_sessions_at_once(client: TestClient, people: Any) -> None:
    signed_in(client, people, "alice")
    assert client.get("/account").status_code == 200
    response = client.post(
        f"/api/v1/users/{people.ids['alice']}/deactivate", headers=people.auth("admin")
    )
    assert response.status_code == 200, response.text
    assert client.get("/account", follow_redirects=False).status_code == 303
    assert sign_in(TestClient(client.app), "alice", PASSWORD).status_code == 401


def test_sign_out_ends_the_session_on_the_server(client: TestClient, people: Any) -> None:
    console = signed_in(client, people, "alice")
    cookie = client.cookies.get("tracker_session")
    assert console.post("/sign-out").status_code == 303
    replay = TestClient(client.app)
    replay.cookies.set("tracker_session", cookie)
    assert replay.get("/account", follow_redirects=False).status_code == 303


def test_failed_sign_ins_are_throttled_per_address(client: TestClient, people: Any) -> None:
    give_password(people, "alice")
    reset_settings(TRACKER_AUTH_FAILURE_LIMIT="3")
    try:
        from tracker.api.app import create_app

        throttled_client = TestClient(create_app(people.db))
        statuses = [
            sign_in(throttled_client, "alice", "wrong password!").status_code for _ in range(4)
        ]
        assert statuses[:2] == [401, 401] and statuses[-1] == 429
        # Even the right password waits now: nothing is learnt while throttled.
        last = sign_in(throttled_client, "alice", PASSWORD)
        assert last.status_code == 429 and int(last.headers["retry-after"]) > 0
    finally:
        reset_settings(TRACKER_AUTH_FAILURE_LIMIT="20")


def test_a_post_without_the_csrf_token_or_from_another_origin_changes_nothing(
    client: TestClient, people: Any
) -> None:
    console = signed_in(client, people, "alice")
    missing = client.post("/account/language", data={"language": "en"}, follow_redirects=False)
    assert missing.status_code == 403
    assert "too old or came from another site" in missing.text
    foreign = client.post(
        "/account/language",
        data={"language": "en", "csrf_token": console.csrf},
        headers={"Origin": "http://127.0.0.2:9999"},
        follow_redirects=False,
    )
    assert foreign.status_code == 403
    cross_site = client.post(
        "/account/language",
        data={"language": "en", "csrf_token": console.csrf},
        headers={"Sec-Fetch-Site": "cross-site"},
        follow_redirects=False,
    )
    assert cross_site.status_code == 403
    assert client.post("/sign-in", data={"login": "alice", "password": PASSWORD}).status_code == 403
    # With our no-referrer policy a browser's form says Origin: null; Sec-Fetch-Site decides.
    opaque = {"Origin": "null"}
    assert console.post("/account/language", {"language": "en"}, headers=opaque).status_code == 403
    same = {"Origin": "null", "Sec-Fetch-Site": "same-origin"}
    assert console.post("/account/language", {"language": "en"}, headers=same).status_code == 303
    same_site = {"Origin": "null", "Sec-Fetch-Site": "same-site"}  # another port of the host
    refused = console.post("/account/language", {"language": "en"}, headers=same_site)
    assert refused.status_code == 403
    assert console.post("/account/language", {"language": "en"}).status_code == 303


def test_every_console_answer_has_the_strict_headers(client: TestClient, people: Any) -> None:
    for response in (
        client.get("/sign-in"),
        client.get("/no-such-page"),
        client.get("/assets/console.css"),
    ):
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp and "unsafe" not in csp
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
    page = client.get("/sign-in")
    assert page.headers["cache-control"] == "no-store"
    assert "<script>" not in page.text and " style=" not in page.text


def test_unknown_pages_are_html_for_people_and_json_for_machines(client: TestClient) -> None:
    page = client.get("/no-such-page")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    api = client.get("/api/v1/no-such-thing", headers={"Authorization": "Bearer tk_x"})
    assert api.headers["content-type"].startswith("application/json")


def test_machines_do_not_sign_in(client: TestClient, people: Any) -> None:
    give_password(people, "dashboard")
    assert sign_in(client, "dashboard", PASSWORD).status_code == 401


def test_the_cli_prints_a_sign_in_name_and_a_one_time_password(tmp_path: Any) -> None:
    import os

    environment = {
        **os.environ,
        "TRACKER_DATA_DIR": str(tmp_path),
        "TRACKER_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
    }
    environment.pop("TRACKER_ENCRYPTION_KEYS", None)
    subprocess.run(  # noqa: S603
        [sys.executable, "-m", "tracker.cli", "db", "upgrade"],
        env=environment,
        capture_output=True,
        timeout=120,
        check=True,
    )
    done = subprocess.run(  # noqa: S603
        [
            sys.executable,
            "-m",
            "tracker.cli",
            "users",
            "create",
            "--organisation",
            "Org",
            "--name",
            "Asha K.",
            "--role",
            "caseworker",
        ],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[1] == "Sign-in name: asha.k"
    assert re.fullmatch(
        r"One-time password \(shown once; to be changed at first sign-in\): "
        r"[a-z2-9]{5}-[a-z2-9]{5}-[a-z2-9]{5}-[a-z2-9]{5}",
        lines[2],
    )
    assert lines[3].startswith("API key (shown once): tk_")
    machine = subprocess.run(  # noqa: S603
        [
            sys.executable,
            "-m",
            "tracker.cli",
            "users",
            "create",
            "--organisation",
            "Org",
            "--name",
            "Grafana",
            "--role",
            "dashboard",
        ],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert machine.returncode == 0 and "password" not in machine.stdout.lower()


def test_a_page_polling_by_itself_does_not_keep_the_session_alive(
    client: TestClient, people: Any
) -> None:
    signed_in(client, people, "alice")
    with people.db.transaction() as session:
        row = session.exec(select(ConsoleSession)).one()
        row.last_seen_at = row.last_seen_at - timedelta(minutes=10)
        session.add(row)
        before = row.last_seen_at
    # htmx re-reading a part of the page: answered, but not counted as the person's activity.
    assert client.get("/account", headers={"HX-Request": "true"}).status_code == 200
    with people.db.session() as session:
        assert session.exec(select(ConsoleSession)).one().last_seen_at == before
    assert client.get("/account").status_code == 200
    with people.db.session() as session:
        assert session.exec(select(ConsoleSession)).one().last_seen_at > before


def test_a_path_value_no_page_can_have_is_the_not_found_page(
    client: TestClient, people: Any
) -> None:
    signed_in(client, people, "alice")
    for path in ("/reports/abc", "/cases/99999999999999999999", "/filings/-1/packet"):
        response = client.get(path)
        assert response.status_code == 404, (path, response.status_code)
        assert response.headers["content-type"].startswith("text/html")
