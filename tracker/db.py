"""Database engine, sessions and the column types the domain relies on.

Times are stored as UTC and always come back timezone-aware. Encrypted text columns are
encrypted before they reach the database and decrypted on the way out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Engine, Text, create_engine, event, exc
from sqlalchemy.engine import Dialect
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session

from tracker.crypto import FieldCipher

#: Where the time comes from: the system clock, or a clock set by ``set_clock`` (tests that
#: drive reports through their lives at known times, demo data dated in the past).
_clock: Callable[[], datetime] | None = None


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (the tracker's clock)."""
    return _clock() if _clock is not None else datetime.now(UTC)


def set_clock(clock: Callable[[], datetime] | None) -> None:
    """Make ``utcnow`` read ``clock`` (aware UTC datetimes); None returns to the system clock."""
    global _clock  # noqa: PLW0603 - one clock per process, by design
    _clock = clock


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC; refuses naive datetimes and returns aware ones."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where timezone-aware UTC is required")
        value = value.astimezone(UTC)
        # SQLite has no time zones: store naive UTC so string comparison orders correctly.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class _CipherHolder:
    """The process's field cipher, installed once at start-up by ``configure_cipher``."""

    cipher: FieldCipher | None = None


def configure_cipher(cipher: FieldCipher) -> None:
    """Install the cipher that encrypted columns use."""
    _CipherHolder.cipher = cipher


def _cipher() -> FieldCipher:
    if _CipherHolder.cipher is None:
        raise RuntimeError("encryption is not configured; call configure_cipher at start-up")
    return _CipherHolder.cipher


def derived_key(purpose: str) -> bytes:
    """A key for one purpose derived from the process's newest encryption key."""
    return _cipher().derive_key(purpose)


class EncryptedText(TypeDecorator[str]):
    """Text encrypted at rest with the configured Fernet keys."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else _cipher().encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else _cipher().decrypt(value)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the API read while a worker thread writes; busy_timeout waits instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for SQLite (embedded) or PostgreSQL, configured for this application."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 15},
            poolclass=NullPool,
            hide_parameters=True,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # hide_parameters: a database error never carries a label or ciphertext into a log.
    engine = create_engine(
        url,
        pool_size=10,
        max_overflow=10,
        pool_recycle=1800,
        hide_parameters=True,
    )
    event.listen(engine.pool, "checkin", _note_checkin)
    event.listen(engine.pool, "checkout", _ping_if_idle)
    return engine


#: A pooled connection idle for longer than this is pinged before use (a PostgreSQL restart
#: leaves dead ones behind); one used again sooner is not, so a busy worker pays no round trip.
PING_AFTER_IDLE_SECONDS = 1.0


def _note_checkin(_dbapi_connection: Any, record: Any) -> None:
    record.info["checked_in_at"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """SQLAlchemy's pre-ping, only for connections that sat idle: a dead one is replaced."""
    idle_since = record.info.get("checked_in_at")
    if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
        return
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
        # The ping opened a transaction (the driver begins one at the first statement): end it,
        # so the session starts its own, and can still choose its isolation level.
        dbapi_connection.rollback()
    except Exception as error:
        # The pool discards this connection and checks out a fresh one.
        raise exc.DisconnectionError() from error


class Database:
    """An engine and the way to open sessions on it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def session(self) -> Session:
        """A new session; the caller commits."""
        return Session(self.engine, expire_on_commit=False)

    @contextmanager
    def transaction(self, *, immediate: bool = False) -> Iterator[Session]:
        """A session that commits on success and rolls back on error.

        ``immediate``: a writer that reads first and then writes what it read (a batch of
        checks). On SQLite the transaction starts with ``BEGIN IMMEDIATE``, taking the write
        lock before the first read, so nothing can change between the read and the write and
        the wait for the lock honours ``busy_timeout`` (a deferred transaction that read first
        fails at once with "database is locked" when another writer committed meanwhile).
        PostgreSQL callers lock the rows they read (``FOR UPDATE``) instead.
        """
        session = self.session()
        try:
            if immediate and not self.is_postgresql:
                session.connection().exec_driver_sql("BEGIN IMMEDIATE")
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
