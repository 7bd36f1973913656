"""Alerts: something of one organisation that keeps failing and needs a person."""

from datetime import datetime

from sqlalchemy import Index, text
from sqlmodel import Field, SQLModel

from tracker.db import UTCDateTime, utcnow

OPEN_WHERE = "resolved_at IS NULL"


class Alert(SQLModel, table=True):
    __tablename__ = "alerts"
    __table_args__ = (
        # One open alert per (organisation, kind, subject): two watchdogs cannot open two.
        Index(
            "ux_alerts_open",
            "organisation_id",
            "kind",
            "subject",
            unique=True,
            sqlite_where=text(OPEN_WHERE),
            postgresql_where=text(OPEN_WHERE),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisations.id", index=True)
    kind: str = Field(max_length=64)
    subject: str = Field(max_length=200)  # e.g. "adapter:sandbox", never a victim detail
    message: str = Field(max_length=500)  # generic per kind (tracker/alerts/kinds.py)
    raised_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    acknowledged_by: str | None = Field(default=None, max_length=64)  # an audit actor
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    resolved_by: str | None = Field(default=None, max_length=64)  # "watchdog", "user:7", ...
