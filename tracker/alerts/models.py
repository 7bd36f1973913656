"""Alerts: something that keeps failing and needs a person (credentials, a dead channel)."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from tracker.db import UTCDateTime, utcnow


class Alert(SQLModel, table=True):
    __tablename__ = "alerts"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int | None = Field(default=None, foreign_key="organisations.id", index=True)
    kind: str = Field(max_length=64)
    subject: str = Field(max_length=200)  # e.g. "adapter:sandbox", never a victim detail
    message: str = Field(max_length=500)
    raised_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
