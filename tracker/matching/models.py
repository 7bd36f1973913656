"""Hash banks, the media a report serves or links, and the matches between them.

None of these tables holds media: a bank entry is a hash and a label; a media item is a URL, its
last state and its hashes; a match names a report, a bank entry and how close they were.
"""

from datetime import datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from tracker.db import EncryptedText, UTCDateTime, utcnow

UNACKNOWLEDGED = text("acknowledged_at IS NULL AND cross_case")


class BankEntry(SQLModel, table=True):
    """One hash of a victim's content in a case's bank."""

    __tablename__ = "hash_bank_entries"
    __table_args__ = (UniqueConstraint("case_id", "signal_type", "digest"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisations.id", index=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    signal_type: str = Field(max_length=16)
    # The canonical signal text (64 hex digits for PDQ; a JSON list of frames for vPDQ).
    value: str = Field(sa_column=Column(Text, nullable=False))
    # SHA-256 of the value: what makes an entry unique in its case (a vPDQ can be long).
    digest: str = Field(max_length=64)
    quality: int | None = None  # PDQ quality 0-100 where known
    frame_count: int | None = None  # vPDQ frames
    # The caseworker's words for it ("photo 2 of the set"), encrypted like case notes.
    label: str | None = Field(default=None, sa_type=EncryptedText)
    source: str = Field(max_length=16)  # upload | pasted | imported
    created_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MediaItem(SQLModel, table=True):
    """An image or video a report's URL serves (``page``) or its page links (``linked``)."""

    __tablename__ = "media_items"
    __table_args__ = (UniqueConstraint("report_id", "url"),)

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="reports.id", index=True)
    url: str = Field(max_length=4096)
    role: str = Field(max_length=8)  # page | linked
    kind: str | None = Field(default=None, max_length=8)  # image | video, once seen
    discovered_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_checked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_verdict: str | None = Field(default=None, max_length=24)
    validator: str | None = Field(default=None, max_length=200)
    hashed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    md5: str | None = Field(default=None, max_length=32)
    sha256: str | None = Field(default=None, max_length=64)
    pdq: str | None = Field(default=None, max_length=64)
    pdq_quality: int | None = None
    pdq_mirror: str | None = Field(default=None, max_length=64)
    vpdq: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # The hashes are of a prefix (byte limit) or of the first part of a video (time limit).
    truncated: bool = False


class ContentMatch(SQLModel, table=True):
    """A report's content matched a bank entry (of its own case, or of another: a re-upload)."""

    __tablename__ = "content_matches"
    __table_args__ = (
        UniqueConstraint("report_id", "bank_entry_id"),
        Index(
            "ix_content_matches_open_alerts",
            "organisation_id",
            sqlite_where=UNACKNOWLEDGED,
            postgresql_where=UNACKNOWLEDGED,
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisations.id")
    report_id: int = Field(foreign_key="reports.id", index=True)
    case_id: int = Field(foreign_key="cases.id", index=True)  # the report's case
    bank_entry_id: int = Field(foreign_key="hash_bank_entries.id", index=True)
    bank_case_id: int = Field(foreign_key="cases.id", index=True)  # the bank's case
    cross_case: bool = False
    signal_type: str = Field(max_length=16)
    media_item_id: int | None = Field(default=None, foreign_key="media_items.id")
    distance: int | None = None  # PDQ bits; 0 for an exact hash
    share: float | None = None  # vPDQ: the larger of the two frame shares
    first_check_id: int | None = Field(default=None, foreign_key="checks.id")
    last_check_id: int | None = Field(default=None, foreign_key="checks.id")
    first_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    acknowledged_by: int | None = Field(default=None, foreign_key="users.id")
