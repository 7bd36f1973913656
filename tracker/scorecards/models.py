"""What scorecards are read from: one outcome row per report, and cells of counts.

- ``ReportOutcome`` is what the scorecards know of one report: its cohort (the day of its first
  filing), where it stands (platform, channel of its latest filing, legal basis and target of
  its rung) and what happened to it (removed, how fast, within the deadline, rejected and why,
  escalated, reappeared, how long it waited on people). Written only by
  ``tracker.scorecards.outcomes`` in the transaction of the event.
- Every change of an outcome appends ``ScorecardDelta`` rows (the old contribution taken away,
  the new one added): writers never wait on a shared row. ``fold_scorecards`` (a scheduler
  sweep) adds them into ``ScorecardCell`` rows per day, ISO week and month; a read adds the
  deltas not folded yet, so figures are exact at the read's snapshot.
- A cell holds its times to removal as a histogram (``removal_counts``: how many per bucket of
  ``tracker.scorecards.buckets``, little-endian 32-bit integers), not as a row per bucket: a
  year's scorecard reads a few thousand cells, not a hundred thousand, and adds their
  histograms up as arrays.
"""

import enum
from datetime import date, datetime

from sqlalchemy import BigInteger, Index, Integer, LargeBinary
from sqlmodel import Field, SQLModel

from tracker.db import UTCDateTime


class RejectionReason(enum.StrEnum):
    """Why a platform turned a report down, in a few kinds (its own words stay with the
    filing; a scorecard counts only these)."""

    NOT_VIOLATING = "not_violating"  # "does not violate our policies"
    MORE_INFORMATION = "more_information"  # asked for more than the report gave
    NOT_FOUND = "not_found"  # could not find the content
    REFUSED = "refused"  # the submission itself was refused
    OTHER = "other"


class Grain(enum.StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


#: The counters a cell, a delta and an outcome's contribution have, in this order.
COUNTERS = (
    "filed",
    "removed",
    "removed_in_time",
    *(f"rejected_{reason}" for reason in RejectionReason),
    "reappeared",
    "escalated",
    "waiting_manual_seconds",
    "paused_seconds",
)
#: The columns naming a cell (besides organisation, grain and period).
DIMENSIONS = ("platform", "channel", "legal_basis", "rung")


class _Counters(SQLModel):
    filed: int = 0
    removed: int = 0
    removed_in_time: int = 0
    rejected_not_violating: int = 0
    rejected_more_information: int = 0
    rejected_not_found: int = 0
    rejected_refused: int = 0
    rejected_other: int = 0
    reappeared: int = 0
    escalated: int = 0
    waiting_manual_seconds: int = Field(default=0, sa_type=BigInteger)
    paused_seconds: int = Field(default=0, sa_type=BigInteger)


class ReportOutcome(SQLModel, table=True):
    """What the scorecards know of one report (see the module's docstring)."""

    __tablename__ = "report_outcomes"

    report_id: int = Field(primary_key=True, foreign_key="reports.id")
    organisation_id: int = Field(index=True)
    platform: str = Field(max_length=64)
    channel: str = Field(default="", max_length=16)
    legal_basis: str = Field(default="", max_length=255)
    rung: str = Field(default="", max_length=32)
    # The cohort: the first filing; NULL until the report is filed (it counts nowhere yet).
    first_filed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    removed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    removal_bucket: int = -1
    removed_in_time: bool = False
    rejected_reason: str | None = Field(default=None, max_length=24)
    reappeared: bool = False
    escalated: bool = False
    waiting_manual_seconds: int = Field(default=0, sa_type=BigInteger)
    paused_seconds: int = Field(default=0, sa_type=BigInteger)
    # A wait on people under way: since when, and which kind (awaiting_manual or paused).
    waiting_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    waiting_state: str | None = Field(default=None, max_length=24)


class ScorecardCell(_Counters, table=True):
    """The counts of one organisation's reports filed in one period, in one cell."""

    __tablename__ = "scorecard_cells"

    organisation_id: int = Field(primary_key=True)
    grain: str = Field(primary_key=True, max_length=8)
    period_start: date = Field(primary_key=True)
    platform: str = Field(primary_key=True, max_length=64)
    channel: str = Field(primary_key=True, max_length=16)
    legal_basis: str = Field(primary_key=True, max_length=255)
    rung: str = Field(primary_key=True, max_length=32)
    removal_counts: bytes = Field(default=b"", sa_type=LargeBinary)


class ScorecardDelta(_Counters, table=True):
    """A change to the cells not folded in yet; append-only until folded."""

    __tablename__ = "scorecard_deltas"
    __table_args__ = (Index("ix_scorecard_deltas_org_day", "organisation_id", "day"),)

    id: int | None = Field(
        default=None, primary_key=True, sa_type=BigInteger().with_variant(Integer(), "sqlite")
    )
    organisation_id: int
    day: date
    week_start: date
    month_start: date
    platform: str = Field(max_length=64)
    channel: str = Field(max_length=16)
    legal_basis: str = Field(max_length=255)
    rung: str = Field(max_length=32)
    removal_bucket: int
