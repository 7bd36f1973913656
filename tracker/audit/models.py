"""Audit events: who did what to which object, when. Append-only and hash-chained; never holds
victim identity.

Every event is one link of a single chain over the whole table (not one per organisation): one
chain is one thing to verify, and a deleted or reordered event anywhere breaks it. Listing is
per organisation; verifying the whole chain is an admin's and operator's check.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from tracker.db import UTCDateTime, utcnow

#: The previous hash of the first link.
GENESIS_HASH = "0" * 64


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
    # The chain: 1, 2, 3... without gaps; ``hash`` covers this link and ``prev_hash``.
    sequence: int = Field(unique=True)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditChainHead(SQLModel, table=True):
    """The chain's last link (one row, id 1): the tail to append to, and the row whose update
    serialises appends on SQLite."""

    __tablename__ = "audit_chain_head"

    id: int = Field(default=1, primary_key=True)
    last_sequence: int = 0
    last_hash: str = Field(default=GENESIS_HASH, max_length=64)
