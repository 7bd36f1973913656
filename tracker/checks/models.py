"""A check: one re-check of a report's URL. Never holds the fetched content itself."""

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from tracker.db import UTCDateTime, utcnow


class Check(SQLModel, table=True):
    __tablename__ = "checks"
    __table_args__ = (Index("ix_checks_report_checked_at", "report_id", "checked_at"),)

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="reports.id")
    checked_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    http_status: int | None = None
    final_url: str | None = Field(default=None, max_length=4096)
    verdict: str = Field(max_length=24)
    reason: str = Field(max_length=120)
    fingerprint: str | None = Field(default=None, max_length=64)
    latency_ms: int | None = None
    error: str | None = Field(default=None, max_length=500)
    # A check of one of the report's media (its image or video), not of the report's page.
    media_item_id: int | None = Field(default=None, foreign_key="media_items.id", index=True)
    # How many bank hashes the content matched ("still the same content" if the page changed).
    matches: int = 0
