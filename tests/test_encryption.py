"""Victim contact fields are encrypted at rest; settings refuse placeholder keys in production."""

from __future__ import annotations

import pytest
from conftest import new_case
from cryptography.fernet import Fernet
from pydantic import ValidationError
from sqlalchemy import text

from tracker.crypto import FieldCipher
from tracker.settings import Settings


def test_contact_fields_unreadable_in_the_raw_database(client, people, db):
    secret_name = "Fakename Testperson"
    secret_email = "fake.person@fake.example"
    case_id = new_case(
        client,
        people,
        contact={"name": secret_name, "email": secret_email, "phone": "+00 0000 0000"},
        notes="Fake note about the case",
    )
    with db.engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT contact_name, contact_email, contact_phone, notes FROM cases WHERE id = :id"
            ),
            {"id": case_id},
        ).one()
    raw = " ".join(str(value) for value in row)
    for plaintext in (secret_name, secret_email, "+00 0000 0000", "Fake note"):
        assert plaintext not in raw
    assert all(str(value).startswith("gAAAAA") for value in row)  # Fernet tokens
    # ...and the API, for a caseworker who may see the case, reads them back.
    body = client.get(f"/api/v1/cases/{case_id}", headers=people.auth("alice")).json()
    assert body["contact"]["email"] == secret_email


def test_rotated_key_still_decrypts_old_values():
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    old = FieldCipher([old_key])
    new = FieldCipher([new_key, old_key])
    token = old.encrypt("fake value")
    assert new.decrypt(token) == "fake value"
    with pytest.raises(ValueError):
        FieldCipher([new_key]).decrypt(token)


@pytest.mark.parametrize("keys", ["", "changeme", "placeholder"])
def test_production_refuses_missing_or_placeholder_key(keys, monkeypatch):
    monkeypatch.setenv("TRACKER_ENCRYPTION_KEYS", keys)
    with pytest.raises(ValidationError, match="TRACKER_ENCRYPTION_KEYS"):
        Settings(environment="production", database_url="postgresql+psycopg://x@127.0.0.1/x")


def test_a_key_that_is_not_fernet_is_refused():
    with pytest.raises(ValueError, match="not a Fernet key"):
        FieldCipher(["short"])


def test_start_up_waits_for_the_database_then_fails_loudly():
    import socket
    import time

    from sqlalchemy.exc import OperationalError

    from tracker.runtime import open_database

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once we leave: nothing listens there
    settings = Settings(
        database_url=f"postgresql+psycopg://postgres@127.0.0.1:{port}/none",
        startup_wait_seconds=1.0,
    )
    started = time.monotonic()
    with pytest.raises(OperationalError):
        open_database(settings, upgrade=False)
    assert 0.5 <= time.monotonic() - started < 10
