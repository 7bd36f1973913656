"""A status link: one victim-facing link (stored as a hash) and its PIN (argon2id)."""

from datetime import datetime

from sqlalchemy import Index, text
from sqlmodel import Field, SQLModel

from tracker.db import UTCDateTime, utcnow

ACTIVE = text("revoked_at IS NULL")


class StatusLink(SQLModel, table=True):
    __tablename__ = "status_links"
    __table_args__ = (
        # One active link per case: a second issue at the same moment fails instead of both
        # staying live.
        Index(
            "uq_status_links_active_case",
            "case_id",
            unique=True,
            sqlite_where=ACTIVE,
            postgresql_where=ACTIVE,
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    # SHA-256 of the random token in the link; the token itself is shown once and never kept.
    token_hash: str = Field(max_length=64, unique=True)
    pin_hash: str = Field(max_length=200)  # argon2id
    language: str = Field(default="en", max_length=16)
    show_platforms: bool = False
    created_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Wrong PINs since the last right one (or since the last lock ended).
    failed_attempts: int = 0
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_opened_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
