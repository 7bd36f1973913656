"""The scorecard's typed answers (the API's, the exports' and the console's)."""

import enum
from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from tracker.scorecards.models import RejectionReason


class Dimension(enum.StrEnum):
    """What a scorecard can be broken down by (each a property of the report's latest
    ladder filing)."""

    PLATFORM = "platform"
    CHANNEL = "channel"
    LEGAL_BASIS = "legal_basis"
    RUNG = "rung"


class Period(enum.StrEnum):
    DAY = "day"
    WEEK = "week"  # ISO weeks, from Monday
    MONTH = "month"


class ScorecardFigures(BaseModel):
    """The measures of one set of reports: those first filed in the period (their cohort).

    Rates are shares in [0, 1], rounded to 4 places; None when their denominator is 0. Times
    to removal are from the report's first filing to its confirmed removal (the second of
    two consecutive ``removed`` checks), read from a histogram: each is the upper edge of its
    bucket (15 minutes apart up to 2 hours, an hour apart up to 48 hours, 6 hours up to a
    week, a day up to 30 days, then a week).
    """

    filed: int = Field(description="Reports first filed in the period")
    removed: int = Field(description="Of those, confirmed removed (ever)")
    removal_rate: float | None = Field(description="removed / filed")
    median_seconds_to_removal: int | None = Field(
        description="Median time from first filing to confirmed removal, in seconds"
    )
    p90_seconds_to_removal: int | None = Field(
        description="90th percentile of the same, in seconds"
    )
    removed_within_deadline: int = Field(
        description="Removed before the legal deadline of the rung in force ran out"
    )
    within_deadline_rate: float | None = Field(description="removed_within_deadline / filed")
    rejected: int = Field(description="Reports a recipient turned down (at least once)")
    rejection_rate: float | None = Field(description="rejected / filed")
    rejections_by_reason: dict[RejectionReason, int] = Field(
        description="Rejected reports by the kind of their latest rejection"
    )
    escalated: int = Field(description="Reports that went past their first rung")
    escalation_rate: float | None = Field(description="escalated / filed")
    escalated_to: dict[str, int] = Field(
        description="Escalated reports by the rung (target) their latest filing went to"
    )
    reappeared: int = Field(description="Removed reports whose content came back")
    reappearance_rate: float | None = Field(description="reappeared / removed")
    waiting_manual_seconds: int = Field(
        description="Time spent waiting for a person to submit a web-form packet (ended waits)"
    )
    paused_seconds: int = Field(description="Time the clock stood paused (ended pauses)")
    mean_seconds_waiting_on_people: float | None = Field(
        description="(waiting_manual_seconds + paused_seconds) / filed"
    )


class ScorecardRow(ScorecardFigures):
    """The figures of one cell of the breakdown (a dimension not broken down by is null)."""

    platform: str | None = None
    channel: str | None = None
    legal_basis: str | None = None
    rung: str | None = None


class Scorecard(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: date = Field(alias="from", description="First day of the period (UTC)")
    to: date = Field(description="Last day of the period (UTC), included")
    group_by: list[Dimension]
    rows: list[ScorecardRow]
    total: ScorecardFigures


class TrendPoint(ScorecardRow):
    period_start: date = Field(description="First day of the point's day, ISO week or month")


class Trend(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    period: Period
    from_: date = Field(alias="from", description="First day of the first period")
    to: date = Field(description="Last day of the last period, included")
    group_by: list[Dimension]
    points: list[TrendPoint]
