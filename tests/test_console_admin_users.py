"""The console's users pages: the list, adding a person, deactivating, new keys and passwords.

Issue 8 (admin pages): the API's rules (supervisors read, admins change), secrets shown once on
the answer to the POST and never in a URL, and a deactivated user's session ends at once.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from console_client import PASSWORD, sign_in, signed_in
from fastapi.testclient import TestClient
from sqlmodel import select

from tracker.audit.models import AuditEvent
from tracker.errors import Conflict, Invalid
from tracker.organisations.models import ApiKey, User
from tracker.organisations.service import deactivate_user, reset_password

ONE_TIME = re.compile(r'id="one-time-password">([^<]+)<')
API_KEY = re.compile(r'id="api-key">([^<]+)<')


def test_supervisors_manage_caseworkers_and_admins_every_role(
    client: TestClient, people: Any
) -> None:
    alice = signed_in(client, people, "alice")
    assert alice.get("/users").status_code == 403
    supervisor = signed_in(TestClient(client.app), people, "supervisor")
    page = supervisor.get("/users")
    assert page.status_code == 200
    for name in ("Test admin", "Test supervisor", "Test alice", "Test bob", "Test dashboard"):
        assert name in page.text
    assert "Test outsider" not in page.text
    assert "5 users in your organisation" in page.text
    # A supervisor adds caseworkers only: the form offers no other role.
    assert 'action="/users"' in page.text
    offered = re.findall(r'<option value="([a-z]+)"', page.text.split('id="role"', 1)[1])
    assert offered == ["caseworker"]
    detail = supervisor.get(f"/users/{people.ids['alice']}")
    assert detail.status_code == 200 and "/deactivate" in detail.text
    admin_page = supervisor.get(f"/users/{people.ids['admin']}")
    assert admin_page.status_code == 200 and "/deactivate" not in admin_page.text
    assert supervisor.get(f"/users/{people.ids['outsider']}").status_code == 404
    # Other roles are refused like the API's 403, and nothing changes.
    eve = {"display_name": "Eve", "role": "admin"}
    assert supervisor.post("/users", eve).status_code == 403
    assert supervisor.post(f"/users/{people.ids['admin']}/keys").status_code == 403
    refused = supervisor.post(f"/users/{people.ids['admin']}/deactivate", {"confirm": "yes"})
    assert refused.status_code == 403
    with people.db.session() as session:
        assert session.exec(select(User).where(User.display_name == "Eve")).first() is None
        admin_row = session.get(User, people.ids["admin"])
        assert admin_row is not None and admin_row.is_active
    # A caseworker they may add and deactivate.
    created = supervisor.post("/users", {"display_name": "Eve", "role": "caseworker"})
    assert created.status_code == 201 and ONE_TIME.search(created.text)
    supervisor.get(f"/users/{people.ids['bob']}")
    done = supervisor.post(f"/users/{people.ids['bob']}/deactivate", {"confirm": "yes"})
    assert done.status_code == 303
    admin = signed_in(TestClient(client.app), people, "admin")
    page = admin.get("/users")
    offered = re.findall(r'<option value="([a-z]+)"', page.text.split('id="role"', 1)[1])
    assert set(offered) == {"caseworker", "supervisor", "dashboard", "admin", "metrics"}


def test_a_new_person_gets_a_one_time_password_that_signs_in_and_must_be_changed(
    client: TestClient, people: Any
) -> None:
    admin = signed_in(client, people, "admin")
    admin.get("/users")
    response = admin.post("/users", {"display_name": "Asha K.", "role": "caseworker", "login": ""})
    assert response.status_code == 201, response.text
    assert "location" not in response.headers
    assert response.headers["cache-control"] == "no-store"
    assert "Shown only this once." in response.text
    assert 'data-copy="one-time-password"' in response.text
    assert 'data-copy="api-key"' in response.text
    password = ONE_TIME.search(response.text)
    key = API_KEY.search(response.text)
    assert password and key
    assert 'id="sign-in-name">asha.k<' in response.text  # suggested from the name
    # Neither secret is kept anywhere the console shows again.
    listing = admin.get("/users").text
    assert "Asha K." in listing and password.group(1) not in listing
    with people.db.session() as session:
        user = session.exec(select(User).where(User.login == "asha.k")).one()
        assert user.role == "caseworker" and user.password_must_change
        assert password.group(1) not in (user.password_hash or "")
        events = session.exec(
            select(AuditEvent.action).where(AuditEvent.object_id == user.id)
        ).all()
        assert {"user.created", "user.password_set"} <= set(events)
    # The key works on the API; the password signs in and must be changed first.
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {key.group(1)}"})
    assert me.status_code == 200 and me.json()["role"] == "caseworker"
    browser = TestClient(client.app)
    signed = sign_in(browser, "asha.k", password.group(1))
    assert signed.status_code == 303
    first = browser.get("/", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/account/password"


def test_machine_users_get_a_key_only_and_refused_input_names_the_field(
    client: TestClient, people: Any
) -> None:
    admin = signed_in(client, people, "admin")
    admin.get("/users")
    made = admin.post("/users", {"display_name": "Grafana", "role": "dashboard"})
    assert made.status_code == 201
    assert API_KEY.search(made.text) and not ONE_TIME.search(made.text)
    blank = admin.post("/users", {"display_name": "   ", "role": "caseworker"})
    assert blank.status_code == 400
    assert 'id="display_name-error"' in blank.text and "Give a name." in blank.text
    bad_role = admin.post("/users", {"display_name": "Ravi", "role": "owner"})
    assert bad_role.status_code == 400 and 'id="role-error"' in bad_role.text
    bad_login = admin.post(
        "/users", {"display_name": "Ravi", "role": "caseworker", "login": "Ravi Kumar!"}
    )
    assert bad_login.status_code == 400 and 'id="login-error"' in bad_login.text
    assert 'value="Ravi"' in bad_login.text  # the form keeps what was typed
    taken = admin.post(
        "/users", {"display_name": "Alice again", "role": "caseworker", "login": "admin"}
    )
    assert taken.status_code == 409 and "This sign-in name is taken." in taken.text
    with people.db.session() as session:
        names = session.exec(select(User.display_name)).all()
        assert "Ravi" not in names and "Alice again" not in names  # nothing half-made


def test_the_login_suggestion_fills_the_field_unless_one_was_typed(
    client: TestClient, people: Any
) -> None:
    admin = signed_in(client, people, "admin")
    suggested = admin.get("/users/login-suggestion?display_name=Meera%20S.")
    assert suggested.status_code == 200 and 'value="meera.s"' in suggested.text
    kept = admin.get("/users/login-suggestion?display_name=Meera&login=mee")
    assert 'value="mee"' in kept.text


def test_deactivation_needs_confirming_and_ends_the_users_session_at_once(
    client: TestClient, people: Any
) -> None:
    bob_browser = TestClient(client.app)
    bob = signed_in(bob_browser, people, "bob")
    assert bob.get("/account").status_code == 200
    admin = signed_in(client, people, "admin")
    page = admin.get(f"/users/{people.ids['bob']}")
    assert "I understand" in page.text
    unconfirmed = admin.post(f"/users/{people.ids['bob']}/deactivate")
    assert unconfirmed.status_code == 400 and 'id="confirm-error"' in unconfirmed.text
    assert bob.get("/account").status_code == 200
    response = admin.post(f"/users/{people.ids['bob']}/deactivate", {"confirm": "yes"})
    assert response.status_code == 303
    assert response.headers["location"] == f"/users/{people.ids['bob']}?done=deactivated"
    done = admin.get(response.headers["location"]).text
    assert "Their keys and sessions stopped at once." in done
    after = bob.get("/account", follow_redirects=False)
    assert after.status_code == 303 and after.headers["location"].startswith("/sign-in")
    assert client.get("/api/v1/me", headers=people.auth("bob")).status_code == 401
    again = admin.post(f"/users/{people.ids['bob']}/deactivate", {"confirm": "yes"})
    assert again.status_code == 409 and "already deactivated" in again.text


def test_an_admin_cannot_deactivate_themselves(client: TestClient, people: Any) -> None:
    admin = signed_in(client, people, "admin")
    page = admin.get(f"/users/{people.ids['admin']}")
    assert "/deactivate" not in page.text
    response = admin.post(f"/users/{people.ids['admin']}/deactivate", {"confirm": "yes"})
    assert response.status_code == 409
    assert "You cannot deactivate yourself." in response.text
    assert admin.get("/users").status_code == 200


def test_a_new_key_is_shown_once_and_works(client: TestClient, people: Any) -> None:
    admin = signed_in(client, people, "admin")
    admin.get(f"/users/{people.ids['dashboard']}")
    response = admin.post(f"/users/{people.ids['dashboard']}/keys")
    assert response.status_code == 201 and response.headers["cache-control"] == "no-store"
    key = API_KEY.search(response.text)
    assert key
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {key.group(1)}"})
    assert me.status_code == 200 and me.json()["user_id"] == people.ids["dashboard"]
    assert client.get("/api/v1/me", headers=people.auth("dashboard")).status_code == 200
    detail = admin.get(f"/users/{people.ids['dashboard']}").text
    assert key.group(1) not in detail and key.group(1)[:10] in detail  # its prefix only
    with people.db.session() as session:
        keys = session.exec(select(ApiKey).where(ApiKey.user_id == people.ids["dashboard"])).all()
        assert len(keys) == 2
    assert admin.post(f"/users/{people.ids['outsider']}/keys").status_code == 404


def test_a_new_one_time_password_ends_the_users_sessions(client: TestClient, people: Any) -> None:
    alice_browser = TestClient(client.app)
    alice = signed_in(alice_browser, people, "alice")
    admin = signed_in(client, people, "admin")
    admin.get(f"/users/{people.ids['alice']}")
    response = admin.post(f"/users/{people.ids['alice']}/password")
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    password = ONE_TIME.search(response.text)
    assert password
    after = alice.get("/account", follow_redirects=False)
    assert after.status_code == 303 and after.headers["location"].startswith("/sign-in")
    assert sign_in(TestClient(client.app), "alice", PASSWORD).status_code == 401
    fresh = TestClient(client.app)
    assert sign_in(fresh, "alice", password.group(1)).status_code == 303
    assert fresh.get("/", follow_redirects=False).headers["location"] == "/account/password"
    # A machine user has no password to give.
    machine = admin.post(f"/users/{people.ids['dashboard']}/password")
    assert machine.status_code == 400
    assert "Only caseworkers, supervisors and admins sign in" in machine.text


def test_a_person_without_a_sign_in_name_gets_one_with_the_password(
    client: TestClient, people: Any
) -> None:
    admin = signed_in(client, people, "admin")
    page = admin.get(f"/users/{people.ids['bob']}")  # made through the API: no sign-in name
    assert 'value="test.bob"' in page.text
    response = admin.post(f"/users/{people.ids['bob']}/password", {"login": "bob.t"})
    assert response.status_code == 200 and 'id="sign-in-name">bob.t<' in response.text
    password = ONE_TIME.search(response.text)
    assert password
    assert sign_in(TestClient(client.app), "bob.t", password.group(1)).status_code == 303


def test_reset_password_refuses_a_deactivated_user_and_a_machine(people: Any) -> None:
    with people.db.transaction() as session:
        bob = session.get(User, people.ids["bob"])
        dashboard = session.get(User, people.ids["dashboard"])
        assert bob is not None and dashboard is not None
        with pytest.raises(Invalid) as missing:
            reset_password(session=session, user=bob, actor="test")
        assert missing.value.problems[0].type == "user.login_missing"
        first = reset_password(session=session, user=bob, actor="test", login="bob.t")
        second = reset_password(session=session, user=bob, actor="test")
        assert first != second and bob.login == "bob.t" and bob.password_must_change
        with pytest.raises(Invalid) as machine:
            reset_password(session=session, user=dashboard, actor="test")
        assert machine.value.problems[0].type == "user.no_console"
        deactivate_user(session=session, user=bob, actor="test")
        with pytest.raises(Conflict):
            reset_password(session=session, user=bob, actor="test")
