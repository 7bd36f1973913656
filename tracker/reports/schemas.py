"""Request and response shapes for reports."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tracker.reports.lifecycle import ReportState


class ReportsAdd(BaseModel):
    """Bulk intake: many URLs in one request."""

    model_config = ConfigDict(extra="forbid")

    urls: list[str] = Field(min_length=1, max_length=500)
    allow_partial: bool = Field(
        default=False,
        description="false: any rejected URL rejects the whole request (422, nothing written). "
        "true: valid URLs are created and rejected ones are listed with their reason.",
    )


class IntakeResult(BaseModel):
    index: int
    url: str
    outcome: Literal["created", "duplicate", "rejected"]
    report_id: int | None = None
    canonical_url: str | None = None
    platform: str | None = None
    reason: str | None = None
    reason_type: str | None = None


class IntakeAnswer(BaseModel):
    results: list[IntakeResult]
    created: int
    duplicates: int
    rejected: int


class ReportPublic(BaseModel):
    id: int
    case_id: int
    original_url: str
    canonical_url: str
    platform: str
    state: ReportState
    rung_index: int
    rung_target: str | None
    deadline_at: datetime | None
    is_overdue: bool
    next_check_at: datetime | None
    last_verdict: str | None
    last_checked_at: datetime | None
    consecutive_removed: int
    pause_reason: str | None = None
    paused_remaining_seconds: float | None = None
    created_at: datetime
    updated_at: datetime


class ReportPage(BaseModel):
    items: list[ReportPublic]
    total: int
    limit: int
    offset: int


class FilingAttemptPublic(BaseModel):
    started_at: datetime
    finished_at: datetime
    outcome: str
    http_status: int | None
    error: str | None


class FilingPublic(BaseModel):
    id: int
    report_id: int
    rung_index: int
    rung_target: str
    track: str = Field(description="ladder: the report's rung; parallel: e.g. search delisting")
    adapter: str
    channel_kind: str
    status: str
    platform_status: str | None
    external_ref: str | None
    deadline_at: datetime | None
    submitted_at: datetime | None
    confirmed_at: datetime | None
    attempt_count: int
    last_error: str | None
    channel_params: dict[str, Any] | None
    packet: dict[str, Any] | None
    created_at: datetime
    attempts: list[FilingAttemptPublic] = []


class CheckPublic(BaseModel):
    checked_at: datetime
    http_status: int | None
    final_url: str | None
    verdict: str
    reason: str
    fingerprint: str | None
    latency_ms: int | None
    error: str | None


class TransitionPublic(BaseModel):
    at: datetime
    from_state: str
    to_state: str
    rung_index: int
    cause: str
    actor: str


class LadderStep(BaseModel):
    """One rung of the report's ladder and where a filing there goes, and why."""

    rung_index: int
    target: str
    deadline: str
    legal_basis: str
    is_current: bool
    adapter: str
    channel_kind: str
    via: str = Field(description="platform: its own channel; intermediary; fallback: none known")
    channel: dict[str, Any]


class ReportDetail(ReportPublic):
    policy: dict[str, Any]
    ladder: list[LadderStep]
    filings: list[FilingPublic]
    checks: list[CheckPublic]
    transitions: list[TransitionPublic]


class RecheckAnswer(BaseModel):
    report_id: int
    next_check_at: datetime
