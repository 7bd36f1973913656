"""The console's settings page: channel credentials, the webhook, the policies in force.

Issue 8 (admin pages): the same validation and storage as ``/api/v1/channel-credentials`` and
``/api/v1/organisation/webhook``; a secret never comes back in any page once saved.
"""

from __future__ import annotations

import json
from typing import Any

from console_client import signed_in
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlmodel import select

from tracker.channels.models import ChannelCredential
from tracker.organisations.models import Organisation

SANDBOX_TOKEN = "sandbox-token-Zq81-never-shown"
SMTP_PASSWORD = "smtp-password-Kx52-never-shown"
WEBHOOK_SECRET = "webhook-secret-Hp73-never-shown-0123456789"
SECRETS = (SANDBOX_TOKEN, SMTP_PASSWORD, WEBHOOK_SECRET)
PAGES = ("/settings", "/settings/channels/sandbox", "/settings/channels/email", "/alerts")


def stored(people: Any, adapter: str) -> dict[str, Any] | None:
    with people.db.session() as session:
        row = session.exec(
            select(ChannelCredential).where(ChannelCredential.adapter == adapter)
        ).first()
        return json.loads(row.values) if row is not None else None


def assert_no_secret_anywhere(console: Any) -> None:
    for path in PAGES:
        html = console.get(path).text
        for secret in SECRETS:
            assert secret not in html, (path, secret)


def test_only_admins_open_the_settings(client: TestClient, people: Any) -> None:
    supervisor = signed_in(client, people, "supervisor")
    for path in ("/settings", "/settings/channels/sandbox"):
        response = supervisor.get(path)
        assert response.status_code == 403 and "Your role does not include this page." in (
            response.text
        )
    assert supervisor.post("/settings/webhook", {"url": "https://hooks.example/x"}).status_code == (
        403
    )
    assert signed_in(TestClient(client.app), people, "alice").get("/settings").status_code == 403
    admin = signed_in(TestClient(client.app), people, "admin")
    page = admin.get("/settings")
    assert page.status_code == 200
    assert 'id="channel-sandbox"' in page.text and 'id="channel-reddit"' in page.text
    assert admin.get("/settings/channels/no_such_adapter").status_code == 404


def test_credentials_save_encrypted_show_masked_and_an_empty_secret_keeps_the_stored_one(
    client: TestClient, people: Any
) -> None:
    admin = signed_in(client, people, "admin")
    form = admin.get("/settings/channels/sandbox")
    assert 'type="password"' in form.text and 'name="api_token"' in form.text
    response = admin.post(
        "/settings/channels/sandbox", {"api_token": SANDBOX_TOKEN, "timeout_seconds": "7"}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/settings/channels/sandbox?done=saved"
    assert stored(people, "sandbox") == {"api_token": SANDBOX_TOKEN, "timeout_seconds": 7.0}
    page = admin.get(response.headers["location"]).text
    assert "The credentials are saved." in page and "**********" in page
    assert "A secret is stored. Leave empty to keep it." in page
    assert 'value="7.0"' in page  # a stored non-secret value fills its field
    # Saving again with the secret left empty keeps it; the timeout changes.
    again = admin.post("/settings/channels/sandbox", {"api_token": "", "timeout_seconds": "9"})
    assert again.status_code == 303
    assert stored(people, "sandbox") == {"api_token": SANDBOX_TOKEN, "timeout_seconds": 9.0}
    # The same masked view as the API's.
    api = client.get("/api/v1/channel-credentials?limit=200", headers=people.auth("admin")).json()
    sandbox = next(item for item in api["items"] if item["adapter"] == "sandbox")
    assert sandbox["config"]["api_token"] == "**********"
    assert 'id="channel-sandbox"' in admin.get("/settings").text
    assert_no_secret_anywhere(admin)


def test_a_refused_value_is_400_naming_the_field_and_nothing_is_stored(
    client: TestClient, people: Any
) -> None:
    admin = signed_in(client, people, "admin")
    admin.get("/settings/channels/email")
    response = admin.post(
        "/settings/channels/email",
        {"smtp_port": "seventy", "password": SMTP_PASSWORD, "smtp_host": "smtp.example"},
    )
    assert response.status_code == 400
    assert 'id="error-smtp_port"' in response.text
    assert "smtp port must be a whole number." in response.text
    assert 'value="smtp.example"' in response.text  # what was typed stays, but no secret
    assert SMTP_PASSWORD not in response.text
    assert stored(people, "email") is None
    too_big = admin.post("/settings/channels/email", {"smtp_port": "70000"})
    assert too_big.status_code == 400 and "smtp port is too large." in too_big.text
    # The same value the API refuses with 422 on the same field.
    api = client.put(
        "/api/v1/channel-credentials/email",
        json={"values": {"smtp_port": "seventy"}},
        headers=people.auth("admin"),
    )
    assert api.status_code == 422 and api.json()["detail"][0]["loc"][-1] == "smtp_port"
    saved = admin.post(
        "/settings/channels/email",
        {"smtp_port": "587", "password": SMTP_PASSWORD, "starttls": "true"},
    )
    assert saved.status_code == 303
    assert stored(people, "email") == {
        "smtp_port": 587,
        "password": SMTP_PASSWORD,
        "starttls": True,
    }
    assert_no_secret_anywhere(admin)


def test_deleting_credentials_forgets_them(client: TestClient, people: Any) -> None:
    admin = signed_in(client, people, "admin")
    admin.get("/settings/channels/sandbox")
    admin.post("/settings/channels/sandbox", {"api_token": SANDBOX_TOKEN})
    page = admin.get("/settings/channels/sandbox")
    assert 'action="/settings/channels/sandbox/delete"' in page.text
    response = admin.post("/settings/channels/sandbox/delete")
    assert response.status_code == 303
    assert stored(people, "sandbox") is None
    assert "The stored credentials are deleted." in admin.get("/settings?done=deleted").text
    assert admin.post("/settings/channels/sandbox/delete").status_code == 404


def webhook(people: Any) -> tuple[str | None, str | None]:
    with people.db.session() as session:
        organisation = session.exec(
            select(Organisation).where(Organisation.name == "Test helpline")
        ).one()
        return organisation.webhook_url, organisation.webhook_secret


def test_the_webhook_follows_the_apis_rules_and_its_secret_is_never_shown(
    client: TestClient, people: Any
) -> None:
    admin = signed_in(client, people, "admin")
    admin.get("/settings")
    for url in ("http://127.0.0.2/hook", "http://169.254.169.254/latest", "http://localhost/x"):
        refused = admin.post("/settings/webhook", {"url": url})
        assert refused.status_code == 400, url
        assert 'id="webhook-url-error"' in refused.text and "not a public one" in refused.text
    bad = admin.post("/settings/webhook", {"url": "not a url"})
    assert bad.status_code == 400 and 'id="webhook-url-error"' in bad.text
    short = admin.post("/settings/webhook", {"url": "https://hooks.example/in", "secret": "short"})
    assert short.status_code == 400 and 'id="webhook-secret-error"' in short.text
    assert "short" not in short.text.split('id="webhook-secret"')[1].split(">")[0]
    assert webhook(people) == (None, None)
    # Without a secret, one is made and shown once, on the answer itself.
    made = admin.post("/settings/webhook", {"url": "https://hooks.example/in"})
    assert made.status_code == 200 and made.headers["cache-control"] == "no-store"
    url, secret = webhook(people)
    assert url == "https://hooks.example/in" and secret and secret in made.text
    assert "Shown only this once." in made.text
    page = admin.get("/settings").text
    assert "https://hooks.example/in" in page and "Stored (never shown)" in page
    assert secret not in page
    # A given secret replaces it; the page never shows either.
    given = admin.post(
        "/settings/webhook", {"url": "https://hooks.example/in", "secret": WEBHOOK_SECRET}
    )
    assert (
        given.status_code == 303 and given.headers["location"] == "/settings?done=webhook#webhook"
    )
    assert webhook(people) == ("https://hooks.example/in", WEBHOOK_SECRET)
    assert_no_secret_anywhere(admin)
    assert secret not in admin.get("/settings").text
    off = admin.post("/settings/webhook/off")
    assert off.status_code == 303 and webhook(people) == (None, None)
    assert "The webhook is off." in admin.get(off.headers["location"]).text


def test_the_policies_in_force_are_listed_read_only(client: TestClient, people: Any) -> None:
    admin = signed_in(client, people, "admin")
    page = admin.get("/settings").text
    api = client.get("/api/v1/policies?limit=200", headers=people.auth("admin")).json()
    assert api["total"] > 0
    for policy in api["items"]:
        assert f'id="policy-{policy["recorded_id"]}"' in page
        assert str(escape(policy["source"])) in page
    assert "In force" in page and "The platform" in page
    assert 'action="/settings/policies' not in page
