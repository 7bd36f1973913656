"""Stored channel credentials: one encrypted JSON document per organisation and adapter."""

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from tracker.db import EncryptedText, UTCDateTime, utcnow


class ChannelCredential(SQLModel, table=True):
    __tablename__ = "channel_credentials"
    __table_args__ = (
        UniqueConstraint("organisation_id", "adapter", name="uq_channel_credentials"),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisations.id", index=True)
    adapter: str = Field(max_length=64)
    # JSON of the adapter's config values, encrypted at rest like victim contact fields.
    values: str = Field(sa_type=EncryptedText)
    updated_by: str = Field(max_length=64)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
