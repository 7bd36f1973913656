"""Evidence: one uploaded file or capture record of a case (or of one of its reports)."""

import enum
from datetime import datetime

from sqlalchemy import LargeBinary, String
from sqlmodel import Field, SQLModel

from tracker.db import EncryptedText, UTCDateTime, utcnow


class EvidenceKind(enum.StrEnum):
    UPLOAD = "upload"
    CAPTURE = "capture"


class Evidence(SQLModel, table=True):
    __tablename__ = "evidence"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    report_id: int | None = Field(default=None, foreign_key="reports.id", index=True)
    kind: EvidenceKind = Field(sa_type=String(16))
    # Sniffed from the content's first bytes, never taken from the client.
    media_type: str = Field(max_length=100)
    size_bytes: int
    # SHA-256 of the plaintext content (what a court compares), hex.
    sha256: str = Field(max_length=64)
    captured_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    captured_by: str = Field(max_length=120)
    # Sealed with the case's key inside the master-key column; None once the key is destroyed.
    description: str | None = Field(default=None, sa_type=EncryptedText)
    # Where the sealed bytes are: the store's name and a random object name (never the
    # upload's file name). Both stay after a purge, the object is gone.
    store: str = Field(max_length=16)
    storage_key: str = Field(max_length=64, unique=True)
    purged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # A capture record's sealed bytes, kept in its row (store "database"); None for files in a
    # store, and once purged.
    sealed_record: bytes | None = Field(default=None, sa_type=LargeBinary)
