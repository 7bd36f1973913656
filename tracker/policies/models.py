"""The record of each policy version the tracker has applied (the files are the source)."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Date, UniqueConstraint
from sqlmodel import Field, SQLModel

from tracker.db import UTCDateTime, utcnow


class PolicyVersion(SQLModel, table=True):
    __tablename__ = "policy_versions"
    __table_args__ = (UniqueConstraint("policy_id", "version", name="uq_policy_versions"),)

    id: int | None = Field(default=None, primary_key=True)
    policy_id: str = Field(max_length=64)
    version: int
    jurisdiction: str = Field(max_length=16, index=True)
    title: str = Field(max_length=200)
    effective_from: date = Field(sa_type=Date)
    source: str = Field(max_length=500)
    document: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    loaded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
