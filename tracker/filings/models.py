"""A filing: one submission of a report to one channel at one rung, with every attempt."""

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from tracker.db import UTCDateTime, utcnow


class FilingStatus(enum.StrEnum):
    PENDING = "pending"  # waiting to be (re)tried at next_attempt_at
    SUBMITTING = "submitting"  # a worker holds it until lease_until
    AWAITING_MANUAL = "awaiting_manual"  # packet ready; a caseworker submits and confirms
    SUBMITTED = "submitted"
    ACKNOWLEDGED = "acknowledged"
    REMOVED = "removed"  # the platform says so; re-checks still confirm
    REJECTED = "rejected"
    FAILED = "failed"  # permanent error, credentials error or attempts exhausted
    SUPERSEDED = "superseded"  # the report moved on to another rung
    WITHDRAWN = "withdrawn"  # the affected person withdrew consent before it ended


OPEN_FILING_STATUSES = (
    FilingStatus.PENDING,
    FilingStatus.SUBMITTING,
    FilingStatus.AWAITING_MANUAL,
    FilingStatus.SUBMITTED,
    FilingStatus.ACKNOWLEDGED,
)


class FilingTrack(enum.StrEnum):
    """Which track a filing belongs to."""

    LADDER = "ladder"  # the report's current rung
    PARALLEL = "parallel"  # a track run alongside, e.g. search delisting


class AttemptOutcome(enum.StrEnum):
    SUCCEEDED = "succeeded"
    TRANSIENT_ERROR = "transient_error"
    PERMANENT_ERROR = "permanent_error"
    CREDENTIALS_ERROR = "credentials_error"


class Filing(SQLModel, table=True):
    __tablename__ = "filings"
    __table_args__ = (
        UniqueConstraint("adapter", "external_ref", name="uq_filings_adapter_external_ref"),
        Index("ix_filings_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_filings_next_poll_at", "next_poll_at"),
        # The case search finds a platform's reference without reading every filing.
        Index("ix_filings_external_ref", "external_ref"),
    )

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="reports.id", index=True)
    organisation_id: int = Field(foreign_key="organisations.id", index=True)
    rung_index: int
    rung_target: str = Field(max_length=32)
    # "ladder": the report's current rung; "parallel": a track run alongside (search delisting).
    track: str = Field(default="ladder", max_length=16)
    adapter: str = Field(max_length=64)
    channel_kind: str = Field(max_length=16)
    status: FilingStatus = Field(default=FilingStatus.PENDING, sa_type=String(24))
    idempotency_key: str = Field(max_length=64, unique=True)
    external_ref: str | None = Field(default=None, max_length=255)
    channel_params: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    packet: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    deadline_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    submitted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    confirmed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    next_poll_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    poll_lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    attempt_count: int = 0
    last_error: str | None = Field(default=None, max_length=500)
    platform_status: str | None = Field(default=None, max_length=24)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Consent withdrawn: telling the channel (tracker/cases/withdrawal.py). None: not asked.
    withdrawal_notice: str | None = Field(default=None, max_length=16)
    withdrawal_attempts: int = 0
    withdrawal_next_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)


class WithdrawalNotice(enum.StrEnum):
    """Where telling a channel about a withdrawal stands."""

    DUE = "due"
    SENDING = "sending"  # a worker holds it until withdrawal_next_at
    SENT = "sent"
    FAILED = "failed"


class FilingAttempt(SQLModel, table=True):
    """One try at submitting a filing; append-only."""

    __tablename__ = "filing_attempts"

    id: int | None = Field(default=None, primary_key=True)
    filing_id: int = Field(foreign_key="filings.id", index=True)
    started_at: datetime = Field(sa_type=UTCDateTime)
    finished_at: datetime = Field(sa_type=UTCDateTime)
    outcome: AttemptOutcome = Field(sa_type=String(24))
    http_status: int | None = None
    error: str | None = Field(default=None, max_length=500)
