"""A case: one victim's matter, with encrypted contact details."""

import enum
from datetime import datetime

from sqlalchemy import JSON, Column, String
from sqlmodel import Field, SQLModel

from tracker.db import EncryptedText, UTCDateTime, utcnow


class CaseStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Case(SQLModel, table=True):
    __tablename__ = "cases"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisations.id", index=True)
    # A pseudonymous label chosen by the caseworker; never the victim's name.
    label: str = Field(max_length=120)
    jurisdictions: list[str] = Field(sa_column=Column(JSON, nullable=False))
    status: CaseStatus = Field(default=CaseStatus.OPEN, sa_type=String(16))
    assigned_to: int | None = Field(default=None, foreign_key="users.id", index=True)
    authority_to_act: bool = False
    consent_to_share_identity: bool = False
    minor_involved: bool = False
    # Whether the bundle for police, NCRP and court may be exported (tracker/exports).
    exports_allowed: bool = True
    contact_name: str | None = Field(default=None, sa_type=EncryptedText)
    contact_email: str | None = Field(default=None, sa_type=EncryptedText)
    contact_phone: str | None = Field(default=None, sa_type=EncryptedText)
    notes: str | None = Field(default=None, sa_type=EncryptedText)
    created_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # When the case was last closed (evidence retention counts from it); None while open.
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # When the person withdrew consent: everything identifying was erased then.
    withdrawn_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
