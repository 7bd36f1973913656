"""A report: one leaked URL inside a case, and the record of its state transitions."""

from datetime import datetime

from sqlalchemy import Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from tracker.db import UTCDateTime, utcnow
from tracker.reports.lifecycle import ReportState


class Report(SQLModel, table=True):
    __tablename__ = "reports"
    __table_args__ = (
        UniqueConstraint("case_id", "canonical_url", name="uq_reports_case_canonical_url"),
        # "What is due" and "what is overdue" read these; rows off the clock hold NULL.
        Index("ix_reports_next_check_at", "next_check_at"),
        Index("ix_reports_deadline_at", "deadline_at"),
        Index("ix_reports_org_state", "organisation_id", "state"),
        Index("ix_reports_warn_at", "warn_at"),
        Index("ix_reports_remind_at", "remind_at"),
        Index("ix_reports_parallel_due_at", "parallel_due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    organisation_id: int = Field(foreign_key="organisations.id")
    original_url: str = Field(max_length=4096)
    canonical_url: str = Field(max_length=4096)
    host: str = Field(max_length=255)
    platform: str = Field(max_length=64, index=True)
    state: ReportState = Field(default=ReportState.LOGGED, sa_type=String(24))
    policy_version_id: int = Field(foreign_key="policy_versions.id")
    rung_index: int = 0
    deadline_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    next_check_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    check_lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    escalation_lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    consecutive_removed: int = 0
    first_removed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Pause-the-clock: the state to return to and the deadline time left when paused.
    paused_from_state: str | None = Field(default=None, max_length=24)
    pause_reason: str | None = Field(default=None, max_length=32)
    paused_remaining_seconds: float | None = None
    # Why nothing is filed although the report waits for a filing (a ``HoldReason``); cleared
    # when a filing opens.
    hold_reason: str | None = Field(default=None, max_length=32)
    warn_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # pre-breach warning
    remind_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # while stale
    parallel_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    watch_step: int = 0
    last_verdict: str | None = Field(default=None, max_length=24)
    last_checked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ReportTransition(SQLModel, table=True):
    """One state change of a report and its cause; append-only."""

    __tablename__ = "report_transitions"

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="reports.id", index=True)
    from_state: str = Field(max_length=24)
    to_state: str = Field(max_length=24)
    rung_index: int
    cause: str = Field(max_length=500)
    actor: str = Field(max_length=64)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
