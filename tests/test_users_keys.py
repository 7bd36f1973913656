"""Issue 7 item 3: users are deactivated and keys issued and revoked, by API and CLI, audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import col, select, update
from typer.testing import CliRunner

from tracker.audit.models import AuditEvent
from tracker.db import utcnow
from tracker.organisations.models import ApiKey, User


def audit_actions(db, object_type: str) -> list[tuple[str, str, int | None, dict]]:
    with db.session() as session:
        events = session.exec(
            select(AuditEvent)
            .where(AuditEvent.object_type == object_type)
            .where(col(AuditEvent.action) != "user.created")
            .order_by(col(AuditEvent.id))
        ).all()
    return [(event.actor, event.action, event.object_id, event.details) for event in events]


def user_row(db, user_id: int) -> User:
    with db.session() as session:
        user = session.get(User, user_id)
        assert user is not None
        return user


def test_users_list_is_a_page_of_the_organisation_only(client, people):
    response = client.get("/api/v1/users?limit=2&offset=1", headers=people.auth("supervisor"))
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 5 and body["limit"] == 2 and body["offset"] == 1
    assert [item["id"] for item in body["items"]] == [people.ids["supervisor"], people.ids["alice"]]
    assert set(body["items"][0]) == {
        "id",
        "display_name",
        "role",
        "is_active",
        "created_at",
        "deactivated_at",
    }
    other = client.get("/api/v1/users", headers=people.auth("outsider")).json()
    assert [item["id"] for item in other["items"]] == [people.ids["outsider"]]
    assert client.get("/api/v1/users", headers=people.auth("alice")).status_code == 403


def test_one_user_is_read_within_the_organisation(client, people):
    alice = people.ids["alice"]
    response = client.get(f"/api/v1/users/{alice}", headers=people.auth("admin"))
    assert response.status_code == 200
    assert response.json()["display_name"] == "Test alice"
    assert response.json()["deactivated_at"] is None
    hidden = client.get(f"/api/v1/users/{alice}", headers=people.auth("outsider"))
    assert hidden.status_code == 404
    assert hidden.json() == {
        "detail": [{"loc": ["path", "user_id"], "msg": "user not found", "type": "user.not_found"}]
    }
    assert client.get("/api/v1/users/2147483648", headers=people.auth("admin")).status_code == 422


def test_deactivation_stops_the_users_keys_at_once_and_is_audited(client, people, db):
    alice = people.ids["alice"]
    assert client.get("/api/v1/me", headers=people.auth("alice")).status_code == 200
    before = utcnow()
    response = client.post(f"/api/v1/users/{alice}/deactivate", headers=people.auth("admin"))
    assert response.status_code == 200
    assert response.json()["is_active"] is False
    refused = client.get("/api/v1/me", headers=people.auth("alice"))
    assert refused.status_code == 401
    assert refused.json()["detail"][0]["type"] == "auth.unauthenticated"
    row = user_row(db, alice)
    assert row.is_active is False
    assert row.deactivated_at is not None and row.deactivated_at >= before - timedelta(seconds=1)
    # Sessions opened before this moment (the console's) are cut too.
    assert row.sessions_valid_after == row.deactivated_at
    with db.session() as session:
        keys = session.exec(select(ApiKey).where(ApiKey.user_id == alice)).all()
    assert [key.revoked_at is not None for key in keys] == [True]
    assert audit_actions(db, "user") == [
        (f"user:{people.ids['admin']}", "user.deactivated", alice, {"keys_revoked": 1})
    ]
    again = client.post(f"/api/v1/users/{alice}/deactivate", headers=people.auth("admin"))
    assert again.status_code == 409
    assert again.json()["detail"][0]["type"] == "user.already_deactivated"
    listed = client.get(f"/api/v1/users/{alice}", headers=people.auth("supervisor")).json()
    assert listed["is_active"] is False and listed["deactivated_at"] is not None


def test_authentication_reads_is_active_on_every_request(client, people, db):
    """No caching: a user switched off in the database is refused on the very next request."""
    assert client.get("/api/v1/me", headers=people.auth("bob")).status_code == 200
    with db.transaction() as session:
        session.exec(update(User).where(col(User.id) == people.ids["bob"]).values(is_active=False))
    assert client.get("/api/v1/me", headers=people.auth("bob")).status_code == 401


def test_deactivation_by_who_manages_the_role_never_yourself_and_scoped(client, people):
    admin, alice = people.ids["admin"], people.ids["alice"]
    yourself = client.post(f"/api/v1/users/{admin}/deactivate", headers=people.auth("admin"))
    assert yourself.status_code == 409
    assert yourself.json() == {
        "detail": [
            {
                "loc": ["path", "user_id"],
                "msg": "you cannot deactivate yourself",
                "type": "user.self_deactivation",
            }
        ]
    }
    # A supervisor manages caseworkers, not admins (or other supervisors, or machines).
    by_supervisor = client.post(
        f"/api/v1/users/{admin}/deactivate", headers=people.auth("supervisor")
    )
    assert by_supervisor.status_code == 403
    assert by_supervisor.json()["detail"][0]["type"] == "user.manage_forbidden"
    # The outsider is a supervisor of the other organisation: Alice is not found there.
    assert (
        client.post(f"/api/v1/users/{alice}/deactivate", headers=people.auth("outsider"))
    ).status_code == 404
    assert client.get("/api/v1/me", headers=people.auth("alice")).status_code == 200
    assert client.get("/api/v1/me", headers=people.auth("admin")).status_code == 200
    by_caseworker = client.post(f"/api/v1/users/{alice}/deactivate", headers=people.auth("bob"))
    assert by_caseworker.status_code == 403
    deactivated = client.post(
        f"/api/v1/users/{alice}/deactivate", headers=people.auth("supervisor")
    )
    assert deactivated.status_code == 200
    assert client.get("/api/v1/me", headers=people.auth("alice")).status_code == 401


def test_a_supervisor_adds_and_keys_caseworkers_only(client, people):
    supervisor = people.auth("supervisor")
    made = client.post(
        "/api/v1/users", json={"display_name": "Eve", "role": "caseworker"}, headers=supervisor
    )
    assert made.status_code == 201
    refused = client.post(
        "/api/v1/users", json={"display_name": "Mallory", "role": "admin"}, headers=supervisor
    )
    assert refused.status_code == 403
    assert refused.json()["detail"][0]["loc"] == ["body", "role"]
    bob = people.ids["bob"]
    assert client.post(f"/api/v1/users/{bob}/keys", headers=supervisor).status_code == 201
    assert client.get(f"/api/v1/users/{bob}/keys", headers=supervisor).status_code == 200
    admin = people.ids["admin"]
    assert client.post(f"/api/v1/users/{admin}/keys", headers=supervisor).status_code == 403
    assert client.get(f"/api/v1/users/{admin}/keys", headers=supervisor).status_code == 403


def other_admin(client, people) -> dict[str, str]:
    """An admin of the other organisation."""
    from tracker.organisations.models import Role

    return people.add("other admin", "other", Role.ADMIN)


def test_another_organisations_admin_gets_404_for_users_and_keys(client, people, db):
    foreign = other_admin(client, people)
    alice = people.ids["alice"]
    with db.session() as session:
        key_id = session.exec(select(ApiKey.id).where(ApiKey.user_id == alice)).one()
    for method, path in [
        ("get", f"/api/v1/users/{alice}"),
        ("post", f"/api/v1/users/{alice}/deactivate"),
        ("get", f"/api/v1/users/{alice}/keys"),
        ("post", f"/api/v1/users/{alice}/keys"),
        ("post", f"/api/v1/users/{alice}/keys/{key_id}/revoke"),
    ]:
        response = client.request(method, path, headers=foreign)
        assert response.status_code == 404, (method, path, response.text)
    assert client.get("/api/v1/me", headers=people.auth("alice")).status_code == 200
    assert audit_actions(db, "user") == [] and audit_actions(db, "api_key") == []


def test_new_key_keeps_old_one_until_revoked(client, people, db):
    admin, bob = people.auth("admin"), people.ids["bob"]
    created = client.post(f"/api/v1/users/{bob}/keys", headers=admin)
    assert created.status_code == 201
    new = created.json()
    assert set(new) == {"id", "prefix", "created_at", "revoked_at", "api_key"}
    assert new["api_key"].startswith(new["prefix"]) and new["revoked_at"] is None
    new_auth = {"Authorization": f"Bearer {new['api_key']}"}
    assert client.get("/api/v1/me", headers=new_auth).json()["user_id"] == bob
    assert client.get("/api/v1/me", headers=people.auth("bob")).status_code == 200

    listing = client.get(f"/api/v1/users/{bob}/keys", headers=admin)
    assert listing.status_code == 200
    page = listing.json()
    assert page["total"] == 2 and page["limit"] == 50 and page["offset"] == 0
    assert all(set(item) == {"id", "prefix", "created_at", "revoked_at"} for item in page["items"])
    assert people.keys["bob"] not in listing.text and new["api_key"] not in listing.text
    old_id = page["items"][0]["id"]
    assert page["items"][0]["prefix"] == people.keys["bob"][:10]

    revoked = client.post(f"/api/v1/users/{bob}/keys/{old_id}/revoke", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert client.get("/api/v1/me", headers=people.auth("bob")).status_code == 401
    assert client.get("/api/v1/me", headers=new_auth).status_code == 200
    twice = client.post(f"/api/v1/users/{bob}/keys/{old_id}/revoke", headers=admin)
    assert twice.status_code == 409 and twice.json()["detail"][0]["type"] == "api_key.revoked"
    admin_actor = f"user:{people.ids['admin']}"
    assert audit_actions(db, "api_key") == [
        (admin_actor, "api_key.issued", new["id"], {"user_id": bob}),
        (admin_actor, "api_key.revoked", old_id, {"user_id": bob}),
    ]


def test_key_routes_check_the_key_belongs_to_the_user(client, people, db):
    admin = people.auth("admin")
    with db.session() as session:
        alice_key = session.exec(
            select(ApiKey.id).where(ApiKey.user_id == people.ids["alice"])
        ).one()
    wrong_user = client.post(
        f"/api/v1/users/{people.ids['bob']}/keys/{alice_key}/revoke", headers=admin
    )
    assert wrong_user.status_code == 404
    assert wrong_user.json()["detail"][0]["loc"] == ["path", "key_id"]
    assert client.get("/api/v1/me", headers=people.auth("alice")).status_code == 200
    for who in ("alice", "dashboard"):
        assert (
            client.get(f"/api/v1/users/{people.ids['bob']}/keys", headers=people.auth(who))
        ).status_code == 403
        assert (
            client.post(f"/api/v1/users/{people.ids['bob']}/keys", headers=people.auth(who))
        ).status_code == 403


def test_no_new_key_for_a_deactivated_user(client, people):
    alice = people.ids["alice"]
    client.post(f"/api/v1/users/{alice}/deactivate", headers=people.auth("admin"))
    response = client.post(f"/api/v1/users/{alice}/keys", headers=people.auth("admin"))
    assert response.status_code == 409
    assert response.json()["detail"][0]["type"] == "user.deactivated"


@pytest.fixture
def cli(db, monkeypatch):
    """The `tracker` command bound to the test database."""
    import tracker.runtime
    from tracker.cli import app

    monkeypatch.setattr(tracker.runtime, "database", lambda: db)
    runner = CliRunner()
    return lambda *arguments: runner.invoke(app, list(arguments))


def test_cli_lists_deactivates_issues_and_revokes(cli, people, db):
    listed = cli("users", "list", "--organisation", "Test helpline")
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert lines[0] == f"{people.ids['admin']}\tadmin\tactive\tTest admin"
    assert len(lines) == 5
    unknown = cli("users", "list", "--organisation", "No such helpline")
    assert unknown.exit_code == 1

    issued = cli("users", "new-key", str(people.ids["bob"]))
    assert issued.exit_code == 0, issued.output
    assert "API key (shown once): tk_" in issued.output
    with db.session() as session:
        old_key_id = session.exec(
            select(ApiKey.id).where(ApiKey.user_id == people.ids["bob"]).order_by(col(ApiKey.id))
        ).first()
    revoked = cli("users", "revoke-key", str(old_key_id))
    assert revoked.exit_code == 0 and revoked.output == f"key {old_key_id} revoked\n"
    assert cli("users", "revoke-key", str(old_key_id)).exit_code == 1
    assert cli("users", "revoke-key", "999999").exit_code == 1

    deactivated = cli("users", "deactivate", str(people.ids["alice"]))
    assert deactivated.exit_code == 0, deactivated.output
    assert deactivated.output == f"user {people.ids['alice']} deactivated; 1 key(s) revoked\n"
    assert user_row(db, people.ids["alice"]).is_active is False
    assert cli("users", "deactivate", str(people.ids["alice"])).exit_code == 1
    assert cli("users", "new-key", str(people.ids["alice"])).exit_code == 1
    assert [(actor, action) for actor, action, *_ in audit_actions(db, "api_key")] == [
        ("cli", "api_key.issued"),
        ("cli", "api_key.revoked"),
    ]
    assert [(actor, action) for actor, action, *_ in audit_actions(db, "user")] == [
        ("cli", "user.deactivated")
    ]


def test_cli_creates_a_metrics_user(cli, db):
    created = cli(
        "users",
        "create",
        "--organisation",
        "Test helpline",
        "--name",
        "Scraper",
        "--role",
        "metrics",
    )
    assert created.exit_code == 0, created.output
    assert "(metrics)" in created.output


def test_an_admin_cannot_revoke_the_key_they_are_using(client, people, db):
    admin = people.ids["admin"]
    with db.session() as session:
        own_key = session.exec(select(ApiKey.id).where(ApiKey.user_id == admin)).one()
    response = client.post(
        f"/api/v1/users/{admin}/keys/{own_key}/revoke", headers=people.auth("admin")
    )
    assert response.status_code == 409
    assert response.json()["detail"][0]["type"] == "api_key.in_use"
    assert client.get("/api/v1/me", headers=people.auth("admin")).status_code == 200
    # With a second key, the first one can go.
    second = client.post(f"/api/v1/users/{admin}/keys", headers=people.auth("admin")).json()
    second_auth = {"Authorization": f"Bearer {second['api_key']}"}
    revoked = client.post(f"/api/v1/users/{admin}/keys/{own_key}/revoke", headers=second_auth)
    assert revoked.status_code == 200
    assert client.get("/api/v1/me", headers=people.auth("admin")).status_code == 401
