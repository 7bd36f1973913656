"""Per-case data keys: envelope encryption of contact details and notes, sealed streams, and
crypto-erasure by destroying the key."""

from __future__ import annotations

import base64

import pytest
from conftest import TEST_KEY, new_case
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import text

from tracker.cases.keys import (
    CHUNK_BYTES,
    HEADER_BYTES,
    SEALED_CHUNK_BYTES,
    TEXT_PREFIX,
    CaseCipher,
    CaseKey,
    CaseKeyDestroyed,
    SealedDataInvalid,
    case_cipher,
    destroy_case_key,
)
from tracker.cases.models import Case
from tracker.cases.service import contact_of, notes_of
from tracker.crypto import FieldCipher

NAME, EMAIL, PHONE = "Fakename Keyperson", "fake.key@fake.example", "+00 1111 2222"
NOTES = "Fake note: met at the fake helpline desk"


def _cipher() -> CaseCipher:
    return CaseCipher(AESGCM.generate_key(bit_length=256), 7)


def _sealed(cipher: CaseCipher, data: bytes, piece: int = 1000) -> list[bytes]:
    pieces = [data[i : i + piece] for i in range(0, len(data), piece)]
    return list(cipher.encrypt_chunks(pieces))


def test_text_is_sealed_and_opens_only_with_its_case_key():
    cipher = _cipher()
    sealed = cipher.encrypt_text(NAME)
    assert sealed.startswith(TEXT_PREFIX) and NAME not in sealed
    assert sealed != cipher.encrypt_text(NAME)  # a fresh nonce each time
    assert cipher.decrypt_text(sealed) == NAME
    assert cipher.decrypt_text("written before sealing") == "written before sealing"
    other_case = CaseCipher(AESGCM.generate_key(bit_length=256), 8)
    with pytest.raises(SealedDataInvalid):
        other_case.decrypt_text(sealed)


@pytest.mark.parametrize("size", [0, 1, CHUNK_BYTES - 1, CHUNK_BYTES, CHUNK_BYTES + 1, 200_000])
def test_streams_round_trip_in_chunks(size):
    cipher = _cipher()
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    sealed = b"".join(_sealed(cipher, data))
    assert len(sealed) == HEADER_BYTES + len(data) + 16 * (max(size - 1, 0) // CHUNK_BYTES + 1)
    # Read back in pieces of another size: the format does not depend on how it is cut.
    pieces = [sealed[i : i + 777] for i in range(0, len(sealed), 777)]
    assert b"".join(cipher.decrypt_chunks(pieces)) == data


def _open(cipher: CaseCipher, sealed: bytes) -> bytes:
    return b"".join(cipher.decrypt_chunks([sealed]))


def test_truncated_reordered_or_altered_streams_fail():
    cipher = _cipher()
    data = b"fake evidence bytes " * 10_000  # four chunks
    sealed = b"".join(_sealed(cipher, data))
    header, body = sealed[:HEADER_BYTES], sealed[HEADER_BYTES:]
    chunks = [body[i : i + SEALED_CHUNK_BYTES] for i in range(0, len(body), SEALED_CHUNK_BYTES)]
    assert len(chunks) == 4
    for broken in (
        header + b"".join(chunks[:3]),  # the final chunk cut off at a chunk boundary
        header + b"".join(chunks[:-1]) + chunks[-1][:-1],  # one byte short
        header + chunks[1] + chunks[0] + b"".join(chunks[2:]),  # reordered
        sealed[: HEADER_BYTES + 100]
        + bytes([sealed[HEADER_BYTES + 100] ^ 1])
        + sealed[101 + HEADER_BYTES :],
        header,
        b"",
    ):
        with pytest.raises(SealedDataInvalid):
            _open(cipher, broken)
    assert _open(cipher, sealed) == data


def _raw_contact(db, case_id: int) -> tuple[str, ...]:
    with db.engine.connect() as connection:
        return tuple(
            connection.execute(
                text(
                    "SELECT contact_name, contact_email, contact_phone, notes "
                    "FROM cases WHERE id = :id"
                ),
                {"id": case_id},
            ).one()
        )


def test_contact_and_notes_are_sealed_with_the_case_key_inside_the_master_key(client, people, db):
    case_id = new_case(
        client, people, contact={"name": NAME, "email": EMAIL, "phone": PHONE}, notes=NOTES
    )
    raw = _raw_contact(db, case_id)
    master = FieldCipher([TEST_KEY])
    for value, plaintext in zip(raw, (NAME, EMAIL, PHONE, NOTES), strict=True):
        assert plaintext not in value
        inner = master.decrypt(value)  # the master key alone opens only the outer layer
        assert inner.startswith(TEXT_PREFIX) and plaintext not in inner
        assert plaintext not in base64.b64decode(inner[len(TEXT_PREFIX) :]).decode("latin-1")
    body = client.get(f"/api/v1/cases/{case_id}", headers=people.auth("alice")).json()
    assert body["contact"] == {"name": NAME, "email": EMAIL, "phone": PHONE}
    assert body["notes"] == NOTES
    # An update seals the new values too.
    changed = client.patch(
        f"/api/v1/cases/{case_id}",
        json={"notes": "Fake later note", "contact": {"name": "Fake Other"}},
        headers=people.auth("alice"),
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["contact"] == {"name": "Fake Other", "email": None, "phone": None}
    notes = _raw_contact(db, case_id)[3]
    assert master.decrypt(notes).startswith(TEXT_PREFIX)


def test_destroying_the_key_erases_contact_and_notes_but_keeps_the_case(client, people, db):
    case_id = new_case(client, people, contact={"name": NAME, "email": EMAIL}, notes=NOTES)
    added = client.post(
        f"/api/v1/cases/{case_id}/reports",
        json={"urls": ["https://x.com/fakeuser/status/4242"]},
        headers=people.auth("alice"),
    )
    assert added.status_code == 200, added.text
    with db.transaction() as session:
        assert destroy_case_key(session=session, case_id=case_id) is True
    with db.transaction() as session:
        assert destroy_case_key(session=session, case_id=case_id) is False  # once only
        row = session.exec(CaseKey.__table__.select()).one()  # type: ignore[attr-defined]
        assert row.wrapped_key is None and row.destroyed_at is not None
        with pytest.raises(CaseKeyDestroyed):
            case_cipher(session=session, case_id=case_id)
        case = session.get(Case, case_id)
        assert contact_of(session=session, case=case) is None
        assert notes_of(session=session, case=case) is None
    body = client.get(f"/api/v1/cases/{case_id}", headers=people.auth("alice")).json()
    assert body["contact"] is None and body["notes"] is None
    assert (body["label"], body["report_count"], body["status"]) == ("Case FAKE-001", 1, "open")
    # New contact details cannot be stored for an erased case.
    refused = client.patch(
        f"/api/v1/cases/{case_id}", json={"notes": "Fake"}, headers=people.auth("alice")
    )
    assert refused.status_code == 409
    assert refused.json()["detail"][0]["type"] == "case.key_destroyed"


def test_a_case_without_a_key_can_be_erased_and_never_gets_one(client, people, db):
    case_id = new_case(client, people)  # no contact, no notes: no key made
    with db.transaction() as session:
        assert session.exec(CaseKey.__table__.select()).all() == []  # type: ignore[attr-defined]
        assert destroy_case_key(session=session, case_id=case_id) is True
    with db.transaction() as session, pytest.raises(CaseKeyDestroyed):
        case_cipher(session=session, case_id=case_id)


def test_values_written_before_sealing_read_as_they_are(client, people, db):
    case_id = new_case(client, people)
    with db.transaction() as session:
        case = session.get(Case, case_id)
        case.contact_name = NAME  # as rows written before per-case keys hold it
        case.notes = NOTES
        session.add(case)
    with db.session() as session:
        case = session.get(Case, case_id)
        assert contact_of(session=session, case=case).name == NAME
        assert notes_of(session=session, case=case) == NOTES
