"""Per-case data keys (envelope encryption): each case's random AES-256 key, wrapped by the master
key, seals its contact details, notes and evidence; destroying it erases them everywhere.

Text is sealed as ``ck1:`` + base64(nonce + AES-GCM ciphertext). Streams are sealed in chunks
so a file is never held whole in memory: a header (``TCK1`` + a random 8-byte nonce prefix),
then 64 KiB chunks, each sealed under nonce = prefix + 4-byte counter with the counter and a
final-chunk flag as associated data, so truncation, reordering and tampering fail.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable, Iterator
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from tracker.db import EncryptedText, UTCDateTime, utcnow
from tracker.errors import Conflict, Problem

TEXT_PREFIX = "ck1:"
STREAM_MAGIC = b"TCK1"
NONCE_PREFIX_BYTES = 8
HEADER_BYTES = len(STREAM_MAGIC) + NONCE_PREFIX_BYTES
CHUNK_BYTES = 64 * 1024
TAG_BYTES = 16
SEALED_CHUNK_BYTES = CHUNK_BYTES + TAG_BYTES
MAX_CHUNKS = 2**32


class CaseKey(SQLModel, table=True):
    __tablename__ = "case_keys"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", unique=True)
    # The case's key (base64), encrypted by the master key; NULL once destroyed.
    wrapped_key: str | None = Field(default=None, sa_type=EncryptedText)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    destroyed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class CaseKeyDestroyed(Conflict):
    """The case's data key was destroyed (consent withdrawn): its sealed data is gone."""

    def __init__(self) -> None:
        super().__init__(
            [
                Problem(
                    loc=("path", "case_id"),
                    msg="this case's data was erased (its key was destroyed)",
                    type="case.key_destroyed",
                )
            ]
        )


class SealedDataInvalid(ValueError):
    """Sealed text or a sealed stream failed authentication (tampered, truncated, reordered)."""


def _chunk_nonce(prefix: bytes, counter: int) -> bytes:
    return prefix + counter.to_bytes(4, "big")


def _chunk_aad(counter: int, *, is_final: bool) -> bytes:
    return counter.to_bytes(4, "big") + (b"\x01" if is_final else b"\x00")


class CaseCipher:
    """Seals and opens one case's text and streams with its AES-256-GCM key."""

    def __init__(self, key: bytes, case_id: int) -> None:
        self._aead = AESGCM(key)
        # Binds sealed text to its case: a value copied into another case does not open.
        self._text_aad = f"tracker-case-{case_id}".encode()

    def encrypt_text(self, plaintext: str) -> str:
        """Seal one text value."""
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), self._text_aad)
        return TEXT_PREFIX + base64.b64encode(nonce + sealed).decode("ascii")

    def decrypt_text(self, value: str) -> str:
        """Open a sealed value; a value without the ``ck1:`` prefix (written before) as is."""
        if not value.startswith(TEXT_PREFIX):
            return value
        try:
            raw = base64.b64decode(value[len(TEXT_PREFIX) :], validate=True)
            return self._aead.decrypt(raw[:12], raw[12:], self._text_aad).decode()
        except (ValueError, InvalidTag) as error:
            raise SealedDataInvalid("sealed text cannot be opened with this case's key") from error

    def encrypt_chunks(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """Seal a stream of any-sized pieces into the chunked format, piece by piece."""
        prefix = os.urandom(NONCE_PREFIX_BYTES)
        yield STREAM_MAGIC + prefix
        buffer = bytearray()
        counter = 0
        for piece in chunks:
            buffer += piece
            while len(buffer) > CHUNK_BYTES:
                yield self._seal_chunk(prefix, counter, bytes(buffer[:CHUNK_BYTES]), False)
                del buffer[:CHUNK_BYTES]
                counter += 1
        yield self._seal_chunk(prefix, counter, bytes(buffer), True)

    def _seal_chunk(self, prefix: bytes, counter: int, plain: bytes, is_final: bool) -> bytes:
        if counter >= MAX_CHUNKS:
            raise ValueError("stream too long for one case key nonce prefix")
        aad = _chunk_aad(counter, is_final=is_final)
        return self._aead.encrypt(_chunk_nonce(prefix, counter), plain, aad)

    def decrypt_chunks(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """Open a sealed stream piece by piece; raises SealedDataInvalid on any tampering."""
        buffer = bytearray()
        prefix: bytes | None = None
        counter = 0
        for piece in chunks:
            buffer += piece
            if prefix is None:
                if len(buffer) < HEADER_BYTES:
                    continue
                if bytes(buffer[: len(STREAM_MAGIC)]) != STREAM_MAGIC:
                    raise SealedDataInvalid("not a sealed stream")
                prefix = bytes(buffer[len(STREAM_MAGIC) : HEADER_BYTES])
                del buffer[:HEADER_BYTES]
            while len(buffer) > SEALED_CHUNK_BYTES:
                yield self._open_chunk(prefix, counter, bytes(buffer[:SEALED_CHUNK_BYTES]), False)
                del buffer[:SEALED_CHUNK_BYTES]
                counter += 1
        if prefix is None or len(buffer) < TAG_BYTES:
            raise SealedDataInvalid("sealed stream is truncated")
        yield self._open_chunk(prefix, counter, bytes(buffer), True)

    def _open_chunk(self, prefix: bytes, counter: int, sealed: bytes, is_final: bool) -> bytes:
        aad = _chunk_aad(counter, is_final=is_final)
        try:
            return self._aead.decrypt(_chunk_nonce(prefix, counter), sealed, aad)
        except InvalidTag as error:
            raise SealedDataInvalid("sealed stream was altered or truncated") from error


def _key_row(session: Session, case_id: int) -> CaseKey | None:
    return session.exec(select(CaseKey).where(CaseKey.case_id == case_id)).first()


def _cipher_of(row: CaseKey, case_id: int) -> CaseCipher:
    if row.destroyed_at is not None or row.wrapped_key is None:
        raise CaseKeyDestroyed()
    return CaseCipher(base64.b64decode(row.wrapped_key), case_id)


def case_cipher(*, session: Session, case_id: int) -> CaseCipher:
    """The case's cipher, creating its data key on first use; CaseKeyDestroyed once destroyed."""
    row = _key_row(session, case_id)
    if row is None:
        fresh = CaseKey(
            case_id=case_id,
            wrapped_key=base64.b64encode(AESGCM.generate_key(bit_length=256)).decode("ascii"),
        )
        try:
            with session.begin_nested():
                session.add(fresh)
                session.flush()
            row = fresh
        except IntegrityError:  # another transaction created it first: use theirs
            row = _key_row(session, case_id)
            assert row is not None
    return _cipher_of(row, case_id)


def existing_case_cipher(*, session: Session, case_id: int) -> CaseCipher | None:
    """The case's cipher if it has a key (None if none was made yet); CaseKeyDestroyed once
    destroyed. For readers, which never create a key."""
    row = _key_row(session, case_id)
    return None if row is None else _cipher_of(row, case_id)


def seal_text(*, session: Session, case_id: int, value: str | None) -> str | None:
    """A value sealed with the case's key (None stays None)."""
    if value is None:
        return None
    return case_cipher(session=session, case_id=case_id).encrypt_text(value)


def open_text(*, session: Session, case_id: int, value: str | None) -> str | None:
    """The plaintext of a stored value: None once the case's key is destroyed; a value written
    before sealing existed (no ``ck1:`` prefix) as is."""
    if value is None or not value.startswith(TEXT_PREFIX):
        return value
    try:
        cipher = existing_case_cipher(session=session, case_id=case_id)
    except CaseKeyDestroyed:
        return None
    return None if cipher is None else cipher.decrypt_text(value)


def is_case_key_destroyed(*, session: Session, case_id: int) -> bool:
    """Whether the case's data key was destroyed."""
    row = _key_row(session, case_id)
    return row is not None and row.destroyed_at is not None


def destroy_case_key(*, session: Session, case_id: int) -> bool:
    """Destroy the case's data key (compare-and-set); True if this call destroyed it."""
    now = utcnow()
    result = session.execute(
        update(CaseKey)
        .where(col(CaseKey.case_id) == case_id, col(CaseKey.destroyed_at).is_(None))
        .values(wrapped_key=None, destroyed_at=now)
    )
    if result.rowcount == 1:  # type: ignore[attr-defined]
        return True
    if _key_row(session, case_id) is not None:
        return False
    try:  # no key was ever made: record one that is destroyed already, so none ever will be
        with session.begin_nested():
            session.add(CaseKey(case_id=case_id, wrapped_key=None, destroyed_at=now))
            session.flush()
    except IntegrityError:
        return False
    return True
