"""Request and response shapes for reports."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from platform_adapters.base import ChannelKind, Verdict
from tracker.filings.models import AttemptOutcome, FilingStatus, FilingTrack
from tracker.policies.schema import Policy
from tracker.reports.holds import HoldReason, hold_message
from tracker.reports.lifecycle import ReportState

#: The most URLs one intake takes (the API's ``urls``, the console's pasted and CSV lines).
MAX_URLS = 10_000


class ReportsAdd(BaseModel):
    """Bulk intake: many URLs in one request."""

    model_config = ConfigDict(extra="forbid")

    urls: list[str] = Field(
        min_length=1,
        max_length=MAX_URLS,
        description=f"At most {MAX_URLS:,} URLs. The request body may be at most "
        "TRACKER_INTAKE_BODY_LIMIT_BYTES (default 4 MiB: 10,000 URLs of up to about 400 "
        "characters each); a larger body is refused with 413.",
    )
    allow_partial: bool = Field(
        default=False,
        description="false: any rejected URL rejects the whole request (422, nothing written). "
        "true: valid URLs are created and rejected ones are listed with their reason.",
    )
    dry_run: bool = Field(
        default=False,
        description="true: answer what would happen, write nothing (no report, filing or "
        "audit event; created results have no report_id). The same checks run, so a dry run "
        "with allow_partial false and a rejected URL is the same 422.",
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
    duplicate_of: int | None = Field(
        default=None,
        description="For a duplicate within the request: the index of the earlier entry with "
        "the same canonical URL (a duplicate of a report already in the case has report_id).",
    )
    hold_reason: HoldReason | None = Field(
        default=None, description="Why nothing is filed for this URL's report yet, if held."
    )
    hold_message: str | None = Field(default=None, description="The hold reason in a sentence.")

    @model_validator(mode="after")
    def _explain_hold(self) -> "IntakeResult":
        if self.hold_reason is not None and self.hold_message is None:
            self.hold_message = hold_message(self.hold_reason)
        return self


class IntakeAnswer(BaseModel):
    results: list[IntakeResult]
    dry_run: bool = Field(
        default=False, description="true: nothing was written; the counts say what would be."
    )
    created: int
    duplicates: int
    rejected: int
    held: int = Field(default=0, description="Reports logged but not filed (see hold_reason).")
    hold_reason: HoldReason | None = Field(
        default=None, description="Why those reports are not filed, when one reason holds all."
    )
    hold_message: str | None = None

    @model_validator(mode="after")
    def _summarise_holds(self) -> "IntakeAnswer":
        held = [result.hold_reason for result in self.results if result.hold_reason is not None]
        self.held = len(held)
        if held and len(set(held)) == 1:
            self.hold_reason = held[0]
            self.hold_message = hold_message(held[0])
        return self


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
    last_verdict: Verdict | None
    last_checked_at: datetime | None
    consecutive_removed: int
    pause_reason: str | None = None
    paused_remaining_seconds: float | None = None
    hold_reason: HoldReason | None = Field(
        default=None,
        description="Why the report is not moving: no_authority_to_act (nothing is filed until "
        "the case has authority to act) or clock_paused.",
    )
    hold_message: str | None = Field(default=None, description="The hold reason in a sentence.")
    created_at: datetime
    updated_at: datetime

    @model_validator(mode="after")
    def _explain_hold(self) -> "ReportPublic":
        if self.hold_reason is None and self.state == ReportState.PAUSED:
            self.hold_reason = HoldReason.CLOCK_PAUSED
        if self.hold_reason is not None and self.hold_message is None:
            self.hold_message = hold_message(self.hold_reason, self.pause_reason)
        return self


class FilingAttemptPublic(BaseModel):
    started_at: datetime
    finished_at: datetime
    outcome: AttemptOutcome
    http_status: int | None
    error: str | None


class PacketField(BaseModel):
    """One form field, in the form's order, ready to paste."""

    name: str
    value: str
    hint: str | None = None


class WebformPacket(BaseModel):
    """What a caseworker needs to submit a web-form filing by hand."""

    platform: str
    rung_target: str
    form_url: str | None = Field(description="Where the form is; opened by the caseworker")
    policy_category: str
    fields: list[PacketField]
    statement_of_authority: str
    deadline: str
    reference: str = Field(description="Our reference for this filing")
    instructions: str
    category_path: list[str] | None = None
    after_submission: str | None = None
    reference_format: str | None = None
    notes: list[str] | None = None
    to_fill: list[str] | None = Field(
        default=None, description="Fields whose value the caseworker must supply"
    )
    source: str | None = None


class FilingPublic(BaseModel):
    id: int
    report_id: int
    rung_index: int
    rung_target: str
    track: FilingTrack = Field(
        description="ladder: the report's rung; parallel: e.g. search delisting"
    )
    adapter: str
    channel_kind: ChannelKind
    status: FilingStatus
    platform_status: str | None
    external_ref: str | None
    deadline_at: datetime | None
    submitted_at: datetime | None
    confirmed_at: datetime | None
    attempt_count: int
    last_error: str | None
    channel_params: dict[str, Any] | None
    packet: WebformPacket | None
    created_at: datetime
    attempts: list[FilingAttemptPublic] = []


class CheckPublic(BaseModel):
    checked_at: datetime
    http_status: int | None
    final_url: str | None
    verdict: Verdict
    reason: str
    fingerprint: str | None
    latency_ms: int | None
    error: str | None
    media_item_id: int | None = Field(
        default=None, description="Set on a check of one of the report's media, not its page"
    )
    matches: int = Field(default=0, description="How many bank hashes the content matched")


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
    channel_kind: ChannelKind
    via: str = Field(description="platform: its own channel; intermediary; fallback: none known")
    channel: dict[str, Any]


class ReportDetail(ReportPublic):
    policy: Policy
    ladder: list[LadderStep]
    filings: list[FilingPublic]
    checks: list[CheckPublic]
    transitions: list[TransitionPublic]


class Summary(BaseModel):
    """Aggregates only, for dashboards: no case data."""

    by_state: dict[str, int] = Field(description="Reports by lifecycle state")
    by_platform: dict[str, int] = Field(description="Reports by detected platform")
    overdue: int = Field(description="On the clock and past their deadline")
    due_within_6h: int = Field(description="On the clock with a deadline in the next 6 hours")
    total: int


class RecheckAnswer(BaseModel):
    report_id: int
    next_check_at: datetime
