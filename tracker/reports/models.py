"""A report: one leaked URL inside a case, and the record of its state transitions."""

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from tracker.db import UTCDateTime, utcnow
from tracker.reports.lifecycle import ON_THE_CLOCK, ReportState

#: The partial-index predicate of "on the clock", with the states as literals: a query must
#: name them the same way for PostgreSQL and SQLite to use the index (a bound parameter would
#: not prove the predicate).
ON_THE_CLOCK_SQL = "state IN ({})".format(", ".join(f"'{state}'" for state in sorted(ON_THE_CLOCK)))


class Report(SQLModel, table=True):
    __tablename__ = "reports"
    __table_args__ = (
        UniqueConstraint("case_id", "canonical_url", name="uq_reports_case_canonical_url"),
        # "What is due" and "what is overdue" read these; rows off the clock hold NULL.
        Index("ix_reports_next_check_at", "next_check_at"),
        Index("ix_reports_deadline_at", "deadline_at"),
        # Listings are newest first: each filter's index ends with the id, so a page is read
        # in order from the index instead of sorting every matching row.
        Index("ix_reports_org_state_id", "organisation_id", "state", "id"),
        Index("ix_reports_org_platform_id", "organisation_id", "platform", "id"),
        Index("ix_reports_case_id_id", "case_id", "id"),
        # Overdue and due soon, counted from the index alone: only rows on the clock are in
        # it, so the re-check updates of every other row never touch it.
        Index(
            "ix_reports_on_clock",
            "organisation_id",
            "deadline_at",
            postgresql_include=["case_id", "state", "platform", "id"],
            postgresql_where=text(ON_THE_CLOCK_SQL),
            sqlite_where=text(ON_THE_CLOCK_SQL),
        ),
        # A case holds an overdue report when its first entry here is past: one probe a case.
        Index(
            "ix_reports_case_on_clock",
            "case_id",
            "deadline_at",
            postgresql_where=text(ON_THE_CLOCK_SQL),
            sqlite_where=text(ON_THE_CLOCK_SQL),
        ),
        Index("ix_reports_warn_at", "warn_at"),
        Index("ix_reports_remind_at", "remind_at"),
        Index("ix_reports_parallel_due_at", "parallel_due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id")
    organisation_id: int = Field(foreign_key="organisations.id")
    original_url: str = Field(max_length=4096)
    canonical_url: str = Field(max_length=4096)
    host: str = Field(max_length=255)
    platform: str = Field(max_length=64)
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


class OrganisationReportCount(SQLModel, table=True):
    """How many reports of an organisation are in one state on one platform.

    Kept by database triggers on ``reports`` (tracker/reports/rollups.py), never by the code
    that writes reports: on SQLite directly, on PostgreSQL through ``ReportCountDelta`` rows
    folded in periodically. Read it only through ``tracker.reports.rollups``.
    """

    __tablename__ = "organisation_report_counts"

    organisation_id: int = Field(primary_key=True)
    state: str = Field(primary_key=True, max_length=24)
    platform: str = Field(primary_key=True, max_length=64)
    report_count: int = 0


class CaseReportCount(SQLModel, table=True):
    """How many reports of a case are in one state on one platform (kept like the above)."""

    __tablename__ = "case_report_counts"
    __table_args__ = (
        # "Which cases hold a report in this state / of this platform" for a whole organisation.
        Index(
            "ix_case_report_counts_org_state",
            "organisation_id",
            "state",
            "case_id",
            postgresql_include=["report_count"],
        ),
        Index(
            "ix_case_report_counts_org_platform",
            "organisation_id",
            "platform",
            "case_id",
            postgresql_include=["report_count"],
        ),
    )

    case_id: int = Field(primary_key=True)
    state: str = Field(primary_key=True, max_length=24)
    platform: str = Field(primary_key=True, max_length=64)
    organisation_id: int
    report_count: int = 0


class ReportCountDelta(SQLModel, table=True):
    """A change to the counts not folded in yet (PostgreSQL): appended by the triggers of a
    write, so concurrent writers never wait on a shared counter row; append-only until folded."""

    __tablename__ = "report_count_deltas"

    id: int | None = Field(
        default=None, primary_key=True, sa_type=BigInteger().with_variant(Integer(), "sqlite")
    )
    organisation_id: int = Field(index=True)
    case_id: int = Field(index=True)
    state: str = Field(max_length=24)
    platform: str = Field(max_length=64)
    delta: int
