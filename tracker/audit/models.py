"""Audit events: who did what to which object, when. Append-only; never holds victim identity."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from tracker.db import UTCDateTime, utcnow


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_events"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int | None = Field(default=None, foreign_key="organisations.id", index=True)
    actor: str = Field(max_length=64)  # "user:<id>" or "worker" or "system"
    action: str = Field(max_length=64)
    object_type: str = Field(max_length=32)
    object_id: int | None = None
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
