"""Organisations, users with roles, and hashed API keys."""

import enum
from datetime import datetime

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from tracker.db import EncryptedText, UTCDateTime, utcnow


class Role(enum.StrEnum):
    """What a user may see and do inside their organisation."""

    CASEWORKER = "caseworker"  # the cases assigned to them
    SUPERVISOR = "supervisor"  # every case of the organisation
    DASHBOARD = "dashboard"  # aggregate figures only, never case data
    ADMIN = "admin"  # supervisor rights plus user management
    METRICS = "metrics"  # /readyz detail and /metrics of the organisation (and /me), nothing else


class Organisation(SQLModel, table=True):
    __tablename__ = "organisations"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    contact_email: str = Field(max_length=320)
    webhook_url: str | None = Field(default=None, max_length=2048)
    webhook_secret: str | None = Field(default=None, sa_type=EncryptedText)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class User(SQLModel, table=True):
    """A person or a machine of one organisation.

    Deactivation is immediate: authentication checks ``is_active`` on every request (nothing
    is cached), and it also sets ``sessions_valid_after`` so that any password session opened
    before that moment (the console's signed cookies) is refused on its next request.
    """

    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisations.id", index=True)
    display_name: str = Field(max_length=200)
    role: Role = Field(sa_type=String(16))
    is_active: bool = True
    notification_email: str | None = Field(default=None, max_length=320)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    deactivated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # A session (console cookie) issued at or before this time is invalid; None: no cut-off.
    sessions_valid_after: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Console sign-in (people only; machines use API keys). None: this user cannot sign in.
    login: str | None = Field(default=None, max_length=64, unique=True)
    password_hash: str | None = Field(default=None, max_length=200)  # argon2id
    password_must_change: bool = False  # a one-time password was set for them
    totp_secret: str | None = Field(default=None, sa_type=EncryptedText)  # second factor, on
    totp_last_step: int | None = None  # the last accepted TOTP time step (no code twice)
    language: str = Field(default="en", max_length=16)  # the console's language for them


class ApiKey(SQLModel, table=True):
    """An API key; only its SHA-256 is stored, the key itself is shown once."""

    __tablename__ = "api_keys"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    prefix: str = Field(max_length=16)
    key_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ConsoleSession(SQLModel, table=True):
    """A person signed in to the console; the cookie carries the token, only its hash is here.

    Valid while not ended, not idle longer than the idle limit, younger than the absolute
    limit, and created after the user's ``sessions_valid_after``.
    """

    __tablename__ = "console_sessions"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    # False between the password and the second factor: such a session opens no page.
    second_factor_passed: bool = False
    # A TOTP secret being enrolled, kept until the user proves a code from it.
    pending_totp_secret: str | None = Field(default=None, sa_type=EncryptedText)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
